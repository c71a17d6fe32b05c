"""Exact money: integer micros, exact rates, and the one rounding rule.

Every amount inside the engine is an ``int`` of *micros*: 10^-6 of the currency unit
(EUR 2.00 == 2_000_000). Floats never carry money. Decimals appear only at the edges
(config, Avro, SQL) and are converted here, exactly or not at all.

Rates (contribution rate, house cut, splits, coefficients, hidden rate) are exact
``Decimal`` values in config. They are compiled once into exact rationals (numerator,
denominator) so that the per-bet path is integer arithmetic only.

Rounding rule (the only one; every step is deterministic and conserves to the micro):

1. gross   = floor(bet x contribution_rate x game_coefficient)          (rounded down)
2. net     = floor(gross x (1 - house_cut));  house_cut = gross - net   (sub-micro to the house)
3. split   : net and house_cut are each split across the levels by *largest remainder*:
             every level first gets floor(total x weight / sum_of_weights); the few micros
             left over go one each to the levels with the largest fractional remainders,
             ties broken by display_order (1 = top level first). Parts always sum to the whole.
             A level's gross is its net part plus its house-cut part.
4. hidden  = floor(level_net x hidden_rate); visible = level_net - hidden.
5. Amounts above a level's win_max are overflow, routed whole (never dropped).
6. integer_wins_only: prizes are rounded down to a whole unit; the fraction stays in the
   level's reserve and funds the next seed.

Display rounding (tickers, reports) is separate and never feeds back into the pools:
``display()`` rounds half-up to the requested number of places.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Sequence

SCALE = 6
MICROS_PER_UNIT = 10**SCALE
_QUANTUM = Decimal(1).scaleb(-SCALE)

__all__ = [
    "SCALE",
    "MICROS_PER_UNIT",
    "to_micros",
    "from_micros",
    "micros_to_str",
    "display",
    "exact_fraction",
    "ratio",
    "allocate",
    "floor_to_unit",
    "ceil_to_unit",
]


def exact_fraction(value: Decimal | int | str) -> Fraction:
    """The exact rational value of a Decimal, int or decimal string; floats are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"exact value required, got {type(value).__name__} {value!r}")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return Fraction(value)
    if isinstance(value, int):
        return Fraction(value)
    raise TypeError(f"exact value required, got {type(value).__name__} {value!r}")


def to_micros(value: Decimal | int | str) -> int:
    """Convert currency units to micros exactly; more than 6 decimal places is an error.

    ``to_micros(Decimal("2.00")) == 2_000_000``. Ints are whole currency units.
    """
    f = exact_fraction(value) * MICROS_PER_UNIT
    if f.denominator != 1:
        raise ValueError(f"{value} has more than {SCALE} decimal places (finer than a micro)")
    return f.numerator


def from_micros(micros: int) -> Decimal:
    """Micros to a Decimal with exactly 6 places: ``from_micros(36000) == Decimal("0.036000")``."""
    if isinstance(micros, bool) or not isinstance(micros, int):
        raise TypeError(f"micros must be int, got {type(micros).__name__}")
    return Decimal(f"{micros}E-{SCALE}")


def micros_to_str(micros: int) -> str:
    """Plain fixed-point string with 6 places, e.g. ``"0.036000"`` (for Avro/SQL/JSON edges)."""
    return format(from_micros(micros), "f")


def display(micros: int, places: int = 2) -> Decimal:
    """Round for display only (half-up), e.g. 3750 micros at 4 places -> Decimal('0.0038')."""
    return from_micros(micros).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def ratio(value: Decimal | int | str) -> tuple[int, int]:
    """An exact rate as (numerator, denominator) in lowest terms, for integer-only hot paths."""
    f = exact_fraction(value)
    return f.numerator, f.denominator


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` micros by integer ``weights`` with the largest-remainder method.

    Parts sum exactly to ``total``. Leftover micros go to the largest remainders; ties go
    to the earlier position (callers pass levels in display_order, so the top level wins
    ties). Zero weights get zero. Deterministic.
    """
    wsum = sum(weights)
    if wsum <= 0:
        raise ValueError("weights must have a positive sum")
    if total < 0:
        raise ValueError("total must be non-negative")
    parts = []
    rems = []
    acc = 0
    for w in weights:
        q, r = divmod(total * w, wsum)
        parts.append(q)
        rems.append(r)
        acc += q
    left = total - acc
    if left:
        order = sorted(range(len(weights)), key=lambda i: (-rems[i], i))
        for i in order[:left]:
            parts[i] += 1
    return parts


def floor_to_unit(micros: int) -> int:
    """Round down to a whole currency unit (for integer_wins_only)."""
    return micros - micros % MICROS_PER_UNIT


def ceil_to_unit(micros: int) -> int:
    """Round up to a whole currency unit."""
    return -((-micros) // MICROS_PER_UNIT) * MICROS_PER_UNIT
