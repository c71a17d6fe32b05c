"""Warn states: the narrative Calm -> Heating -> On Fire -> Must Drop, and ticker smoothing data.

Every threshold is drawn per cycle from the cycle's secret seed, so the animation gives a range,
never the target (anti-prediction "randomized warn thresholds"):

- Heating   the pool passed the cycle's warn threshold (uniform in warn_from..warn_to of the
            target); also publishes the spec's WarnThresholdReached (configured range only).
- On Fire   the pool passed the cycle's fire threshold (uniform between the warn threshold and
            the target), so "it could happen any second" without marking the target itself.
- Must Drop must-drop levels from 90% of Win Max (where the condition relaxation starts), and
            must-drop or time-drop levels within ``must_drop_warn_minutes`` of their deadline.

States only move up within a cycle (a reseed starts Calm again); each state entered publishes
WarnStateChanged (old and new state) for the gateway and the campaign engine (Heating -> push,
On Fire -> lobby banner, Must Drop -> homepage takeover).
"""

from __future__ import annotations

from typing import Any

from .compiled import CompiledJackpot, CompiledLevel
from .config import DropMode
from .events import WARN_STATE_CHANGED, EngineEvent, make_event
from .money import to_micros
from .pool import FLAG_MUST_DROP, FLAG_ON_FIRE, FLAG_WARNED, PoolState

__all__ = [
    "CALM",
    "HEATING",
    "ON_FIRE",
    "MUST_DROP",
    "WARN_STATES",
    "warn_state",
    "advance",
    "enter_must_drop",
    "ticker_smoothing",
]

CALM = "calm"
HEATING = "heating"
ON_FIRE = "on_fire"
MUST_DROP = "must_drop"
WARN_STATES = (CALM, HEATING, ON_FIRE, MUST_DROP)

_MUST = DropMode.MUST_DROP.value


def warn_state(flags: int) -> str:
    if flags & FLAG_MUST_DROP:
        return MUST_DROP
    if flags & FLAG_ON_FIRE:
        return ON_FIRE
    if flags & FLAG_WARNED:
        return HEATING
    return CALM


def _changed(cj: CompiledJackpot, pool: PoolState, old: str, new: str, cause: str, now: int) -> EngineEvent:
    return make_event(
        WARN_STATE_CHANGED,
        cj.jackpot_id,
        f"{cause}|c{pool.cycle}|{new}",
        now,
        {
            "old_state": old,
            "new_state": new,
            "current_amount": pool.visible + pool.hidden,
            "visible_amount": pool.visible,  # what the tickers show (campaign thresholds compare this)
            "cycle_number": pool.cycle,
        },
        level_id=pool.level_id,
        currency=pool.currency,
    )


def _publish(cj: CompiledJackpot, pool: PoolState, before: int, cause: str, now: int, events: list[EngineEvent]) -> None:
    """One WarnStateChanged per state entered, in order, from the flags before to the flags now."""
    old = warn_state(before)
    new = warn_state(pool.flags)
    if old == new:
        return
    i, j = WARN_STATES.index(old), WARN_STATES.index(new)
    for k in range(i + 1, j + 1):
        events.append(_changed(cj, pool, WARN_STATES[k - 1], WARN_STATES[k], cause, now))


def advance(
    cj: CompiledJackpot, cl: CompiledLevel, pool: PoolState, before: int, cause: str, now: int, events: list[EngineEvent]
) -> None:
    """After an amount change: raise On Fire / Must Drop (by amount) and publish the state changes.

    ``before`` is the pool's flags before the caller's own threshold checks (Heating is set by
    ``contribution.check_thresholds`` with its WarnThresholdReached)."""
    cur = pool.visible + pool.hidden
    if pool.fire_threshold and cur >= pool.fire_threshold:
        pool.flags |= FLAG_ON_FIRE
    if cj.drop_mode == _MUST and cur >= cl.limits[pool.currency].relax_at[0]:
        pool.flags |= FLAG_MUST_DROP
    _publish(cj, pool, before, cause, now, events)


def enter_must_drop(cj: CompiledJackpot, pool: PoolState, cause: str, now: int, events: list[EngineEvent]) -> None:
    """Must Drop by time (a deadline is near): called by the clock tick."""
    if pool.flags & FLAG_MUST_DROP:
        return
    before = pool.flags
    pool.flags |= FLAG_MUST_DROP
    _publish(cj, pool, before, cause, now, events)


def ticker_smoothing(cj: CompiledJackpot) -> dict[str, Any]:
    """The visible-ticker smoothing the gateway applies: a display lag drawn per update in
    [lag_min_ms, lag_max_ms] (the gateway's own randomness: it hides nothing secret) and
    increments rounded down to ``round_to`` micros, so micro-movements do not reveal velocity."""
    t = cj.config.ticker
    return {"lag_min_ms": t.lag_min_ms, "lag_max_ms": t.lag_max_ms, "round_to": to_micros(t.round_to)}
