"""Cross-currency pooling of network jackpots (config ``network``): a bet in another currency
feeds the pool currency at the configured rate, converted exactly and rounded down to the micro
(the player's bet is never rounded up into more contribution than it was worth)."""

from __future__ import annotations

from .compiled import CompiledJackpot

__all__ = ["to_pool_currency", "accepts_currency"]


def accepts_currency(cj: CompiledJackpot, currency: str) -> bool:
    return currency in cj.currencies or currency in cj.network_rates


def to_pool_currency(cj: CompiledJackpot, currency: str, amount: int) -> tuple[str, int, str | None]:
    """A bet amount (int micros of ``currency``) in the jackpot's pool currency; a currency with
    no rate is returned as it is (the contribution pipeline then decides whether it is supported)."""
    rate = cj.network_rates.get(currency)
    if rate is None:
        return currency, amount, None
    num, den = rate
    return cj.currencies[0], amount * num // den, str(cj.config.network.rates[currency])  # type: ignore[union-attr]
