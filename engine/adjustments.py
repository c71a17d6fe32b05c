"""Typed manual adjustments: the only way besides a win for a pool amount to change by hand.

Regulatory item 5: the amount only goes down through a win, or through a documented adjustment
with a reason code and an actor (correction of a malfunction, a limit, or a transfer). Every
adjustment here needs both, is refused if it would take the displayed amount below the cycle's
reset amount (item 4) or the pool above win_max, is refused on a locked or unstarted pool, and
is refused altogether when the compliance profile prohibits manual adjustments. Transfers move
money between two pools of the same jackpot and currency atomically (no cross-currency pooling).
"""

from __future__ import annotations

from enum import StrEnum

from .compiled import CompiledJackpot
from .config import OperatorAction
from .contribution import check_thresholds, pool_updated_event
from .errors import AdjustmentRejected, LimitBelowCurrent
from .events import POOL_ADJUSTED, EngineEvent, make_event
from .pool import JackpotState, PoolState

__all__ = [
    "AdjustmentReason",
    "DECREASE_REASONS",
    "INCREASE_REASONS",
    "adjust",
    "transfer",
    "check_limits",
]


class AdjustmentReason(StrEnum):
    MALFUNCTION_CORRECTION = "MALFUNCTION_CORRECTION"
    LIMIT = "LIMIT"
    TRANSFER = "TRANSFER"
    VOID_WIN = "VOID_WIN"  # a voided win returns to the pool
    OPERATOR_FUNDING = "OPERATOR_FUNDING"


DECREASE_REASONS = frozenset({AdjustmentReason.MALFUNCTION_CORRECTION, AdjustmentReason.LIMIT, AdjustmentReason.TRANSFER})
INCREASE_REASONS = frozenset(
    {
        AdjustmentReason.MALFUNCTION_CORRECTION,
        AdjustmentReason.TRANSFER,
        AdjustmentReason.VOID_WIN,
        AdjustmentReason.OPERATOR_FUNDING,
    }
)


def _check(cj: CompiledJackpot, state: JackpotState, level_id: str, currency: str, delta: int, reason: str, actor: str) -> PoolState:
    if OperatorAction.MANUAL_ADJUST.value in cj.prohibited_actions:
        raise AdjustmentRejected("the compliance profile prohibits manual adjustments")
    if not actor:
        raise AdjustmentRejected("an adjustment needs an actor")
    try:
        r = AdjustmentReason(reason)
    except ValueError:
        codes = ", ".join(a.value for a in AdjustmentReason)
        raise AdjustmentRejected(f"unknown reason code {reason!r}; use one of {codes}") from None
    if type(delta) is not int or delta == 0:
        raise AdjustmentRejected(f"adjustment must be a non-zero int of micros, got {delta!r}")
    if delta < 0 and r not in DECREASE_REASONS:
        raise AdjustmentRejected(f"{r.value} cannot reduce a pool; reductions are MALFUNCTION_CORRECTION, LIMIT or TRANSFER")
    if delta > 0 and r not in INCREASE_REASONS:
        raise AdjustmentRejected(f"{r.value} cannot increase a pool")
    cl = cj.level(level_id)
    pool = state.pool(cl.level_id, currency)
    where = f"pool {cl.name}/{currency}"
    if pool.cycle == 0 or pool.closed:
        raise AdjustmentRejected(f"{where} has no running cycle")
    if pool.locked:
        raise AdjustmentRejected(f"{where} is locked for a drop")
    if delta < 0 and pool.visible + delta < pool.seed_amount:
        raise AdjustmentRejected(
            f"{where}: removing {-delta} micros would take the amount to {pool.visible + delta}, "
            f"below its reset amount {pool.seed_amount}"
        )
    win_max = cl.limits[currency].win_max
    if delta > 0 and pool.visible + pool.hidden + delta > win_max:
        raise AdjustmentRejected(
            f"{where}: adding {delta} micros would take the pool to {pool.visible + pool.hidden + delta}, "
            f"above win_max {win_max}"
        )
    return pool


def _apply(cj: CompiledJackpot, pool: PoolState, delta: int, reason: str, actor: str, note: str, cause: str, now: int) -> list[EngineEvent]:
    pool.visible += delta
    if delta > 0:
        pool.meters.adj_in += delta
    else:
        pool.meters.adj_out -= delta
    events = [
        make_event(
            POOL_ADJUSTED,
            cj.jackpot_id,
            cause,
            now,
            {
                "amount": delta,
                "reason": reason,
                "actor": actor,
                "note": note,
                "visible_amount": pool.visible,
                "cycle_number": pool.cycle,
            },
            level_id=pool.level_id,
            currency=pool.currency,
        )
    ]
    cl = cj.level(pool.level_id)
    check_thresholds(cj, cl, pool, cause, now, events)
    events.append(pool_updated_event(cj, pool, cause, now))
    return events


def adjust(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    delta: int,
    *,
    reason: str,
    actor: str,
    note: str = "",
    cause_id: str,
    now: int,
) -> list[EngineEvent]:
    """Add (delta > 0) or remove (delta < 0) micros from a pool's displayed amount."""
    pool = _check(cj, state, level_id, currency, delta, reason, actor)
    return _apply(cj, pool, delta, AdjustmentReason(reason).value, actor, note, cause_id, now)


def transfer(
    cj: CompiledJackpot,
    state: JackpotState,
    from_level: str,
    to_level: str,
    currency: str,
    amount: int,
    *,
    actor: str,
    note: str = "",
    cause_id: str,
    now: int,
) -> list[EngineEvent]:
    """Move ``amount`` micros between two pools of one currency; both checks pass or nothing moves."""
    if str(from_level) == str(to_level):
        raise AdjustmentRejected("a transfer needs two different levels")
    if type(amount) is not int or amount <= 0:
        raise AdjustmentRejected(f"transfer amount must be a positive int of micros, got {amount!r}")
    src = _check(cj, state, from_level, currency, -amount, AdjustmentReason.TRANSFER, actor)
    dst = _check(cj, state, to_level, currency, amount, AdjustmentReason.TRANSFER, actor)
    events = _apply(cj, src, -amount, AdjustmentReason.TRANSFER.value, actor, note, f"{cause_id}|out", now)
    events += _apply(cj, dst, amount, AdjustmentReason.TRANSFER.value, actor, note, f"{cause_id}|in", now)
    return events


def check_limits(cj: CompiledJackpot, state: JackpotState) -> None:
    """Refuse a (new) config whose win_max is below a pool's current amount (WAC 230-15-685(4))."""
    bad = []
    for cl in cj.levels:
        for currency in cj.currencies:
            pool = state.pools.get(currency, {}).get(cl.level_id)
            if pool is None or pool.closed:
                continue
            lim = cl.limits[currency]
            if pool.visible + pool.hidden > lim.win_max:
                bad.append(f"{cl.name}/{currency}: win_max {lim.win_max} < current amount {pool.visible + pool.hidden}")
    if bad:
        raise LimitBelowCurrent("a new limit may not be set below the current amount: " + "; ".join(bad))
