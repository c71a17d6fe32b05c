"""Moving a pool's whole balance to another jackpot (regulatory item 9: "moves its balance to
another pool"; the spec's promotional ``carry_over``: "remaining funds carry over").

Two jackpots live on different partitions, so the move is two commands, each applied exactly
once by its own jackpot (commands are deduplicated by id, and the ids are derived from the cause):

1. ``send`` empties a pool of the sending jackpot (displayed, hidden, carried and held amounts)
   into a ``PoolAdjusted`` of reason ``TRANSFER`` out and emits a ``BalanceTransferCommand``: a
   ``receive_balance`` command for the receiving jackpot.
2. ``receive`` credits it there, to the level at the same place (0 = top), else the top level:
   into the displayed amount up to Win Max, the rest into the reserve for the next reset (all of
   it while a drop is in progress). A jackpot that cannot take it (not live, being
   decommissioned, no pool in that currency) sends it back: a ``balance_returned`` command.
3. ``returned`` puts a returned balance back in the sending pool's reserve, with an alert;
   ``received`` (the acknowledgement of a credit) closes the transfer for the sender. A
   decommissioning jackpot archives only once every balance it sent is acknowledged, so a
   refused one never comes back to an archived jackpot.

Money in flight is on the commands topic, never nowhere: the sum of the two jackpots' balances
and ``TRANSFER`` adjustments is conserved at every step.
"""

from __future__ import annotations

import uuid

from .compiled import CompiledJackpot
from .config import JackpotStatus
from .contribution import check_thresholds, pool_updated_event
from .errors import DropRejected
from .events import BALANCE_TRANSFER_COMMAND, DROP_DEFERRED, POOL_ADJUSTED, RESERVE_RELEASED, EngineEvent, make_event
from .pool import JackpotState, PoolState
from .seeding import reveal_event

__all__ = ["ACTOR", "RECEIVE", "RETURNED", "RECEIVED", "send", "receive", "returned", "received", "bounce",
           "release_reserve", "transfer_id"]

ACTOR = "system:transfer"
RECEIVE = "receive_balance"
RETURNED = "balance_returned"
RECEIVED = "balance_received"  # the receiving jackpot's acknowledgement
REASON = "TRANSFER"
J = JackpotStatus
_TAKING = (J.ACTIVE, J.PAUSED, J.DROPPING)


def transfer_id(jackpot_id: str, level_id: str, currency: str, cause: str, kind: str = RECEIVE) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jackpot/balance/{kind}/{jackpot_id}/{level_id}/{currency}/{cause}"))


def _adjusted(cj: CompiledJackpot, pool: PoolState, amount: int, note: str, cause: str, now: int) -> EngineEvent:
    return make_event(POOL_ADJUSTED, cj.jackpot_id, cause, now, {
        "amount": amount, "reason": REASON, "actor": ACTOR, "note": note, "visible_amount": pool.visible,
        "cycle_number": pool.cycle}, level_id=pool.level_id, currency=pool.currency)


def _command(cj: CompiledJackpot, action: str, to_jackpot: str, pool: PoolState, amount: int, order: int,
             command_id: str, reason: str, now: int, answers: str | None = None) -> EngineEvent:
    """An OperatorCommand for ``to_jackpot`` (its partition); its event id is the command id."""
    return EngineEvent(BALANCE_TRANSFER_COMMAND, command_id, now, to_jackpot, {
        "jackpot_id": to_jackpot, "action": action, "actor": ACTOR, "reason": reason,
        "currency": pool.currency, "amount": amount, "other_jackpot_id": cj.jackpot_id,
        "source_level_id": pool.level_id, "source_level_order": order, "transfer_id": answers})


def send(cj: CompiledJackpot, state: JackpotState, pool: PoolState, to_jackpot: str, *, why: str,
         now: int) -> list[EngineEvent]:
    """Empty ``pool`` towards ``to_jackpot``: its reserve released into the displayed amount (as
    for a decommissioning drop), a PoolAdjusted (out), PoolUpdated and the command. Every send has
    an id of its own (the jackpot's ``sends`` counter) and stays in ``in_flight`` until the other
    jackpot acknowledges or returns it; nothing archives while one is in flight."""
    if to_jackpot == cj.jackpot_id:
        raise DropRejected("a balance cannot be moved to its own jackpot")
    if pool.locked:
        raise DropRejected(f"pool {pool.level_id}/{pool.currency} has a drop in progress")
    amount = pool.balance
    if amount <= 0:
        return []
    state.sends += 1
    cause = f"send|{state.sends}"
    tid = transfer_id(cj.jackpot_id, pool.level_id, pool.currency, cause)
    order = cj.level(pool.level_id).index
    # the cycle ends without a drop: its seed is revealed like any ended cycle's (provably fair)
    events = [reveal_event(cj, pool, f"{cause}|reveal", now)] if pool.cycle and not pool.closed else []
    events += release_reserve(cj, pool, f"{cause}|release", now, why="transfer")
    pool.visible = 0
    pool.meters.adj_out += amount
    pool.closed = True
    state.in_flight[tid] = [pool.level_id, pool.currency, amount]
    note = f"{why}: balance moved to jackpot {to_jackpot} (transfer {tid})"
    return [*events, _adjusted(cj, pool, -amount, note, f"{cause}|out", now),
            pool_updated_event(cj, pool, f"{cause}|out", now),
            _command(cj, RECEIVE, to_jackpot, pool, amount, order, tid, why, now)]


def release_reserve(cj: CompiledJackpot, pool: PoolState, cause: str, now: int, *, why: str) -> list[EngineEvent]:
    """Move a pool's whole reserve (hidden, carried, held) into its displayed amount, recorded as a
    ReserveReleased (the ``released`` meter), so what leaves the pool next is all on display."""
    hidden, carry, pending = pool.hidden, pool.carry, pool.pending
    released = hidden + carry + pending
    if not released:
        return []
    pool.cycle_contributions += pending
    pool.cycle_house += pool.pending_house
    pool.cycle_gross += pending + pool.pending_house
    pool.visible += released
    pool.hidden = pool.carry = pool.pending = pool.pending_house = 0
    pool.meters.released += released
    return [make_event(RESERVE_RELEASED, cj.jackpot_id, cause, now, {
        "amount": released, "hidden": hidden, "carry": carry, "pending": pending, "visible_amount": pool.visible,
        "cycle_number": pool.cycle, "reason": why,
    }, level_id=pool.level_id, currency=pool.currency)]


def receive(cj: CompiledJackpot, state: JackpotState, *, command_id: str, from_jackpot: str, from_level: str,
            level_order: int, currency: str, amount: int, why: str, now: int) -> tuple[list[EngineEvent], str | None]:
    """Credit a balance another jackpot sent; returns the events and, when it goes back, why."""
    if type(amount) is not int or amount <= 0:
        raise DropRejected(f"a balance transfer needs a positive amount, got {amount!r}")
    refusal, pool, cl = None, None, None
    end = cj.config.schedule.end_at if cj.config.schedule else None
    if state.status not in _TAKING:
        refusal = f"jackpot {cj.jackpot_id} is {state.status}"
    elif state.closing:
        refusal = f"jackpot {cj.jackpot_id} is being decommissioned"
    elif end is not None and now >= int(end.timestamp() * 1000):
        refusal = f"jackpot {cj.jackpot_id}'s campaign has ended"
    elif currency not in cj.currencies or currency not in state.pools:
        refusal = f"jackpot {cj.jackpot_id} has no {currency} pools"
    else:
        levels = cj.levels
        cl = levels[level_order] if 0 <= level_order < len(levels) else levels[0]
        if state.pools[currency][cl.level_id].cycle == 0 or state.pools[currency][cl.level_id].closed:
            cl = levels[0]
        pool = state.pools[currency][cl.level_id]
        if pool.cycle == 0 or pool.closed:
            refusal = f"jackpot {cj.jackpot_id} has no running {currency} pool"
    if refusal is not None or pool is None or cl is None:
        return [bounce(to_jackpot=from_jackpot, from_jackpot=cj.jackpot_id, command_id=command_id,
                       level_id=from_level, level_order=level_order, currency=currency, amount=amount,
                       why=refusal or "no pool", now=now)], refusal
    room = 0 if pool.locked else max(0, cl.limits[currency].win_max - pool.visible - pool.hidden)
    shown = min(amount, room)
    pool.visible += shown
    pool.carry += amount - shown
    pool.meters.adj_in += amount
    pool.meters.received += amount
    note = (f"{why}: balance received from jackpot {from_jackpot} (transfer {command_id}); "
            f"{amount - shown} micros into the reserve for the next reset" if amount > shown else
            f"{why}: balance received from jackpot {from_jackpot} (transfer {command_id})")
    events = [_adjusted(cj, pool, amount, note, f"{command_id}|in", now)]
    check_thresholds(cj, cl, pool, f"{command_id}|in", now, events)
    events.append(pool_updated_event(cj, pool, f"{command_id}|in", now))
    ack = transfer_id(cj.jackpot_id, from_level, currency, command_id, RECEIVED)
    stub = PoolState(level_id=from_level, currency=currency)
    events.append(_command(cj, RECEIVED, from_jackpot, stub, amount, level_order, ack,
                           f"credited to level {cl.level_id}", now, command_id))
    return events, None


def bounce(*, to_jackpot: str, from_jackpot: str, command_id: str, level_id: str, level_order: int, currency: str,
           amount: int, why: str, now: int) -> EngineEvent:
    """The ``balance_returned`` command for a balance that cannot be credited: by a jackpot that
    refuses it, or by the worker for a jackpot it has no configuration for."""
    back = transfer_id(from_jackpot, "", currency, command_id, RETURNED)
    return EngineEvent(BALANCE_TRANSFER_COMMAND, back, now, to_jackpot, {
        "jackpot_id": to_jackpot, "action": RETURNED, "actor": ACTOR, "reason": why, "currency": currency,
        "amount": amount, "other_jackpot_id": from_jackpot, "source_level_id": level_id,
        "source_level_order": level_order, "transfer_id": command_id})


def received(state: JackpotState, transfer: str) -> bool:
    """The receiving jackpot credited ``transfer``: the sender stops waiting for it."""
    return state.in_flight.pop(transfer, None) is not None


def returned(cj: CompiledJackpot, state: JackpotState, *, command_id: str, transfer: str, from_jackpot: str,
             level_id: str, currency: str, amount: int, why: str, now: int) -> list[EngineEvent]:
    """A balance the receiving jackpot refused comes back into the sending pool's reserve."""
    sent = state.in_flight.pop(transfer, None)
    if sent is None:
        raise DropRejected(f"no transfer {transfer} of this jackpot is waiting for an answer")
    pool = state.pool(level_id, currency)
    pool.carry += amount
    pool.meters.adj_in += amount
    note = f"balance returned by jackpot {from_jackpot}: {why} (transfer {command_id})"
    alert = make_event(DROP_DEFERRED, cj.jackpot_id, f"{command_id}|alert", now, {
        "reason": f"balance transfer refused by jackpot {from_jackpot}: {why}; {amount} micros are back in the "
                  "reserve", "cycle_number": pool.cycle, "deadline_at": 0},
        level_id=pool.level_id, currency=pool.currency)
    if state.closing:  # a decommission whose target refused: the balance is dropped instead
        state.closing["transfer_to"] = None
        state.closing["transfer_refused"] = why
    return [_adjusted(cj, pool, amount, note, f"{command_id}|back", now), alert,
            pool_updated_event(cj, pool, f"{command_id}|back", now)]
