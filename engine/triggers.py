"""Trigger evaluation: after every applied bet, does a level drop now?

For each level of the bet's currency (display order, so simultaneous triggers resolve top level
first; a locked level is not evaluated: a later trigger plays for the reseeded amount), the
spec's 7 checks run in its order, all of which must pass:

    1 pool >= win_target            5 active players >= min_players (the pool's currency)
    2 triggering bet >= min_bet     6 now within the drop windows (time of day, day of week)
    3 triggering bet <= max_bet     7 the bet's game may trigger (not contribution-only)
    4 player's session spins >= min_spins

then the triggering player's own conditions (not excluded, segment, jurisdiction, KYC, win caps).
Check 1 failing stops the evaluation; otherwise every failing condition is recorded. Counts per
reason accumulate on the pool for the cycle (``PoolState.fails``, indexed by ``REASONS``:
condition failure analysis, ``failure_report``), and the evaluations of the levels at or above
their target are returned to the caller (below-target levels are only counted: the common case).

Anti-prediction: the bet that first finds the pool at or above its secret target only *arms* it;
the drop fires on the ``eval_delay``-th (1..N, drawn per cycle) further bet that passes every
check. With operator time-of-day targeting (Modes 3/4), outside the peak windows a due drop
fires only with ``off_peak_drop_chance`` (a draw of the cycle seed labelled with the bet id).

Suspended: levels not ENABLED (NO_WIN grows but never drops), a locked pool, a PAUSED jackpot,
manual-only mode, time-drop mode (deadlines only), the drop cooldown, an operator's delay-drop.
Must-drop relaxation (``timing.relax_stage``) applies to checks 2, 5 and 6; at Win Max (or past
an unmet deadline) the checks and the delay are waived: the next personally eligible player's
bet drops the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .activity import BetContext, active_count, prune, record_bet
from .compiled import CompiledJackpot, CompiledLevel
from .config import JackpotStatus, LevelStatus
from .contribution import ContributionResult, Outcome
from .eligibility import (
    BET_ABOVE_MAX,
    BET_BELOW_MIN,
    CHECKS,
    GAME_NOT_ELIGIBLE,
    OUTSIDE_TIME_WINDOW,
    PERSONAL,
    PLAYERS_BELOW_MIN,
    POOL_BELOW_TARGET,
    SPINS_BELOW_MIN,
    bet_qualifies,
    effective_min_bet,
    effective_min_players,
    personal_failures,
)
from .errors import DropRejected
from .payout import NoWinner, Output
from .pool import JackpotState, PoolState
from .rng import derive_chance
from .seeding import cycle_context
from .timing import MANUAL, MUST_DROP, TIME_DROP, deadline_overdue, in_cooldown, in_windows, relax_stage, snoozed
from .waterfall import drop_level

__all__ = [
    "COOLDOWN",
    "SNOOZED",
    "ARMING",
    "DELAY",
    "OFF_PEAK",
    "NO_WINNER",
    "DROP_REFUSED",
    "REASONS",
    "TriggerEvaluation",
    "evaluate_bet",
    "failure_report",
]

COOLDOWN = "cooldown"
SNOOZED = "snoozed"
ARMING = "armed"  # the pool just reached its target: armed, the delay starts
DELAY = "evaluation_delay"  # armed, waiting for more qualifying bets
OFF_PEAK = "off_peak"  # time-of-day targeting held the drop back
NO_WINNER = "no_eligible_winner"
DROP_REFUSED = "drop_refused"  # the pool could not be locked (e.g. nothing to pay)
REASONS = CHECKS + PERSONAL + (COOLDOWN, SNOOZED, ARMING, DELAY, OFF_PEAK, NO_WINNER, DROP_REFUSED)
_INDEX = {r: i for i, r in enumerate(REASONS)}
_N = len(REASONS)

_LIVE = (JackpotStatus.ACTIVE.value, JackpotStatus.DROPPING.value)
_ENABLED = LevelStatus.ENABLED.value


@dataclass(slots=True)
class TriggerEvaluation:
    """What the trigger stage decided for one level on one bet."""

    level_id: str
    currency: str
    bet_id: str
    outcome: str  # drop | armed | waiting | failed | suspended
    reason: str | None = None  # the first failing check, or the suspension
    failed: tuple[str, ...] = ()  # every failing condition (when check 1 passed)
    stage: int = 0  # must-drop relaxation stage
    armed_bets: int = 0
    win_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level_id": self.level_id,
            "currency": self.currency,
            "bet_id": self.bet_id,
            "outcome": self.outcome,
            "reason": self.reason,
            "failed": list(self.failed),
            "stage": self.stage,
            "armed_bets": self.armed_bets,
            "win_id": self.win_id,
        }


@dataclass(slots=True)
class BetEvaluation:
    evaluations: list[TriggerEvaluation] = field(default_factory=list)
    out: Output = field(default_factory=Output)


def _count(pool: PoolState, reasons: tuple[str, ...] | list[str]) -> None:
    f = pool.fails
    if len(f) < _N:
        f.extend([0] * (_N - len(f)))
    for r in reasons:
        f[_INDEX[r]] += 1


def failure_report(pool: PoolState) -> dict[str, int]:
    """Condition failure analysis of the pool's running cycle: reason -> count."""
    return {r: n for r, n in zip(REASONS, pool.fails) if n}


def evaluate_bet(
    cj: CompiledJackpot, state: JackpotState, ctx: BetContext, result: ContributionResult, now: int
) -> BetEvaluation:
    """Record the player's activity and evaluate every level of the bet's currency."""
    res = BetEvaluation()
    prune(cj, state, now)
    if result.outcome not in (Outcome.APPLIED, Outcome.BUFFERED):
        return res
    bet = ctx.bet
    currency = result.currency
    pools = state.pools[currency]
    game = cj.games[bet.game_id]
    if cj.drop_mode == MUST_DROP:
        stages = [relax_stage(cj, cl, pools[cl.level_id]) for cl in cj.levels]
    else:
        stages = [0] * len(cj.levels)
    qualifies = [
        bet_qualifies(cl.limits[currency], bet.bet_amount, game.trigger_eligible, st)
        for cl, st in zip(cj.levels, stages)
    ]
    record_bet(cj, state, ctx, result, qualifies, now)
    if state.status not in _LIVE or cj.drop_mode == MANUAL:
        return res
    for cl, stage in zip(cj.levels, stages):
        pool = pools[cl.level_id]
        if state.level_status[cl.level_id] != _ENABLED or pool.cycle == 0 or pool.closed or pool.locked:
            continue
        ev = _evaluate_level(cj, state, ctx, cl, pool, stage, game.trigger_eligible, now, res.out)
        if ev is not None:
            res.evaluations.append(ev)
    return res


def _evaluate_level(
    cj: CompiledJackpot,
    state: JackpotState,
    ctx: BetContext,
    cl: CompiledLevel,
    pool: PoolState,
    stage: int,
    game_eligible: bool,
    now: int,
    out: Output,
) -> TriggerEvaluation | None:
    bet = ctx.bet
    overdue = deadline_overdue(cj, pool, now) if pool.deadline_at else False
    if cj.drop_mode == TIME_DROP and not overdue:
        return None  # time-drop levels drop at their deadline, never on a bet
    if overdue:
        stage = 4
    # check 1 (the common case, kept cheap: counted, not listed in the evaluations)
    if pool.visible + pool.hidden < pool.win_target and stage < 4:
        _count(pool, (POOL_BELOW_TARGET,))
        return None
    ev = TriggerEvaluation(cl.level_id, pool.currency, bet.bet_id, "failed", stage=stage)

    def suspended(reason: str) -> TriggerEvaluation:
        ev.outcome, ev.reason = "suspended", reason
        _count(pool, (reason,))
        return ev

    if snoozed(pool, now):
        return suspended(SNOOZED)
    if in_cooldown(cl, pool, now) and not overdue:
        return suspended(COOLDOWN)
    lim = cl.limits[pool.currency]
    if not pool.armed_at and stage < 4:
        pool.armed_at = now
        pool.armed_bets = 0
        ev.outcome, ev.reason = "armed", ARMING
        _count(pool, (ARMING,))
        return ev
    # checks 2-7, then the player's own conditions
    failed = []
    if stage < 4:
        amount = bet.bet_amount
        if amount < effective_min_bet(lim, stage):
            failed.append(BET_BELOW_MIN)
        if lim.max_bet and amount > lim.max_bet:
            failed.append(BET_ABOVE_MAX)
        if ctx.session_spins < cl.min_spins:
            failed.append(SPINS_BELOW_MIN)
        need = effective_min_players(cl, stage)
        if need and active_count(cj, state, pool.currency, now) < need:
            failed.append(PLAYERS_BELOW_MIN)
        if stage < 3 and not in_windows(cj.config.drop_windows.windows, cj.config.drop_windows.timezone, now):
            failed.append(OUTSIDE_TIME_WINDOW)
        if not game_eligible:
            failed.append(GAME_NOT_ELIGIBLE)
    failed += personal_failures(
        cj, state, bet.player_id, ctx.flags, ctx.segments, ctx.jurisdiction, cl.index, now
    )
    if failed:
        ev.failed = tuple(failed)
        ev.reason = failed[0]
        _count(pool, failed)
        return ev
    # evaluation delay (waived at Win Max / past a deadline)
    if stage < 4:
        pool.armed_bets += 1
        ev.armed_bets = pool.armed_bets
        if pool.armed_bets < pool.eval_delay:
            ev.outcome, ev.reason = "waiting", DELAY
            _count(pool, (DELAY,))
            return ev
        rules = cj.config.operator_rules
        if stage < 3 and rules.peak_windows and not in_windows(rules.peak_windows, cj.config.drop_windows.timezone, now):
            label = cycle_context(cj, pool).label(f"off_peak/{bet.bet_id}")
            if not derive_chance(bytes.fromhex(pool.rng_seed), label, *cj.off_peak_chance):
                ev.outcome, ev.reason = "waiting", OFF_PEAK
                _count(pool, (OFF_PEAK,))
                return ev
    try:
        win, o = drop_level(
            cj, state, cl.level_id, pool.currency, kind="trigger", cause=bet.bet_id, actor="system", now=now,
            stage=stage, trigger=(bet.bet_id, bet.player_id, bet.game_id, bet.brand_id),
        )
    except DropRejected as e:
        ev.reason = NO_WINNER if isinstance(e, NoWinner) else DROP_REFUSED
        _count(pool, (ev.reason,))
        return ev
    out.extend(o)
    ev.outcome, ev.reason, ev.win_id = "drop", None, win.win_id
    return ev
