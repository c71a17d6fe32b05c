"""Who a fire can reach, and how fast a jackpot is being played: what the stages keep besides
the rules' own state.

- ``Audience``: the players active on one jackpot (a contribution within the active window), as
  the jackpot stage sees them through the ledger: an id and a brand.  Their profiles (segments,
  opt-out, consent) live with the player stage, which checks them (``admission``).
- ``Velocity``: contributions counted per fixed window, the input of velocity triggers.
- ``member_of``: a PlayerProfile record as the player stage's view of the player.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .plan import Member
from .rules import NOTIFICATION_CHANNELS, Channel

__all__ = ["Audience", "Velocity", "member_of"]


@dataclass
class Audience:
    """player id -> (time of the last contribution, brand)."""

    players: dict[str, tuple[int, str | None]] = field(default_factory=dict)

    def seen(self, player_id: str, brand: str | None, at_ms: int) -> None:
        last = self.players.get(player_id)
        if last is None or at_ms >= last[0]:
            self.players[player_id] = (at_ms, brand)

    def active(self, now_ms: int, window_ms: int) -> list[Member]:
        """The players with a contribution in the window before ``now_ms`` (the event's time)."""
        return [Member(pid, brand, known=False) for pid, (at, brand) in sorted(self.players.items())
                if now_ms - window_ms <= at <= now_ms + window_ms]

    def prune(self, now_ms: int, window_ms: int) -> None:
        """Forget players idle for two windows (an event read a little late still finds them)."""
        self.players = {p: v for p, v in self.players.items() if v[0] >= now_ms - 2 * window_ms}

    def to_json(self) -> dict:
        return {p: [at, brand] for p, (at, brand) in self.players.items()}

    @classmethod
    def from_json(cls, d: dict | None) -> "Audience":
        return cls({p: (int(v[0]), v[1]) for p, v in (d or {}).items()})


@dataclass
class Velocity:
    """Contributions counted per window of ``window_ms`` aligned on the epoch; ``count`` returns
    each window it closes as (window end, count of the window before it, its own count)."""

    start: int | None = None
    before: int | None = None
    now: int = 0

    def count(self, at_ms: int, window_ms: int, n: int = 1) -> list[tuple[int, int | None, int]]:
        w = at_ms - at_ms % window_ms
        if self.start is None:
            self.start = w
        closed: list[tuple[int, int | None, int]] = []
        if w > self.start:  # a window ended: its count against the one before it
            closed.append((self.start + window_ms, self.before, self.now))
            self.before, self.now = self.now, 0
            if w > self.start + window_ms:  # whole windows without a contribution in between
                closed.append((w, self.before, 0))
                self.before = 0
            self.start = w
        if w == self.start:  # a contribution of a window already closed (read late) is not counted
            self.now += n
        return closed

    def to_json(self) -> dict:
        return {"start": self.start, "before": self.before, "now": self.now}

    @classmethod
    def from_json(cls, d: dict | None) -> "Velocity":
        d = d or {}
        return cls(d.get("start"), d.get("before"), int(d.get("now", 0)))


def member_of(profile: dict[str, Any]) -> Member:
    """A PlayerProfile (v3 carries marketing consent) as campaigns see the player: an excluded or
    self-excluded player is never marketed to, whatever else the profile says."""
    consent = frozenset(Channel(c) for c in profile.get("consent") or () if c in {ch.value for ch in NOTIFICATION_CHANNELS})
    opted_out = bool(profile.get("marketing_opt_out") or profile.get("excluded") or profile.get("self_excluded"))
    return Member(str(profile["player_id"]), profile.get("brand_id"), frozenset(profile.get("segments") or ()),
                  opted_out, consent)
