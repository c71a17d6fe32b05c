"""Variable ticker smoothing (anti-prediction): what a player sees lags the pool by a random
200-800 ms per update and moves in rounded steps, so watching micro-movements cannot reveal the
pool's velocity.  The randomness is the gateway's own: it hides nothing secret."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

MICROS = Decimal("0.000001")


@dataclass(frozen=True)
class Smoothing:
    lag_min_ms: int = 200
    lag_max_ms: int = 800
    round_to: Decimal = Decimal("0.01")
    enabled: bool = True

    @classmethod
    def from_config(cls, ticker: dict | None, enabled: bool = True) -> "Smoothing":
        t = ticker or {}
        return cls(int(t.get("lag_min_ms", 200)), int(t.get("lag_max_ms", 800)),
                   Decimal(str(t.get("round_to", "0.01"))), enabled)

    def lag_s(self, rng: random.Random) -> float:
        if not self.enabled or self.lag_max_ms <= 0:
            return 0.0
        return rng.uniform(self.lag_min_ms, self.lag_max_ms) / 1000.0

    def display(self, amount: str) -> str:
        """The amount rounded down to ``round_to`` (never up: a ticker must not show money the
        pool does not hold)."""
        if not self.enabled or self.round_to <= 0:
            return amount
        steps = (Decimal(amount) / self.round_to).to_integral_value(rounding=ROUND_FLOOR)
        q = self.round_to if self.round_to < 1 else Decimal(1)
        return str((steps * self.round_to).quantize(q))


OFF = Smoothing(0, 0, Decimal(0), enabled=False)
