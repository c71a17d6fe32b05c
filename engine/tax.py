"""Withholding on prizes (payout step 4): net payout = win amount - tax.

Schedules live in the compliance profile (``ComplianceProfile.withholding``), per winner
jurisdiction and currency; a schedule without a jurisdiction covers every winner the specific
ones do not. Brackets are marginal: each rate applies to the part of the prize above its
``above`` amount and below the next bracket's. The exact tax is rounded down to the micro
(the only rounding, in the player's favour). No schedule: no withholding.
"""

from __future__ import annotations

from fractions import Fraction

from .compiled import CompiledJackpot
from .config import Withholding
from .money import exact_fraction, to_micros

__all__ = ["schedule_for", "withholding"]


def schedule_for(cj: CompiledJackpot, jurisdiction: str, currency: str) -> Withholding | None:
    general = None
    for w in cj.config.compliance_profile.withholding:
        if w.currency != currency:
            continue
        if w.jurisdiction is not None and w.jurisdiction == jurisdiction:
            return w
        if w.jurisdiction is None and general is None:
            general = w
    return general


def withholding(cj: CompiledJackpot, jurisdiction: str, currency: str, amount: int) -> int:
    """Tax withheld from a prize of ``amount`` micros for a winner in ``jurisdiction``."""
    sched = schedule_for(cj, jurisdiction, currency)
    if sched is None or amount <= 0:
        return 0
    lows = [to_micros(b.above) for b in sched.brackets]
    tax = Fraction(0)
    for i, b in enumerate(sched.brackets):
        lo = lows[i]
        if amount <= lo:
            break
        hi = lows[i + 1] if i + 1 < len(lows) else amount
        tax += exact_fraction(b.rate) * (min(amount, hi) - lo)
    return min(amount, tax.numerator // tax.denominator)
