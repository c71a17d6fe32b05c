"""All six detectors behind one interface, with one alert per pattern and subject per cooldown.

The stream process feeds it in each key's order; what it returns is what to publish as
``FraudAlert`` events.  Flags only: nothing here changes a jackpot or a player.
"""

from __future__ import annotations

from .alerts import FraudAlert
from .detectors import BotPlay, Collusion, ContributionManipulation, MultiAccounting, VelocitySpike, WinFrequency
from .signals import BetSeen, SessionSeen, WinSeen
from .thresholds import Thresholds


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

    def on_session(self, s: SessionSeen) -> list[FraudAlert]:
        self.multi.on_session(s)
        return []

    def on_bet(self, b: BetSeen) -> list[FraudAlert]:
        self.wins.on_bet(b)
        return self._fresh([*self.multi.on_bet(b), *self.bots.on_bet(b), *self.collusion.on_bet(b),
                            *self.manipulation.on_bet(b), *self.velocity.on_bet(b)])

    def on_win(self, w: WinSeen) -> list[FraudAlert]:
        return self._fresh(self.wins.on_win(w))

    def _fresh(self, alerts: list[FraudAlert]) -> list[FraudAlert]:
        out = []
        for a in alerts:
            key = (a.pattern.value, a.subject)
            last = self._last.get(key)
            if last is not None and a.at_ms - last < self.thresholds.cooldown_ms:
                continue
            self._last[key] = a.at_ms
            out.append(a)
        return out
