"""Seeds: start a pool cycle, carry the hidden reserve into it, and operator pre-seeds.

A cycle's seed amount (its reset amount, the floor the pool never goes below) is

    seed_amount = seed_draw + carry_in (+ pre-seed)

- ``seed_draw`` is drawn from the cycle's secret seed, uniform in [seed_from, seed_to]
  (whole currency units when ``integer_wins_only``); it is operator-funded (meter ``seeded``).
- ``carry_in`` is the hidden-increment reserve of the ended cycle plus any reserve carried
  (overflow kept at win_max, fractions of integer-only wins), as much as fits below
  ``win_from`` so a cycle never starts inside its own win range; the rest stays in reserve
  for later cycles. With ``integer_wins_only`` the carry is taken in whole units.
- a pre-seed is operator money added before the cycle's first contribution (meter
  ``pre_seeded``, tracked separately for reporting); it raises the reset amount.
"""

from __future__ import annotations

from .compiled import CompiledJackpot, CompiledLevel, LevelLimits
from .contribution import check_thresholds, pool_updated_event
from .errors import AdjustmentRejected, SeedingRejected
from .events import CYCLE_REVEALED, CYCLE_STARTED, POOL_ADJUSTED, EngineEvent, make_event
from .money import floor_to_unit
from .pool import JackpotState, PoolState
from .rng import CycleContext, CycleDraws, DrawRanges, draw_cycle
from .succession import cycle_level

__all__ = ["draw_ranges", "start_cycle", "reveal_event", "pre_seed", "cycle_context"]


def draw_ranges(cl: CompiledLevel, lim: LevelLimits) -> DrawRanges:
    return DrawRanges(
        seed_from=lim.seed_from,
        seed_to=lim.seed_to,
        win_from=lim.win_from,
        win_to=lim.win_to,
        warn_from_num=cl.warn_from[0],
        warn_from_den=cl.warn_from[1],
        warn_to_num=cl.warn_to[0],
        warn_to_den=cl.warn_to[1],
        delay_from=cl.delay_from,
        delay_to=cl.delay_to,
        whole_units=cl.integer_wins_only,
    )


def cycle_context(cj: CompiledJackpot, pool: PoolState, cycle: int | None = None) -> CycleContext:
    return CycleContext(cj.jackpot_id, pool.level_id, pool.currency, pool.cycle if cycle is None else cycle)


def start_cycle(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    seed: bytes,
    *,
    cause: str,
    now: int,
    events: list[EngineEvent],
) -> CycleDraws:
    """Begin the next cycle of a pool from a fresh secret seed (activation or reseed).

    The pool's displayed amount must already be empty (a new pool, or a win has been taken).
    Publishes CycleStarted with the seed's commitment; the seed itself stays in the state
    until ``reveal_event`` logs it after the drop.
    """
    cl = cycle_level(cj, state, level_id, currency)  # a next_cycle change: the new cycle under its math
    pool = state.pool(level_id, currency)
    if pool.closed:
        raise SeedingRejected(f"pool {level_id}/{currency} is closed (final drop taken)")
    if pool.locked:
        raise SeedingRejected(f"pool {level_id}/{currency} is locked for a drop")
    if pool.visible:
        raise SeedingRejected(f"pool {level_id}/{currency} still displays {pool.visible} micros; take the win first")
    lim = cl.limits[currency]
    ranges = draw_ranges(cl, lim)
    ctx = CycleContext(cj.jackpot_id, cl.level_id, currency, pool.cycle + 1)
    try:
        draws = draw_cycle(bytes(seed), ctx, ranges)
    except ValueError as e:
        raise SeedingRejected(f"cannot start cycle {ctx.cycle} of {level_id}/{currency}: {e}") from None

    reserve = pool.hidden + pool.carry
    room = lim.win_from - draws.seed_draw
    carry_in = min(reserve, room) if room > 0 else 0
    if cl.integer_wins_only:
        carry_in = floor_to_unit(carry_in)

    pool.cycle = ctx.cycle
    pool.hidden = 0
    pool.carry = reserve - carry_in
    pool.visible = draws.seed_draw + carry_in
    pool.seed_amount = pool.visible
    pool.seed_draw = draws.seed_draw
    pool.carry_in = carry_in
    pool.win_target = draws.win_target
    pool.warn_threshold = draws.warn_threshold
    pool.eval_delay = draws.evaluation_delay
    pool.fire_threshold = draws.fire_threshold
    pool.armed_at = pool.armed_bets = pool.drop_seq = 0
    pool.fails = []
    pool.retargets = []
    pool.rng_seed = bytes(seed).hex()
    pool.commitment = draws.commitment
    pool.ranges = ranges.to_dict()
    pool.started_at = now
    pool.cycle_gross = pool.cycle_house = pool.cycle_contributions = 0
    pool.cycle_pre_seed = pool.cycle_bets = pool.cycle_wagers = 0
    pool.flags = 0
    m = pool.meters
    m.seeded += draws.seed_draw
    m.carried += carry_in

    events.append(
        make_event(
            CYCLE_STARTED,
            cj.jackpot_id,
            f"{cause}|c{pool.cycle}",
            now,
            {"cycle_number": pool.cycle, "commitment": draws.commitment, "seed_amount": pool.seed_amount},
            level_id=cl.level_id,
            currency=currency,
        )
    )
    check_thresholds(cj, cl, pool, cause, now, events)
    return draws


def reveal_event(cj: CompiledJackpot, pool: PoolState, cause: str, now: int) -> EngineEvent:
    """CycleRevealed: the ended cycle's secret seed and everything needed to re-derive it.

    Audit-log only (it names the win target); published when the cycle's drop is settled.
    """
    return make_event(
        CYCLE_REVEALED,
        cj.jackpot_id,
        f"{cause}|c{pool.cycle}",
        now,
        {
            "cycle_number": pool.cycle,
            "seed": pool.rng_seed,
            "commitment": pool.commitment,
            "ranges": dict(pool.ranges),
            "seed_draw": pool.seed_draw,
            "carry_in": pool.carry_in,
            "seed_amount": pool.seed_amount,
            # as drawn at cycle start (cancel-drop redraws replace them; see retargets)
            "win_target": pool.retargets[0][2] if pool.retargets else pool.win_target,
            "warn_threshold": pool.warn_threshold,
            "evaluation_delay": pool.retargets[0][3] if pool.retargets else pool.eval_delay,
            "fire_threshold": pool.fire_threshold,
            # cancel-drop redraw k: [lo, hi, target replaced, delay replaced]; the last target and delay
            # in force are final_win_target / final_evaluation_delay
            "retargets": [list(r) for r in pool.retargets],
            "final_win_target": pool.win_target,
            "final_evaluation_delay": pool.eval_delay,
            "drops": pool.drop_seq,
            "started_at": pool.started_at,
        },
        level_id=pool.level_id,
        currency=pool.currency,
    )


def pre_seed(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    amount: int,
    *,
    actor: str,
    cause_id: str,
    now: int,
) -> list[EngineEvent]:
    """Operator-funded pre-seed before the cycle's first contribution.

    Raises the cycle's reset amount; refused once contributions have begun, on a locked or
    closed pool, or when it would lift the pool to win_from or beyond.
    """
    if not actor:
        raise AdjustmentRejected("a pre-seed needs an actor")
    if type(amount) is not int or amount <= 0:
        raise AdjustmentRejected(f"pre-seed amount must be a positive int of micros, got {amount!r}")
    cl = cj.level(level_id)
    pool = state.pool(level_id, currency)
    if pool.cycle == 0 or pool.closed:
        raise AdjustmentRejected(f"pool {level_id}/{currency} has no running cycle; activate the jackpot first")
    if pool.locked:
        raise AdjustmentRejected(f"pool {level_id}/{currency} is locked for a drop")
    if pool.cycle_contributions or pool.pending or pool.visible + pool.hidden != pool.seed_amount:
        raise AdjustmentRejected(
            f"pool {level_id}/{currency}: pre-seed is only allowed before the cycle's first contribution"
        )
    lim = cl.limits[currency]
    if pool.seed_amount + amount > lim.win_from:
        raise AdjustmentRejected(
            f"pool {level_id}/{currency}: pre-seed of {amount} would lift the seed to "
            f"{pool.seed_amount + amount}, above win_from {lim.win_from} micros"
        )
    pool.visible += amount
    pool.seed_amount += amount
    pool.cycle_pre_seed += amount
    pool.meters.pre_seeded += amount
    events = [
        make_event(
            POOL_ADJUSTED,
            cj.jackpot_id,
            cause_id,
            now,
            {
                "amount": amount,
                "reason": "PRE_SEED",
                "actor": actor,
                "note": "",
                "visible_amount": pool.visible,
                "cycle_number": pool.cycle,
            },
            level_id=level_id,
            currency=currency,
        )
    ]
    check_thresholds(cj, cl, pool, cause_id, now, events)
    events.append(pool_updated_event(cj, pool, cause_id, now))
    return events
