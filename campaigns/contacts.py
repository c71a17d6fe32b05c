"""What each player has been sent: the per-player safety limits.

Two limits of the specification: at most N pushes per player per day (3 by default; a rolling
24 hours here, so a player is never sent six across a midnight), and at least an hour between
any two rule executions that reach the same player (a push, email or SMS), whichever rule.  A CRM
tag reaches no one: it neither waits for the hour nor starts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .rules import NOTIFICATION_CHANNELS, Channel, Limits

__all__ = ["Contact", "DAY_MS", "refusal", "record"]

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Contact:
    """One player's recent sends: push times (ms) within the last day, and the last execution."""

    pushes: tuple[int, ...] = ()
    last_ms: int | None = None

    def to_json(self) -> dict:
        return {"pushes": list(self.pushes), "last_ms": self.last_ms}

    @classmethod
    def from_json(cls, d: dict | None) -> "Contact":
        if not d:
            return cls()
        last = d.get("last_ms")
        return cls(tuple(int(t) for t in d.get("pushes", ())), None if last is None else int(last))


def refusal(contact: Contact, channels: Iterable[Channel], now_ms: int, limits: Limits) -> str | None:
    """Why this player may not be sent ``channels`` at ``now_ms`` (None: they may).  Candidates
    can come out of time order (several jackpots, several partitions), so the limits look both
    ways: no other execution within the cooldown before or after, no more than the push limit
    within a day of it."""
    channels = set(channels)
    if not channels & NOTIFICATION_CHANNELS:
        return None  # a CRM tag reaches no one
    if contact.last_ms is not None and abs(now_ms - contact.last_ms) < limits.player_cooldown_s * 1000:
        return "player_cooldown"
    if Channel.PUSH in channels:
        recent = sum(1 for t in contact.pushes if abs(now_ms - t) < DAY_MS)
        if recent >= limits.pushes_per_player_day:
            return "push_limit"
    return None


def record(contact: Contact, channels: Iterable[Channel], now_ms: int) -> Contact:
    """The player's contacts once sent ``channels`` at ``now_ms``.  Nothing changes unless a push,
    email or SMS went out; pushes more than a day older than the newest contact are dropped (never
    relative to one late candidate's time, which would forget pushes still in the day)."""
    channels = set(channels)
    if not channels & NOTIFICATION_CHANNELS:
        return contact
    pushes = list(contact.pushes) + ([now_ms] if Channel.PUSH in channels else [])
    newest = max([now_ms, contact.last_ms or now_ms, *pushes])
    last = now_ms if contact.last_ms is None else max(contact.last_ms, now_ms)
    return Contact(tuple(sorted(t for t in pushes if newest - t < DAY_MS)), last)
