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
        return cls(tuple(int(t) for t in d.get("pushes", ())), d.get("last_ms"))


def refusal(contact: Contact, channels: Iterable[Channel], now_ms: int, limits: Limits) -> str | None:
    """Why this player may not be sent ``channels`` now (None: they may)."""
    reaches = any(c in NOTIFICATION_CHANNELS for c in channels)
    if reaches and contact.last_ms is not None and now_ms - contact.last_ms < limits.player_cooldown_s * 1000:
        return "player_cooldown"
    if Channel.PUSH in channels:
        recent = sum(1 for t in contact.pushes if now_ms - t < DAY_MS)
        if recent >= limits.pushes_per_player_day:
            return "push_limit"
    return None


def record(contact: Contact, channels: Iterable[Channel], now_ms: int) -> Contact:
    """The player's contacts once sent ``channels`` at ``now_ms`` (pushes older than a day dropped)."""
    channels = set(channels)
    pushes = [t for t in contact.pushes if now_ms - t < DAY_MS]
    if Channel.PUSH in channels:
        pushes.append(now_ms)
    reached = bool(channels & NOTIFICATION_CHANNELS)
    return Contact(tuple(pushes), now_ms if reached else contact.last_ms)
