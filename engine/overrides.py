"""Operator overrides as engine commands (spec: Operator Override Controls, Winner Approval Queue,
Failed Win Handling).

Commands arrive on the jackpot's partition, in order with the bets, so a force drop and a bet
never race. Each command is all-or-nothing: a refused command leaves the state exactly as it
was. Every command, applied or refused, returns an ``OperatorActionRecorded`` audit record
with its actor, approvals, reason and outcome; the domain events describe what changed.

Actions (reason mandatory where the spec asks for one):

- force_drop    drop a level now (every currency, or one): current pool amount, winner from the
                active eligible players, else the most recently active player; lifts a snooze
- delay_drop    no drop for ``delay_seconds`` (contributions continue)
- cancel_drop   void the secret target: draw a new one from the cycle seed (above the current
                amount when possible) and a new evaluation delay; the pool continues
- pause/resume  the jackpot (no level) or one level; contributions buffer while paused
- no_win_on/off NO_WIN mode (grows, never drops) for a level or every level
- manual_adjust signed amount with a reason code (PRE_SEED uses the pre-seed rules); transfer
- void_win      a win not yet paid: the amount stays in the pool, no reseed; needs a supervisor's
                co-approval (an approver other than the actor)
- reverse_win   a win already paid and taken back in the wallet: the amount returns to the pool
                (reversal.py); co-approved like void_win, once per win
- approve_win / decline_win (fallback winner or back to the pool), retry_payout and
  resolve_payout (alternative payout) for the approval queue and PENDING_MANUAL_RESOLUTION
- activate / expire / archive (lifecycle); archive only once the pools are empty
- decommission  regulatory item 9: end a jackpot that holds money by dropping all of it
                (decommission.py); it archives itself when the last win is paid
- fault         the fault state (regulatory item 11), entered by the reconciliation job or an
                operator: the jackpot pauses (contributions held in pending, no drops, players
                see it suspended) and an alert goes out; a drop in progress still pays its winner,
                then the jackpot pauses instead of resuming
- clear_fault   an operator (never the system) clears it after investigation; a plain resume is
                refused while the fault stands

Role checks (Operator / Manager / Admin) belong to the admin API; the compliance profile's
prohibited actions are enforced here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from . import balances, decommission, succession
from .adjustments import adjust, transfer
from .compiled import CompiledJackpot, CompiledLevel
from .config import LevelStatus, OperatorAction
from .errors import DropRejected, EngineError
from .events import COMMAND_TYPES, OPERATOR_ACTION, make_event
from .fault import clear_fault, enter_fault
from .lifecycle import activate, archive, expire, pause, resume, set_level_status
from .payout import Output, decide_approval, resolve_credit, retry_credit, void_win
from .reversal import reverse_win
from .pool import JackpotState, PoolState
from .rng import SeedSource, derive_int
from .seeding import cycle_context, pre_seed
from .timing import relax_stage
from .waterfall import drop_level

__all__ = ["OperatorCommand", "ACTIONS", "handle_operator_command", "retarget"]

FORCE_DROP = "force_drop"
DELAY_DROP = "delay_drop"
CANCEL_DROP = "cancel_drop"
PAUSE = "pause"
RESUME = "resume"
NO_WIN_ON = "no_win_on"
NO_WIN_OFF = "no_win_off"
MANUAL_ADJUST = "manual_adjust"
TRANSFER = "transfer"
VOID_WIN = "void_win"
APPROVE_WIN = "approve_win"
DECLINE_WIN = "decline_win"
RETRY_PAYOUT = "retry_payout"
RESOLVE_PAYOUT = "resolve_payout"
ACTIVATE = "activate"
EXPIRE = "expire"
ARCHIVE = "archive"
DECOMMISSION = "decommission"
REVERSE_WIN = "reverse_win"
RECEIVE_BALANCE = balances.RECEIVE
BALANCE_RETURNED = balances.RETURNED
BALANCE_RECEIVED = balances.RECEIVED
FAULT = "fault"
CLEAR_FAULT = "clear_fault"
SCHEDULE_CHANGE = succession.SCHEDULE
CANCEL_CHANGE = succession.CANCEL
ACTIONS = (
    FORCE_DROP, DELAY_DROP, CANCEL_DROP, PAUSE, RESUME, NO_WIN_ON, NO_WIN_OFF, MANUAL_ADJUST, TRANSFER, VOID_WIN,
    APPROVE_WIN, DECLINE_WIN, RETRY_PAYOUT, RESOLVE_PAYOUT, ACTIVATE, EXPIRE, ARCHIVE, DECOMMISSION, FAULT, CLEAR_FAULT,
    RECEIVE_BALANCE, BALANCE_RETURNED, BALANCE_RECEIVED, REVERSE_WIN, SCHEDULE_CHANGE, CANCEL_CHANGE,
)
_PROHIBITABLE = {
    FORCE_DROP: OperatorAction.FORCE_DROP,
    DELAY_DROP: OperatorAction.DELAY_DROP,
    CANCEL_DROP: OperatorAction.CANCEL_DROP,
    PAUSE: OperatorAction.PAUSE,
    NO_WIN_ON: OperatorAction.NO_WIN_MODE,
    MANUAL_ADJUST: OperatorAction.MANUAL_ADJUST,
    TRANSFER: OperatorAction.MANUAL_ADJUST,
    VOID_WIN: OperatorAction.VOID_WIN,
    REVERSE_WIN: OperatorAction.VOID_WIN,
}
_NEEDS_REASON = {FORCE_DROP, DELAY_DROP, CANCEL_DROP, NO_WIN_ON, NO_WIN_OFF, MANUAL_ADJUST, TRANSFER, VOID_WIN,
                 DECLINE_WIN, RESOLVE_PAYOUT, FAULT, CLEAR_FAULT, DECOMMISSION, REVERSE_WIN}


@dataclass(slots=True, frozen=True)
class OperatorCommand:
    """An ``OperatorCommand`` record; ``amount`` in micros (signed for manual_adjust)."""

    command_id: str
    action: str
    actor: str
    reason: str = ""
    level_id: str | None = None
    currency: str | None = None
    approvals: tuple[str, ...] = ()
    amount: int | None = None
    adjustment_reason: str | None = None
    target_level_id: str | None = None
    delay_seconds: int | None = None
    win_id: str | None = None  # a win id, or a prize's idempotency key (= approval id)
    player_id: str | None = None  # decline_win / approve_win: one winner of a split
    other_jackpot_id: str | None = None  # decommission: receiving jackpot; receive/returned: the sender
    source_level_id: str | None = None  # receive_balance / balance_returned: the sending level
    source_level_order: int | None = None  # receive_balance: the sending level's place (0 = top)
    transfer_id: str | None = None  # balance_returned / balance_received: the receive_balance answered
    change_id: str | None = None  # schedule_change / cancel_change: the admin API's change (succession.py)
    config_json: str | None = None  # schedule_change: the config that follows
    level_ids: tuple[str, ...] = ()  # schedule_change: the levels whose current cycles it waits for

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OperatorCommand":
        return cls(
            command_id=str(d.get("command_id") or d["event_id"]),
            action=str(d["action"]),
            actor=str(d["actor"]),
            reason=str(d.get("reason") or ""),
            level_id=d.get("level_id"),
            currency=d.get("currency"),
            approvals=tuple(d.get("approvals") or ()),
            amount=d.get("amount"),
            adjustment_reason=d.get("adjustment_reason"),
            target_level_id=d.get("target_level_id"),
            delay_seconds=d.get("delay_seconds"),
            win_id=d.get("win_id"),
            player_id=d.get("player_id"),
            other_jackpot_id=d.get("other_jackpot_id"),
            source_level_id=d.get("source_level_id"),
            source_level_order=d.get("source_level_order"),
            transfer_id=d.get("transfer_id"),
            change_id=d.get("change_id"),
            config_json=d.get("config_json"),
            level_ids=tuple(d.get("level_ids") or ()),
        )


def _restore(state: JackpotState, snapshot: dict) -> None:
    """Undo a refused command (most are refused before any change: then nothing is replaced)."""
    if state.to_dict() == snapshot:
        return
    back = JackpotState.from_dict(snapshot)
    for f in fields(JackpotState):
        setattr(state, f.name, getattr(back, f.name))


def _audit(cj: CompiledJackpot, cmd: OperatorCommand, outcome: str, detail: str, now: int) -> Any:
    return make_event(
        OPERATOR_ACTION,
        cj.jackpot_id,
        f"{cmd.command_id}|audit",
        now,
        {
            "command_id": cmd.command_id,
            "action": cmd.action,
            "actor": cmd.actor,
            "approvals": list(cmd.approvals),
            "reason": cmd.reason,
            "level_id": cmd.level_id,
            "currency": cmd.currency,
            "amount": cmd.amount,
            "adjustment_reason": cmd.adjustment_reason,
            "target_level_id": cmd.target_level_id,
            "delay_seconds": cmd.delay_seconds,
            "win_id": cmd.win_id,
            "other_jackpot_id": cmd.other_jackpot_id,
            "transfer_id": cmd.transfer_id,
            "outcome": outcome,
            "detail": detail,
        },
    )


def handle_operator_command(
    cj: CompiledJackpot, state: JackpotState, cmd: OperatorCommand, now: int, seed_source: SeedSource | None
) -> tuple[Output, str | None]:
    """Apply one command; returns its output (audit record last) and the refusal reason, if any."""
    snapshot = state.to_dict()
    try:
        out, detail = _dispatch(cj, state, cmd, now, seed_source)
        rejected = None
    except EngineError as e:
        _restore(state, snapshot)
        out, detail, rejected = Output(), e.reason, e.reason
    except KeyError as e:  # unknown level or currency
        _restore(state, snapshot)
        msg = str(e.args[0]) if e.args else "unknown target"
        out, detail, rejected = Output(), msg, msg
    out.events.append(_audit(cj, cmd, "rejected" if rejected else "applied", detail, now))
    return out, rejected


def _pools(cj: CompiledJackpot, state: JackpotState, cmd: OperatorCommand, need_level: bool) -> list[tuple[CompiledLevel, PoolState]]:
    if need_level and not cmd.level_id:
        raise DropRejected(f"{cmd.action} needs a level")
    levels = [cj.level(cmd.level_id)] if cmd.level_id else list(cj.levels)
    if cmd.currency and cmd.currency not in cj.currencies:
        raise DropRejected(f"currency {cmd.currency} is not supported")
    currencies = [cmd.currency] if cmd.currency else list(cj.currencies)
    return [(cl, state.pool(cl.level_id, c)) for cl in levels for c in currencies]


def retarget(cj: CompiledJackpot, cl: CompiledLevel, pool: PoolState) -> None:
    """Cancel drop: redraw the secret target (redraw k of the cycle) above the current amount when
    the win range allows, else up to win_max, and a new evaluation delay; disarm the pool."""
    lim = cl.limits[pool.currency]
    cur = pool.visible + pool.hidden
    lo, hi = max(lim.win_from, cur + 1), lim.win_to
    if lo > hi:
        lo, hi = min(cur + 1, lim.win_max), lim.win_max
    k = len(pool.retargets)
    seed = bytes.fromhex(pool.rng_seed)
    ctx = cycle_context(cj, pool)
    pool.retargets.append([lo, hi, pool.win_target, pool.eval_delay])
    pool.win_target = derive_int(seed, ctx.label(f"retarget/{k}"), lo, hi)
    pool.eval_delay = derive_int(seed, ctx.label(f"retarget-delay/{k}"), cl.delay_from, cl.delay_to)
    pool.armed_at = pool.armed_bets = 0


def _dispatch(
    cj: CompiledJackpot, state: JackpotState, cmd: OperatorCommand, now: int, seed_source: SeedSource | None
) -> tuple[Output, str]:
    a = cmd.action
    if a not in ACTIONS:
        raise DropRejected(f"unknown action {a!r}; actions: {', '.join(ACTIONS)}")
    if not cmd.actor:
        raise DropRejected("a command needs an actor")
    prohibited = _PROHIBITABLE.get(a)
    if prohibited is not None and prohibited.value in cj.prohibited_actions:
        raise DropRejected(f"the compliance profile prohibits {prohibited.value}")
    if a in _NEEDS_REASON and not cmd.reason:
        raise DropRejected(f"{a} needs a reason")
    reason = cmd.reason or a
    cid = cmd.command_id
    out = Output()
    kw = dict(actor=cmd.actor, reason=reason, cause_id=cid, now=now)

    if a == FORCE_DROP:
        done, skipped = [], []
        for cl, pool in _pools(cj, state, cmd, need_level=True):
            if pool.locked:
                skipped.append(f"{pool.currency}: drop already in progress")
                continue
            pool.snooze_until = 0
            try:
                win, o = drop_level(cj, state, cl.level_id, pool.currency, kind="force", cause=cid, actor=cmd.actor,
                                    now=now, stage=relax_stage(cj, cl, pool))
            except DropRejected as e:
                if cmd.currency:
                    raise
                skipped.append(f"{pool.currency}: {e.reason}")
                continue
            out.extend(o)
            done.append(f"{pool.currency}: win {win.win_id}")
        if not done:
            raise DropRejected("nothing dropped: " + "; ".join(skipped))
        return out, "; ".join(done + skipped)
    if a == DELAY_DROP:
        if not cmd.delay_seconds or cmd.delay_seconds <= 0:
            raise DropRejected("delay_drop needs a positive delay_seconds")
        until = now + cmd.delay_seconds * 1000
        for _, pool in _pools(cj, state, cmd, need_level=False):
            pool.snooze_until = max(pool.snooze_until, until)
        return out, f"no drop before {until}"
    if a == CANCEL_DROP:
        targets = _pools(cj, state, cmd, need_level=True)
        for cl, pool in targets:
            if pool.locked:
                raise DropRejected(f"{cl.name}/{pool.currency}: a drop is in progress; decline or void it instead")
            if pool.cycle == 0 or pool.closed:
                raise DropRejected(f"{cl.name}/{pool.currency} has no running cycle")
            retarget(cj, cl, pool)
        return out, f"new secret target drawn for {len(targets)} pool(s)"
    if a == FAULT:
        out.events.extend(enter_fault(cj, state, **kw))
        return out, "fault state entered"
    if a == CLEAR_FAULT:
        out.events.extend(clear_fault(cj, state, **kw))
        return out, "fault cleared"
    if a in (PAUSE, RESUME):
        if a == RESUME and cmd.level_id is None and state.fault:
            raise DropRejected("the jackpot is in the fault state: an operator must clear the fault first")
        if cmd.level_id is None:
            fn = pause if a == PAUSE else resume
            out.events.extend(fn(cj, state, **kw))
        else:
            new = LevelStatus.PAUSED if a == PAUSE else LevelStatus.ENABLED
            if a == RESUME and state.level_status[cj.level(cmd.level_id).level_id] != LevelStatus.PAUSED:
                raise DropRejected("only a PAUSED level can be resumed")
            out.events.extend(set_level_status(cj, state, cmd.level_id, new, **kw))
        return out, ""
    if a in (NO_WIN_ON, NO_WIN_OFF):
        levels = [cj.level(cmd.level_id)] if cmd.level_id else list(cj.levels)
        frm, to = (LevelStatus.ENABLED, LevelStatus.NO_WIN) if a == NO_WIN_ON else (LevelStatus.NO_WIN, LevelStatus.ENABLED)
        changed = levels if cmd.level_id else [cl for cl in levels if state.level_status[cl.level_id] == frm]
        if not changed:
            raise DropRejected(f"no level is {frm.value}")
        for cl in changed:
            out.events.extend(set_level_status(cj, state, cl.level_id, to, **kw))
        return out, ", ".join(cl.name for cl in changed)
    if a == MANUAL_ADJUST:
        if not cmd.level_id or not cmd.currency or not cmd.amount:
            raise DropRejected("manual_adjust needs a level, a currency and a non-zero amount")
        code = cmd.adjustment_reason or ("OPERATOR_FUNDING" if cmd.amount > 0 else "MALFUNCTION_CORRECTION")
        if code == "PRE_SEED":
            out.events.extend(pre_seed(cj, state, cmd.level_id, cmd.currency, cmd.amount, actor=cmd.actor,
                                       cause_id=cid, now=now))
        else:
            out.events.extend(adjust(cj, state, cmd.level_id, cmd.currency, cmd.amount, reason=code, actor=cmd.actor,
                                     note=cmd.reason, cause_id=cid, now=now))
        return out, code
    if a == TRANSFER:
        if not (cmd.level_id and cmd.target_level_id and cmd.currency and cmd.amount):
            raise DropRejected("transfer needs a level, a target level, a currency and an amount")
        out.events.extend(transfer(cj, state, cmd.level_id, cmd.target_level_id, cmd.currency, cmd.amount,
                                   actor=cmd.actor, note=cmd.reason, cause_id=cid, now=now))
        return out, ""
    if a in (VOID_WIN, APPROVE_WIN, DECLINE_WIN, RETRY_PAYOUT, RESOLVE_PAYOUT):
        if not cmd.win_id:
            raise DropRejected(f"{a} needs a win_id (win id or approval id)")
        if a == VOID_WIN:
            if not any(p and p != cmd.actor for p in cmd.approvals):
                raise DropRejected("void_win needs a supervisor's co-approval (an approver other than the actor)")
            return void_win(cj, state, cmd.win_id, actor=cmd.actor, reason=cmd.reason, now=now, seed_source=seed_source), ""
        if a in (APPROVE_WIN, DECLINE_WIN):
            return decide_approval(cj, state, cmd.win_id, a == APPROVE_WIN, actor=cmd.actor, reason=cmd.reason, now=now,
                                   seed_source=seed_source, player_id=cmd.player_id), ""
        if a == RETRY_PAYOUT:
            return retry_credit(cj, state, cmd.win_id, now=now), ""
        return resolve_credit(cj, state, cmd.win_id, reference=cmd.reason, now=now, seed_source=seed_source), ""
    if a == ACTIVATE:
        if seed_source is None:
            raise DropRejected("activation starts cycles: a seed source is required")
        out.events.extend(activate(cj, state, seed_source, actor=cmd.actor, reason=reason, cause_id=cid, now=now))
        return out, ""
    if a == EXPIRE:
        out.events.extend(expire(cj, state, **kw))
        return out, ""
    if a == DECOMMISSION:
        out, detail = decommission.begin(cj, state, transfer_to=cmd.other_jackpot_id, **kw)
        return out, detail + succession.drop_pending(state)  # no cycle follows: nor does a pending change
    if a == SCHEDULE_CHANGE:
        return out, succession.schedule(cj, state, change_id=cmd.change_id or "", config_json=cmd.config_json or "",
                                        levels=list(cmd.level_ids))
    if a == CANCEL_CHANGE:
        return out, succession.cancel(state, cmd.change_id)
    if a == REVERSE_WIN:
        if not (cmd.win_id and cmd.level_id and cmd.currency and cmd.amount):
            raise DropRejected("reverse_win needs the win, its level, currency and the amount paid")
        out.events.extend(reverse_win(cj, state, win_id=cmd.win_id, level_id=cmd.level_id, currency=cmd.currency,
                                      amount=cmd.amount, actor=cmd.actor, approvals=cmd.approvals, reason=cmd.reason,
                                      cause_id=cid, now=now))
        return out, f"win {cmd.win_id}: {cmd.amount} micros back in the pool"
    if a in (RECEIVE_BALANCE, BALANCE_RETURNED, BALANCE_RECEIVED):
        return _balance(cj, state, cmd, now)
    if state.in_flight:
        raise DropRejected(f"{len(state.in_flight)} balance(s) sent to another jackpot are waiting for its answer")
    holding = [p for p in state.iter_pools() if p.balance]
    if holding:
        held = ", ".join(f"{p.level_id}/{p.currency} {p.balance}" for p in holding)
        raise DropRejected(f"the pools still hold money ({held} micros): decommission the jackpot, which drops "
                           "everything it holds and then archives it (regulatory item 9)")
    out.events.extend(archive(cj, state, **kw))
    return out, ""


def _balance(cj: CompiledJackpot, state: JackpotState, cmd: OperatorCommand, now: int) -> tuple[Output, str]:
    """A balance another jackpot sent, or one it sent back (balances.py); only the engine sends these."""
    if cmd.actor != balances.ACTOR:
        raise DropRejected(f"{cmd.action} is sent by the engine ({balances.ACTOR}), not by {cmd.actor}")
    if not (cmd.other_jackpot_id and cmd.currency and cmd.amount):
        raise DropRejected(f"{cmd.action} needs the other jackpot, a currency and an amount")
    out = Output()
    if cmd.action == RECEIVE_BALANCE:
        events, refused = balances.receive(cj, state, command_id=cmd.command_id, from_jackpot=cmd.other_jackpot_id,
                                           from_level=cmd.source_level_id or "", level_order=cmd.source_level_order or 0, currency=cmd.currency,
                                           amount=cmd.amount, why=cmd.reason, now=now)
        detail = f"sent back: {refused}" if refused else f"{cmd.amount} micros received from {cmd.other_jackpot_id}"
    elif cmd.action == BALANCE_RECEIVED:
        events = []
        waited = balances.received(state, cmd.transfer_id or "")
        detail = f"transfer {cmd.transfer_id} credited by {cmd.other_jackpot_id}" + ("" if waited else " (not awaited)")
    else:
        if not cmd.source_level_id or not cmd.transfer_id:
            raise DropRejected("balance_returned needs the transfer and the level it was sent from")
        events = balances.returned(cj, state, command_id=cmd.command_id, transfer=cmd.transfer_id,
                                   from_jackpot=cmd.other_jackpot_id, level_id=cmd.source_level_id,
                                   currency=cmd.currency, amount=cmd.amount, why=cmd.reason, now=now)
        detail = f"{cmd.amount} micros back in the reserve"
    for e in events:
        (out.commands if e.event_type in COMMAND_TYPES else out.events).append(e)
    return out, detail
