"""All six detectors behind one interface, with one alert per pattern and subject per cooldown.

The stream process feeds it in each key's order; what it returns is what to publish as
``FraudAlert`` events.  Flags only: nothing here changes a jackpot or a player.
"""

from __future__ import annotations

from dataclasses import replace

from .alerts import FraudAlert
from .detectors import BotPlay, Collusion, ContributionManipulation, MultiAccounting, VelocitySpike, WinFrequency
from .signals import BetSeen, SessionSeen, WinSeen
from .thresholds import MINUTE_MS, Thresholds

PRUNE_EVERY_MS = MINUTE_MS


class FraudEngine:
    def __init__(self, thresholds: Thresholds | None = None) -> None:
        t = self.thresholds = thresholds or Thresholds()
        self.multi = MultiAccounting(t)
        self.bots = BotPlay(t)
        self.collusion = Collusion(t)
        self.manipulation = ContributionManipulation(t)
        self.wins = WinFrequency(t)
        self.velocity = VelocitySpike(t)
        self._last: dict[tuple[str, str], int] = {}  # (pattern, subject) -> time of its last alert
        self._now = 0  # the latest signal time seen
        self._pruned = 0

    def on_session(self, s: SessionSeen) -> list[FraudAlert]:
        self._tick(s.at_ms)
        self.multi.on_session(s)
        return []

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        self._tick(b.at_ms)
        self.wins.on_bet(b)
        return self._fresh([*self.multi.on_bet(b), *self.bots.on_bet(b), *self.collusion.on_bet(b),
                            *self.manipulation.on_bet(b), *self.velocity.on_bet(b)])

    def on_win(self, w: WinSeen) -> list[FraudAlert]:
        self._tick(w.at_ms)
        return self._fresh(self.wins.on_win(w))

    def _tick(self, at_ms: int) -> None:
        """Sweep idle state once a minute of signal time: memory follows the active keys."""
        self._now = max(self._now, at_ms)
        if self._now - self._pruned < PRUNE_EVERY_MS:
            return
        self._pruned = self._now
        for detector in (self.multi, self.bots, self.collusion, self.manipulation, self.wins, self.velocity):
            detector.prune(self._now)
        idle = self._now - self.thresholds.cooldown_ms
        for key in [k for k, at in self._last.items() if at < idle]:
            del self._last[key]

    def size(self) -> int:
        """Keys held across the detectors (for the memory bound's tests and metrics)."""
        return (len(self.multi.sessions) + len(self.multi.seen) + len(self.bots.times) + len(self.collusion.bets)
                + len(self.manipulation.minimal) + len(self.wins.days) + len(self.velocity.paces) + len(self._last))

    def _fresh(self, alerts: list[FraudAlert]) -> list[FraudAlert]:
        out = []
        for a in alerts:
            key = (a.pattern.value, a.subject)
            last = self._last.get(key)
            if last is not None and a.at_ms - last < self.thresholds.cooldown_ms:
                continue
            self._last[key] = a.at_ms
            out.append(replace(a, bucket_ms=self.thresholds.cooldown_ms))
        return out
