"""Reversing a win that was already paid (issue: "a paid win cannot be voided or reversed").

Voiding (payout.py) is for a prize not paid yet. Once the wallet confirmed it, the money is the
player's: only the operator's wallet can take it back (a debit, after a dispute, fraud or a
malfunction the regulator accepted). When it has, two Admins record the reversal here (four
eyes, with the wallet's reference in the reason) and the engine puts the amount back where it
came from: into the displayed amount of the level's pool up to Win Max, the rest into its
reserve for the next reset, and off the ``won`` meter (the win is undone, not a new inflow,
so the P&L does not count it as operator money). A win is reversed once: the jackpot keeps the
ids of the wins it reversed (the last ``KEEP``).
"""

from __future__ import annotations

from .compiled import CompiledJackpot
from .contribution import check_thresholds, pool_updated_event
from .errors import DropRejected
from .events import WIN_REVERSED, EngineEvent, make_event
from .pool import JackpotState

__all__ = ["reverse_win", "KEEP"]

KEEP = 1000


def reverse_win(cj: CompiledJackpot, state: JackpotState, *, win_id: str, level_id: str, currency: str, amount: int,
                actor: str, approvals: tuple[str, ...], reason: str, cause_id: str, now: int) -> list[EngineEvent]:
    if not any(a and a != actor for a in approvals):
        raise DropRejected("reversing a paid win needs a second Admin's co-approval")
    if not reason:
        raise DropRejected("reversing a paid win needs a reason (and the wallet's reference of the debit)")
    if state.status in ("DRAFT", "ARCHIVED") or state.closing:
        raise DropRejected(f"the jackpot is {'being decommissioned' if state.closing else state.status}: "
                           "a reversed win has no pool to go back to")
    if win_id in state.wins:
        raise DropRejected(f"win {win_id} is still being paid: void it instead")
    if win_id in state.reversed:
        raise DropRejected(f"win {win_id} was already reversed")
    if type(amount) is not int or amount <= 0:
        raise DropRejected(f"a reversal needs a positive amount, got {amount!r}")
    cl = cj.level(level_id)
    pool = state.pool(cl.level_id, currency)
    if amount > pool.meters.won:
        raise DropRejected(f"{amount} micros is more than level '{cl.name}' {currency} ever paid ({pool.meters.won})")
    room = 0 if pool.locked or pool.closed else max(0, cl.limits[currency].win_max - pool.visible - pool.hidden)
    shown = min(amount, room)
    pool.visible += shown
    pool.carry += amount - shown
    pool.meters.won -= amount
    state.reversed.append(win_id)
    del state.reversed[:-KEEP]
    events = [make_event(WIN_REVERSED, cj.jackpot_id, cause_id, now, {
        "win_id": win_id, "amount": amount, "to_display": shown, "to_reserve": amount - shown, "actor": actor,
        "approvals": list(approvals), "reason": reason, "cycle_number": pool.cycle, "visible_amount": pool.visible,
    }, level_id=cl.level_id, currency=currency)]
    check_thresholds(cj, cl, pool, cause_id, now, events)
    events.append(pool_updated_event(cj, pool, cause_id, now))
    return events
