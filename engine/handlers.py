"""The engine's entry points: one per input kind of a jackpot partition.

The streams layer applies, per jackpot and in partition order::

    contributions   result = apply_contribution(cj, state, bet)            (or process_bet / process_batch)
                    out = evaluate_after_contribution(cj, state, ctx, result, now)
    operator cmds   out = handle_command(cj, state, OperatorCommand, now, seed_source)
    wallet results  out = handle_wallet_result(cj, state, WalletResult, now, seed_source)
    clock ticks     out = tick(cj, state, now, seed_source)

Each mutates ``state`` in place and returns an ``EngineOutput``: ``events`` for the event topics
(JackpotWon, JackpotReseeded, PoolUpdated, WarnThresholdReached, WarnStateChanged,
JackpotStateChanged, PoolApproachingMax, the audit records...; ``events.AUDIT_ONLY`` lists those
for the audit log only), ``commands`` for the command topics (WalletCreditCommand,
WinApprovalRequested), and for bets the trigger ``evaluations``. Every id is derived from its
cause, so a replay of the same inputs from the same state reproduces the same outputs.
``seed_source`` supplies the next cycle's secret seed when a settled win reseeds a pool
(``rng.os_seed_source`` in production).

The clock tick drives everything time-based from state alone: wallet retries (backoff), approval
escalations and expiry, scheduled waterfall drops, must-drop / time-drop deadlines (and the
Must Drop warn state before them), the campaign end of timed and promotional jackpots (final
drop or carry-over, then EXPIRED), the drops of a decommissioning jackpot and its archive
(decommission.py) and the active-player window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import balances, decommission
from .activity import BetContext, prune
from .compiled import CompiledJackpot
from .config import JackpotStatus, JackpotType, LevelStatus
from .contribution import BatchResult, ContributionResult, _apply, pool_updated_event
from .errors import DropRejected, EngineError
from .events import COMMAND_TYPES, DROP_DEFERRED, EngineEvent, make_event
from .lifecycle import SYSTEM, expire
from .overrides import OperatorCommand, handle_operator_command
from .payout import Output, WalletResult, on_wallet_result, payout_tick
from .pool import JackpotState
from .rng import SeedSource
from .timing import has_deadlines, relax_stage, schedule_deadline, snoozed, to_ms
from .triggers import TriggerEvaluation, evaluate_bet
from .warn import enter_must_drop
from .waterfall import drop_level, fire_due

__all__ = [
    "EngineOutput",
    "evaluate_after_contribution",
    "process_bet",
    "process_batch",
    "handle_command",
    "handle_wallet_result",
    "tick",
    "FLAG_DEFERRED",
]

J = JackpotStatus
_LIVE = (J.ACTIVE.value, J.DROPPING.value)
FLAG_DEFERRED = 32  # pool flag: the DropDeferred of the current deadline was published


@dataclass(slots=True)
class EngineOutput:
    events: list[EngineEvent] = field(default_factory=list)
    commands: list[EngineEvent] = field(default_factory=list)
    evaluations: list[TriggerEvaluation] = field(default_factory=list)
    rejected: str | None = None  # a refused operator command: why (the state is unchanged)
    ignored: str | None = None  # a wallet result that changed nothing: why

    def add(self, out: Output) -> None:
        self.events.extend(out.events)
        self.commands.extend(out.commands)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": [e.to_dict() for e in self.events],
            "commands": [c.to_dict() for c in self.commands],
            "evaluations": [e.to_dict() for e in self.evaluations],
            "rejected": self.rejected,
            "ignored": self.ignored,
        }


def evaluate_after_contribution(
    cj: CompiledJackpot, state: JackpotState, ctx: BetContext, result: ContributionResult, now: int
) -> EngineOutput:
    """Pipeline step 8 and the drop it may start: activity window, the 7 checks per level,
    anti-prediction delay, winner selection, lock, approval request or wallet credit command."""
    ev = evaluate_bet(cj, state, ctx, result, now)
    out = EngineOutput(evaluations=ev.evaluations)
    out.add(ev.out)
    return out


def process_bet(cj: CompiledJackpot, state: JackpotState, ctx: BetContext, now: int | None = None) -> tuple[ContributionResult, EngineOutput]:
    """Contribution then trigger evaluation of one bet; the output's events include the
    contribution's (PoolUpdated...) first. ``now`` defaults to the bet's timestamp."""
    at = ctx.bet.timestamp if now is None else now
    result = _apply(cj, state, ctx.bet, None)
    out = evaluate_after_contribution(cj, state, ctx, result, at)
    out.events[:0] = result.events
    return result, out


def process_batch(cj: CompiledJackpot, state: JackpotState, ctxs: list[BetContext]) -> tuple[BatchResult, EngineOutput]:
    """A batch in order, each bet evaluated for triggers after its contribution (now = the bet's
    timestamp); PoolUpdated coalesced to one per touched pool at the end."""
    touched: dict = {}
    results = []
    out = EngineOutput()
    for ctx in ctxs:
        r = _apply(cj, state, ctx.bet, touched)
        results.append(r)
        out.events.extend(r.events)
        o = evaluate_after_contribution(cj, state, ctx, r, ctx.bet.timestamp)
        out.events.extend(o.events)
        out.commands.extend(o.commands)
        out.evaluations.extend(o.evaluations)
    for pool, cause, at in touched.values():
        out.events.append(pool_updated_event(cj, pool, cause, at))
    return BatchResult(results, [e for e in out.events]), out


def handle_command(
    cj: CompiledJackpot, state: JackpotState, cmd: OperatorCommand, now: int, seed_source: SeedSource | None = None
) -> EngineOutput:
    """An operator override; all-or-nothing, always with an audit record (``rejected`` says why not)."""
    prune(cj, state, now)
    o, rejected = handle_operator_command(cj, state, cmd, now, seed_source)
    out = EngineOutput(rejected=rejected)
    out.add(o)
    return out


def handle_wallet_result(
    cj: CompiledJackpot, state: JackpotState, result: WalletResult, now: int, seed_source: SeedSource
) -> EngineOutput:
    """The wallet's answer to a credit command: confirm (and settle, reseed), retry or escalate."""
    prune(cj, state, now)
    o, ignored = on_wallet_result(cj, state, result, now, seed_source)
    out = EngineOutput(ignored=ignored)
    out.add(o)
    return out


def tick(cj: CompiledJackpot, state: JackpotState, now: int, seed_source: SeedSource) -> EngineOutput:
    """Everything time-driven, from state alone (see the module docstring)."""
    out = EngineOutput()
    prune(cj, state, now)
    if state.status in (J.DRAFT, J.ARCHIVED):
        return out
    if state.closing:  # decommissioning: payouts go on, then what is left drops, then ARCHIVED
        out.add(payout_tick(cj, state, now, seed_source))
        out.add(decommission.step(cj, state, now))
        return out
    if state.status == J.EXPIRED:
        return out
    out.add(payout_tick(cj, state, now, seed_source))
    out.add(fire_due(cj, state, now))
    if has_deadlines(cj) and state.status in _LIVE:
        _deadlines(cj, state, now, out)
    _campaign_end(cj, state, now, out)
    return out


def _deferred(cj: CompiledJackpot, pool, cause: str, reason: str, now: int) -> EngineEvent:
    return make_event(DROP_DEFERRED, cj.jackpot_id, cause, now,
                      {"reason": reason, "cycle_number": pool.cycle, "deadline_at": pool.deadline_at},
                      level_id=pool.level_id, currency=pool.currency)


def _deadlines(cj: CompiledJackpot, state: JackpotState, now: int, out: EngineOutput) -> None:
    """Must-drop and time-drop deadlines of a recurring schedule, per pool."""
    warn_ms = cj.config.drop_windows.must_drop_warn_minutes * 60_000
    for currency in cj.currencies:
        for cl in cj.levels:
            pool = state.pools[currency][cl.level_id]
            if pool.cycle == 0 or pool.closed:
                continue
            if not pool.deadline_at:
                pool.deadline_open, pool.deadline_at = schedule_deadline(cj, now)  # type: ignore[misc]
            status = state.level_status[cl.level_id]
            done = pool.last_drop_at >= pool.deadline_open
            if now >= pool.deadline_at and (done or status in (LevelStatus.NO_WIN, LevelStatus.DISABLED)):
                pool.deadline_open, pool.deadline_at = schedule_deadline(cj, now + 1)  # type: ignore[misc]
                pool.flags &= ~FLAG_DEFERRED
                done = pool.last_drop_at >= pool.deadline_open
            if done or status != LevelStatus.ENABLED or pool.locked:
                continue
            if now >= pool.deadline_at - warn_ms:
                enter_must_drop(cj, pool, f"deadline|{pool.deadline_at}", now, out.events)
            if now < pool.deadline_at:
                continue
            cause = f"deadline|{pool.deadline_at}"
            reason = "drop delayed by an operator" if snoozed(pool, now) else None
            if reason is None:
                try:
                    _, o = drop_level(cj, state, cl.level_id, currency, kind="deadline", cause=cause, actor=SYSTEM,
                                      now=now, stage=relax_stage(cj, cl, pool))
                    out.add(o)
                    continue
                except DropRejected as e:
                    reason = e.reason
            if not pool.flags & FLAG_DEFERRED:
                pool.flags |= FLAG_DEFERRED
                out.events.append(_deferred(cj, pool, f"{cause}|deferred", reason, now))


def _campaign_end(cj: CompiledJackpot, state: JackpotState, now: int, out: EngineOutput) -> None:
    """Timed / promotional end: force-drop every pool (final, no reseed) or carry over; EXPIRED
    follows once no drop is in progress."""
    sch = cj.config.schedule
    if sch is None or sch.end_at is None or cj.type not in (JackpotType.TIMED.value, JackpotType.PROMOTIONAL.value):
        return
    end = to_ms(sch.end_at)
    if now < end or state.status != J.ACTIVE:
        return
    started = 0
    if sch.end_action == "force_drop":
        for currency in cj.currencies:
            for cl in cj.levels:
                pool = state.pools[currency][cl.level_id]
                if pool.cycle == 0 or pool.closed or pool.locked or state.level_status[cl.level_id] != LevelStatus.ENABLED:
                    continue
                try:
                    _, o = drop_level(cj, state, cl.level_id, currency, kind="final", cause=f"campaign-end|{end}",
                                      actor=SYSTEM, now=now, stage=4, final=True)
                    out.add(o)
                    started += 1
                except DropRejected as e:
                    out.events.append(_deferred(cj, pool, f"campaign-end|{end}|{currency}|deferred", e.reason, now))
    if not started and state.status == J.ACTIVE:
        out.events.extend(expire(cj, state, actor=SYSTEM, reason=f"campaign ended ({sch.end_action})",
                                 cause_id=f"campaign-end|{end}", now=now))
        if sch.end_action == "carry_over" and sch.carry_over_to is not None:
            _carry_over(cj, state, str(sch.carry_over_to), f"campaign-end|{end}", now, out)


def _carry_over(cj: CompiledJackpot, state: JackpotState, target: str, cause: str, now: int, out: EngineOutput) -> None:
    """The spec's carry-over: what every pool holds moves to the next campaign's jackpot
    (balances.py); a balance it refuses comes back to this jackpot's reserve, with an alert."""
    for pool in state.iter_pools():
        if pool.balance and not pool.locked:
            try:
                sent = balances.send(cj, state, pool, target, why="campaign ended: carried over", now=now)
            except EngineError as e:  # the funds stay here, for the decommission: said, never a stalled tick
                out.events.append(_deferred(cj, pool, f"{cause}|carry-over|{pool.level_id}|{pool.currency}",
                                            f"carry-over not sent: {e.reason}", now))
                continue
            for e in sent:
                (out.commands if e.event_type in COMMAND_TYPES else out.events).append(e)
