"""Budget model: per-cycle and lifetime counters, the per-currency P&L, and the spec's planning formulas.

The counters live on the pools (``pool.py``); this module only reads them, so the budget can
never disagree with the meters.

Net position (operator view, per currency)::

    house_cut + overflow_to_revenue + adjustments_out - adjustments_in - seeds - pre_seed - chain_prizes

Main prizes are reported but not subtracted: they are paid out of the pool, which is funded by
net contributions and the seeds already counted as a cost; subtracting them too would count the
seed twice. The money still in the pools is reported as ``pool_liability`` (owed to players).
Chain-reaction prizes are operator-funded; the payout stage passes their total in.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .config import Level
from .money import from_micros
from .pool import JackpotState, PoolState

__all__ = [
    "CycleCounters",
    "BudgetReport",
    "ExpectedCycle",
    "cycle_counters",
    "budget_report",
    "expected_cycle",
    "budget_alerts",
    "cycle_overrun",
]


@dataclass(slots=True, frozen=True)
class CycleCounters:
    """Counters of a pool's running cycle and its lifetime totals (micros)."""

    level_id: str
    currency: str
    cycle_number: int
    seed_amount: int
    cycle_gross: int
    cycle_house_cut: int
    cycle_contributions: int  # net reaching the pool this cycle
    cycle_pre_seed: int
    cycle_bets: int
    cycle_wagers: int
    total_gross: int
    total_house_cut: int
    total_contributions: int
    total_pre_seed: int
    total_seeded: int
    total_won: int
    hits: int


def cycle_counters(pool: PoolState) -> CycleCounters:
    m = pool.meters
    return CycleCounters(
        level_id=pool.level_id,
        currency=pool.currency,
        cycle_number=pool.cycle,
        seed_amount=pool.seed_amount,
        cycle_gross=pool.cycle_gross,
        cycle_house_cut=pool.cycle_house,
        cycle_contributions=pool.cycle_contributions,
        cycle_pre_seed=pool.cycle_pre_seed,
        cycle_bets=pool.cycle_bets,
        cycle_wagers=pool.cycle_wagers,
        total_gross=m.gross,
        total_house_cut=m.house,
        total_contributions=m.gross - m.house,
        total_pre_seed=m.pre_seeded,
        total_seeded=m.seeded,
        total_won=m.won,
        hits=m.hits,
    )


@dataclass(slots=True, frozen=True)
class BudgetReport:
    """Per-jackpot, per-currency P&L (spec: Budget Model), micros."""

    currency: str
    gross_contributions: int
    house_cut: int
    net_pool_contributions: int
    pre_seed: int
    seeds: int
    prizes_main: int
    prizes_chain: int
    adjustments_in: int
    adjustments_out: int
    overflow_revenue: int
    pool_liability: int
    net_position: int


def budget_report(state: JackpotState, currency: str, *, chain_prizes: int = 0) -> BudgetReport:
    pools = list(state.pools[currency].values())
    s = lambda f: sum(f(p) for p in pools)  # noqa: E731
    gross = s(lambda p: p.meters.gross)
    house = s(lambda p: p.meters.house)
    pre = s(lambda p: p.meters.pre_seeded)
    seeds = s(lambda p: p.meters.seeded)
    won = s(lambda p: p.meters.won)
    adj_in = s(lambda p: p.meters.adj_in)
    adj_out = s(lambda p: p.meters.adj_out)
    revenue = s(lambda p: p.meters.overflow_revenue)
    liability = s(lambda p: p.visible + p.hidden + p.carry + p.pending)
    return BudgetReport(
        currency=currency,
        gross_contributions=gross,
        house_cut=house,
        net_pool_contributions=gross - house,
        pre_seed=pre,
        seeds=seeds,
        prizes_main=won,
        prizes_chain=chain_prizes,
        adjustments_in=adj_in,
        adjustments_out=adj_out,
        overflow_revenue=revenue,
        pool_liability=liability,
        net_position=house + revenue + adj_out - adj_in - seeds - pre - chain_prizes,
    )


@dataclass(slots=True, frozen=True)
class ExpectedCycle:
    """Expected value per cycle (spec: Budget Model), in currency units (Decimal, planning figures).

    Who funds what, as the engine moves the money (``seeding.py``, ``drops.py``):

    - ``avg_seed``: the operator's seed draw, paid every cycle, (seed_from + seed_to) / 2;
    - ``carried_reserve``: players' money, the hidden increment of the cycle before, added on top
      of the seed draw (the reset amount is ``avg_seed + carried_reserve``), at most what fits
      below win_from;
    - contributions: the rest, from the reset amount up to the drop's target (``avg_target``,
      (win_from + win_to) / 2, which the full pool, visible plus hidden, reaches); of them a share
      ``h`` (the hidden increment) goes to the next cycle's reserve, so the prize paid is the
      target less that share (``avg_prize``).

    In steady state the reserve carried in equals the reserve put aside: with growth
    ``G = avg_target - avg_seed`` the net contributions are ``G / (1 + h)`` and the carried reserve
    ``h G / (1 + h)``. The operator's net per cycle is the house cut on the gross contributions,
    less the seed draw and the chain prizes: exactly the net position of ``budget_report`` and the
    SQL P&L (pre-seed is a launch cost, not a per-cycle one). The spec's shorter formula ("house
    cut - chain cost - hidden increment cost") counted no seed and charged the hidden increment,
    which is players' money carried forward, as a cost; it disagreed with every ledger.
    """

    avg_seed: Decimal
    avg_target: Decimal
    carried_reserve: Decimal
    reset_amount: Decimal
    avg_prize: Decimal
    net_contributions: Decimal
    contributions_needed: Decimal  # gross contributions per cycle
    house_cut_per_cycle: Decimal
    chain_cost: Decimal
    seed_cost: Decimal  # operator money per cycle (the seed draw)
    net_per_cycle: Decimal
    cycle_hours: Decimal | None
    monthly_net: Decimal | None


def expected_cycle(
    level: Level,
    currency: str,
    house_cut: Decimal,
    *,
    gross_velocity_per_hour: Decimal | None = None,
) -> ExpectedCycle:
    """The steady-state cycle of a level (see ``ExpectedCycle``); the cycle duration is the gross
    contributions needed over the gross velocity, the monthly net ``net x 720 h / duration``."""
    a = level.amounts_for(currency)
    avg_seed = (a.seed_from + a.seed_to) / 2
    target = (a.win_from + a.win_to) / 2
    growth = target - avg_seed
    h = level.hidden_increment.coefficient if level.hidden_increment.enabled else Decimal(0)
    room = max(Decimal(0), a.win_from - avg_seed)  # a cycle never starts inside its own win range
    carried = min(h * growth / (1 + h), room)
    net = growth - carried
    needed = net / (1 - house_cut)
    house = needed * house_cut
    # a currency's own amounts may leave the chain prizes out: the level's apply, as in the payout
    prizes = a.chain_prize_amounts if a.chain_prize_amounts is not None else level.chain_reaction.prize_amounts
    chain = sum(prizes, Decimal(0)) if level.chain_reaction.enabled else Decimal(0)
    result = house - avg_seed - chain
    hours = monthly = None
    if gross_velocity_per_hour:
        hours = needed / gross_velocity_per_hour
        monthly = result * Decimal(720) / hours if hours else None
    return ExpectedCycle(avg_seed=avg_seed, avg_target=target, carried_reserve=carried,
                         reset_amount=avg_seed + carried, avg_prize=target - h * net, net_contributions=net,
                         contributions_needed=needed, house_cut_per_cycle=house, chain_cost=chain,
                         seed_cost=avg_seed, net_per_cycle=result, cycle_hours=hours, monthly_net=monthly)


def budget_alerts(report: BudgetReport) -> list[str]:
    """The spec's budget alerts that the counters can decide on their own."""
    alerts = []
    if report.net_position < 0:
        alerts.append(f"negative net position: {from_micros(report.net_position)} {report.currency}")
    if report.prizes_chain * 5 > report.house_cut:
        alerts.append("chain reaction costs exceed 20% of the house cut")
    if report.pre_seed > report.house_cut:
        alerts.append("pre-seed exceeds the house cut")
    return alerts


def cycle_overrun(pool: PoolState, now_ms: int, expected_hours: Decimal) -> bool:
    """True when the running cycle has lasted more than 150% of the expected duration."""
    elapsed_ms = now_ms - pool.started_at
    return Decimal(elapsed_ms) > expected_hours * 3600 * 1000 * Decimal("1.5")

