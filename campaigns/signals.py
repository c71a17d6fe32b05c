"""The engine's events, read as campaign signals.

A signal is what a trigger looks at: its kind, the jackpot (and level and currency) it is about,
the amount (integer micros), the warn or lifecycle state, a count.  The engine's public records
carry money as Avro decimals and its generic envelope as integer micros; both become micros here.
Deadline and velocity signals are derived by the campaigns agent itself (from clock ticks and its
windowed contribution counts), so they have constructors of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from jackpot.engine.money import to_micros

__all__ = ["Signal", "from_event", "deadline_signal", "velocity_signal"]

# engine event type -> signal kind
_KINDS = {
    "WarnStateChanged": "warn_state",
    "PoolUpdated": "pool",
    "JackpotWon": "jackpot_won",
    "JackpotReseeded": "jackpot_reseeded",
    "JackpotStateChanged": "lifecycle",
    "ActivePlayers": "player_count",
}


@dataclass(frozen=True, slots=True)
class Signal:
    kind: str
    event_id: str  # the cause: a fire's id derives from it, so a replayed event fires the same id
    jackpot_id: str
    at_ms: int
    level_id: str | None = None
    currency: str | None = None
    amount: int | None = None  # micros: the pool's amount, a win's amount or a new seed
    state: str | None = None  # warn state or lifecycle state entered
    count: int | None = None  # active players
    left_ms: int | None = None  # time left before a must-drop deadline
    rate_before: int | None = None  # velocity: contributions in the window before ...
    rate_now: int | None = None  # ... and in the window just ended
    brand: str | None = None  # the winner's brand, for a win


def _micros(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("an amount cannot be a boolean")
    if isinstance(value, int):
        return value  # the engine's envelope: integer micros already
    if isinstance(value, (Decimal, str)):
        return to_micros(value)
    raise TypeError(f"an amount must be integer micros or a decimal, not {type(value).__name__}")


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a naive timestamp has no instant: records carry UTC times")
        return int(value.timestamp() * 1000)
    return int(value)


def from_event(event_type: str, record: dict[str, Any]) -> Signal | None:
    """The signal of one engine event (a public record or the envelope's payload with its
    ``event_id``, ``jackpot_id`` and ``timestamp``); None for events no trigger looks at."""
    kind = _KINDS.get(event_type)
    if kind is None:
        return None
    # the visible pool (what players see), never the hidden part: a threshold campaign must not
    # fire while the ticker shows less, nor reveal the hidden increment by its timing
    amount = {"pool": "visible_amount", "warn_state": "visible_amount", "jackpot_won": "win_amount",
              "jackpot_reseeded": "new_seed_amount"}.get(kind)
    return Signal(
        kind=kind,
        event_id=str(record["event_id"]),
        jackpot_id=str(record["jackpot_id"]),
        at_ms=_ms(record["timestamp"]),
        level_id=record.get("level_id"),
        currency=record["currency"].upper() if record.get("currency") else None,
        amount=_micros(record.get(amount)) if amount else None,
        state=record.get("new_state") if kind in ("warn_state", "lifecycle") else None,
        count=int(record["total"]) if kind == "player_count" else None,
        brand=record.get("winner_brand_id") if kind == "jackpot_won" else None,
    )


def deadline_signal(jackpot_id: str, level_id: str, deadline_ms: int, now_ms: int) -> Signal:
    """The time left before a level's must-drop deadline, as of a clock tick at ``now_ms``.  Its
    cause is the deadline itself: one fire per deadline, however many ticks cross it again."""
    return Signal("deadline", f"deadline|{jackpot_id}|{level_id}|{deadline_ms}", jackpot_id, now_ms,
                  level_id=level_id, left_ms=max(0, deadline_ms - now_ms))


def velocity_signal(jackpot_id: str, window_end_ms: int, before: int, now: int) -> Signal | None:
    """Contributions counted over the window ending at ``window_end_ms`` against the window before
    it; None when the window before had none (no rate to compare with)."""
    if before <= 0:
        return None
    return Signal("velocity", f"velocity|{jackpot_id}|{window_end_ms}", jackpot_id, window_end_ms,
                  rate_before=before, rate_now=now)
