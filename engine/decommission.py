"""Decommissioning (regulatory-requirements.md item 9): a jackpot that holds players' money is
never simply cancelled; it ends by a forced drop of everything it holds, then archives itself.

``begin`` (the operator's ``decommission`` command) marks the jackpot closing: from then on it
takes no contribution and starts no ordinary drop. ``step`` (every clock tick while closing)
does the rest from state alone, so a crash at any point resumes where it was:

1. each pool with a balance and no drop in progress gets its whole reserve (hidden increment,
   carried reserve, held contributions) moved into the displayed amount, recorded by a
   ``ReserveReleased`` event and the ``released`` meter, and drops that exact amount (no
   integer rounding, no reseed) to an eligible player, else the most recently active one;
2. a pool that never took a player's money and has nobody to award returns its seed to the
   operator (a ``PoolAdjusted`` with reason ``DECOMMISSION_RETURN``); one whose money has nobody
   to go to waits (a ``DropDeferred`` once) and is retried on the next tick (an operator may move
   it with a transfer meanwhile);
3. a win that is declined, voided or partly unpaid leaves money in the pool: the next tick drops
   it again; a drop that was already running when decommissioning began settles without reseed;
4. once every pool is empty, no win is in progress and no balance sent to another jackpot is
   waiting for its answer, the jackpot goes to ARCHIVED.

Approvals, wallet retries and manual resolution keep working as for any win; the archive waits
for them. A faulted jackpot is not decommissioned until an operator clears the fault: its meters
are in question, and a payout from them could be wrong.
"""

from __future__ import annotations

from . import balances
from .compiled import CompiledJackpot
from .config import JackpotStatus
from .errors import DropRejected
from .events import COMMAND_TYPES, DROP_DEFERRED, POOL_ADJUSTED, EngineEvent, make_event
from .lifecycle import SYSTEM, transition_jackpot
from .payout import DECOMMISSION, NoWinner, Output
from .pool import JackpotState, PoolState
from .waterfall import drop_level

__all__ = ["begin", "step", "RETURN_REASON"]

J = JackpotStatus
RETURN_REASON = "DECOMMISSION_RETURN"
_FLAG_WAITING = 64  # pool flag: the DropDeferred of a decommissioning drop was published


def begin(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str,
          now: int, transfer_to: str | None = None) -> tuple[Output, str]:
    """Start decommissioning; the first drops (or, with ``transfer_to``, the moves of each pool's
    balance to that jackpot, balances.py) start at once. Returns the output and a summary."""
    if state.status in (J.DRAFT, J.ARCHIVED):
        raise DropRejected(f"a {state.status} jackpot holds no money: archive it instead")
    if state.closing:
        raise DropRejected("the jackpot is already being decommissioned")
    if state.fault:
        raise DropRejected("the jackpot is in the fault state: an operator must clear the fault before its "
                           "pools are paid out")
    if not reason:
        raise DropRejected("decommissioning needs a reason")
    if transfer_to == cj.jackpot_id:
        raise DropRejected("a jackpot's balance cannot be moved to itself")
    held = [p.balance for p in state.iter_pools() if p.balance]
    state.closing = {"actor": actor, "reason": reason, "cause": cause_id, "at": now, "transfer_to": transfer_to}
    dropped = len(state.cascades)
    state.cascades.clear()  # the decommissioning drops replace any scheduled waterfall
    out = step(cj, state, now)
    summary = f"decommissioning {sum(held)} micros in {len(held)} pool(s)"
    if transfer_to:
        summary += f", moved to jackpot {transfer_to}"
    if dropped:
        summary += f"; {dropped} scheduled cascade drop(s) superseded"
    return out, summary


def step(cj: CompiledJackpot, state: JackpotState, now: int) -> Output:
    """Drop what is left, pool by pool; archive once nothing is. A no-op unless closing."""
    out = Output()
    if not state.closing or state.fault or state.status == J.ARCHIVED:
        return out
    cause = str(state.closing.get("cause", "decommission"))
    target = state.closing.get("transfer_to")
    for currency in cj.currencies:
        for cl in cj.levels:
            pool = state.pools[currency][cl.level_id]
            if pool.locked:
                continue
            if pool.balance == 0:
                pool.closed = pool.closed or pool.cycle > 0
                continue
            if target:  # moved whole to the receiving jackpot; one that refuses sends it back
                for e in balances.send(cj, state, pool, target, why=f"decommissioned: {state.closing.get('reason')}",
                                       now=now):
                    (out.commands if e.event_type in COMMAND_TYPES else out.events).append(e)
                continue
            pool.closed = False
            out.events.extend(balances.release_reserve(cj, pool, f"{cause}|release|{pool.drop_seq}", now,
                                                       why="decommission"))
            try:
                _, o = drop_level(cj, state, cl.level_id, currency, kind=DECOMMISSION, cause=cause, actor=SYSTEM,
                                  now=now, stage=4, final=True)
                out.extend(o)
                pool.flags &= ~_FLAG_WAITING
            except NoWinner as e:
                if _never_funded_by_players(pool):
                    out.events.extend(_return_to_operator(cj, pool, cause, now))
                else:
                    _waiting(cj, pool, f"{cause}|{pool.drop_seq}", e.reason, now, out.events)
            except DropRejected as e:
                _waiting(cj, pool, f"{cause}|{pool.drop_seq}", e.reason, now, out.events)
    if (not state.wins and not state.locked_pools() and not state.in_flight
            and all(p.balance == 0 for p in state.iter_pools())):
        if state.status == J.DROPPING:  # cannot happen without a locked pool; kept for safety
            return out
        out.events.extend(transition_jackpot(
            cj, state, J.ARCHIVED, actor=str(state.closing.get("actor") or SYSTEM),
            reason=f"decommissioned: {state.closing.get('reason', '')}", cause_id=f"{cause}|archived", now=now,
            _internal=True))
    return out


def _never_funded_by_players(pool: PoolState) -> bool:
    """No contribution, no overflow from another level, no balance received from another jackpot
    (its players' money); seeds, pre-seeds and operator funding are the operator's."""
    m = pool.meters
    return m.gross - m.house == 0 and m.transfers_in == 0 and m.wagers == 0 and m.received == 0


def _return_to_operator(cj: CompiledJackpot, pool: PoolState, cause: str, now: int) -> list[EngineEvent]:
    """A pool only the operator ever funded (seed, pre-seed, funding) and nobody to award: its
    balance goes back to the operator, recorded as an outgoing adjustment."""
    amount = pool.visible
    pool.visible = 0
    pool.meters.adj_out += amount
    pool.closed = True
    return [make_event(POOL_ADJUSTED, cj.jackpot_id, f"{cause}|return", now, {
        "amount": -amount, "reason": RETURN_REASON, "actor": SYSTEM,
        "note": "decommissioned with no player contribution and nobody to award: the operator's funding returns",
        "visible_amount": 0, "cycle_number": pool.cycle,
    }, level_id=pool.level_id, currency=pool.currency)]


def _waiting(cj: CompiledJackpot, pool: PoolState, cause: str, reason: str, now: int, events: list[EngineEvent]) -> None:
    if pool.flags & _FLAG_WAITING:
        return
    pool.flags |= _FLAG_WAITING
    events.append(make_event(DROP_DEFERRED, cj.jackpot_id, f"{cause}|deferred", now, {
        "reason": f"decommissioning: {reason}; retried on every tick", "cycle_number": pool.cycle,
        "deadline_at": 0,
    }, level_id=pool.level_id, currency=pool.currency))
