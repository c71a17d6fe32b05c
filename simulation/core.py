"""Monte Carlo core: drive the live engine with synthetic traffic and record every cycle.

Pure: no I/O, no wall clock, no matplotlib. The simulated clock (epoch ms) is the engine's
``now``; bets go through ``process_batch`` exactly as a worker sends them, the clock ``tick``
runs at least every ``tick_ms`` of simulated time (and at every waterfall due time), and the
simulator answers every ``WalletCreditCommand`` with a confirmation through
``handle_wallet_result``, so drops settle, reseed and cascade through the same code as live.

Time scaling (why a run of 1,000 Grand cycles takes seconds, not days): a flagship Grand needs
millions of real bets per cycle. Each simulated bet therefore stands for ``k`` real bets of one
player (``k`` chosen per observed level so that one expected cycle takes about ``resolution``
simulated bets). The config is scaled so the engine sees the same money flow and the same
decisions: bet amounts x k, and the level's min_bet, max_bet and single-contribution bound x k
(so "bet >= min_bet" is decided exactly as for one real bet), the evaluation delay / k (it
counts bets), the active-player window x k (a player's k real bets are one simulated bet, so the
window keeps the same number of bets in it). Simulated time advances k times faster per bet, so
drop windows, deadlines, cooldowns and the hour-of-day profile stay in real time. Each level is
observed in its own run at its own k (the other levels run along; only the observed level's
numbers are kept), because the fast levels need a fine k and the slow ones a coarse one.
Large-win approval is assumed granted (thresholds removed) and the wallet confirms at once.

Determinism: the traffic draws come from ``random.Random`` seeded with a string of the run seed
and level id; cycle seeds from ``rng.master_seed_source`` keyed by an HMAC of the run seed.
Same seed, config and traffic -> identical results.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from jackpot.engine import (
    Bet,
    BetContext,
    Jackpot,
    WalletResult,
    activate,
    compile_jackpot,
    expected_cycle,
    handle_wallet_result,
    new_jackpot_state,
    process_batch,
    tick,
)
from jackpot.engine.events import (
    DROP_STARTED,
    JACKPOT_WON,
    WALLET_CREDIT_COMMAND,
    WARN_THRESHOLD_REACHED,
)
from jackpot.engine.money import to_micros
from jackpot.engine.pool import FLAG_AT_MAX
from jackpot.engine.rng import master_seed_source
from jackpot.engine.triggers import REASONS

from .traffic import QUANTILES, TrafficProfile, bet_size_table

__all__ = [
    "SIM_EPOCH_MS",
    "CYCLE_FIELDS",
    "LevelPlan",
    "LevelRun",
    "plan_levels",
    "scale_config",
    "run_level",
    "simulate",
]

SIM_EPOCH_MS = calendar.timegm((2027, 1, 4, 0, 0, 0)) * 1000  # a Monday, 00:00 UTC
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

CYCLE_FIELDS = (
    "cycle", "started_at", "drop_at", "settled_at", "seed_amount", "seed_draw", "carry_in", "win_target",
    "win_amount", "chain_paid", "contributions", "house_cut", "gross", "sim_bets", "warn_at", "at_max",
    "armed_at", "kind",
)
_C = {f: i for i, f in enumerate(CYCLE_FIELDS)}
_WATCHED_EVENTS = frozenset({WARN_THRESHOLD_REACHED, DROP_STARTED, JACKPOT_WON})


@dataclass(slots=True, frozen=True)
class LevelPlan:
    """How one level is simulated: its expected cycle and the time scale chosen for it."""

    level_id: str
    name: str
    currency: str
    growth: float  # expected net growth per cycle (avg prize - avg seed), units
    net_per_bet: float  # expected net contribution of one real bet to this level, units
    bets_per_cycle: float  # expected real bets per cycle
    scale: int  # k: real bets per simulated bet
    expected_hours: float  # expected cycle duration at the traffic's mean rate

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(slots=True)
class LevelRun:
    """Everything recorded for one observed level (money in micros, times in epoch ms)."""

    plan: LevelPlan
    cycles: list[list] = field(default_factory=list)  # rows of CYCLE_FIELDS, completed cycles
    fails_by_hour: list[list[int]] = field(default_factory=lambda: [[0] * len(REASONS) for _ in range(24)])
    samples: list[list[tuple[int, int]]] = field(default_factory=list)  # pool growth of the first cycles
    meters: dict[str, int] = field(default_factory=dict)
    sim_start: int = SIM_EPOCH_MS
    sim_end: int = SIM_EPOCH_MS
    sim_bets: int = 0
    stop_reason: str = ""
    expected: dict[str, float | None] = field(default_factory=dict)
    win_max: int = 0
    win_from: int = 0
    win_to: int = 0
    seed_from: int = 0
    seed_to: int = 0

    def column(self, name: str) -> list:
        i = _C[name]
        return [r[i] for r in self.cycles]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "cycle_fields": list(CYCLE_FIELDS),
            "cycles": self.cycles,
            "reasons": list(REASONS),
            "fails_by_hour": self.fails_by_hour,
            "samples": [[list(p) for p in s] for s in self.samples],
            "meters": self.meters,
            "sim_start": self.sim_start,
            "sim_end": self.sim_end,
            "sim_bets": self.sim_bets,
            "stop_reason": self.stop_reason,
            "expected": self.expected,
            "limits": {"win_max": self.win_max, "win_from": self.win_from, "win_to": self.win_to,
                       "seed_from": self.seed_from, "seed_to": self.seed_to},
        }


# --------------------------------------------------------------------------- planning


def _shares(d: dict[str, float], keys: list[str]) -> dict[str, float]:
    src = {k: v for k, v in d.items() if k in keys and v > 0} if d else {k: 1.0 for k in keys}
    if not src:
        raise ValueError(f"traffic mix names none of {keys}")
    total = sum(src.values())
    return {k: v / total for k, v in src.items()}


def _primary_currency(jackpot: Jackpot, traffic: TrafficProfile) -> str:
    if traffic.currencies:
        mix = _shares(traffic.currencies, list(jackpot.currencies))
        return max(mix, key=lambda c: (mix[c], -jackpot.currencies.index(c)))
    return jackpot.currencies[0]


def plan_levels(jackpot: Jackpot, traffic: TrafficProfile, *, resolution: int = 120,
                scale: int | None = None) -> list[LevelPlan]:
    """Expected cycle of every level from the config and the traffic, and its time scale k."""
    cur = _primary_currency(jackpot, traffic)
    cur_share = _shares(traffic.currencies, list(jackpot.currencies)).get(cur, 1.0) if traffic.currencies else 1.0
    fx = traffic.fx.get(cur, 1.0)
    sizes = bet_size_table(traffic)
    mean_bet = float(sum(sizes)) / len(sizes) * fx
    games = {g.game_id: g for g in jackpot.games}
    gmix = _shares(traffic.games, list(games))
    coef = sum(float(games[g].coefficient) * s for g, s in gmix.items())
    receiving = [lv for lv in jackpot.levels if lv.status.value != "DISABLED"]
    split_total = sum(float(lv.contribution_split) for lv in receiving) or 1.0
    plans = []
    for lv in sorted(jackpot.levels, key=lambda x: x.display_order):
        a = lv.amounts_for(cur)
        growth = float((a.win_from + a.win_to) / 2 - (a.seed_from + a.seed_to) / 2)
        split = float(lv.contribution_split) / split_total if lv in receiving else 0.0
        per_bet = mean_bet * float(jackpot.contribution_rate) * coef * (1 - float(jackpot.house_cut)) * split
        bets = growth / per_bet if per_bet > 0 else math.inf
        k = scale or (max(1, int(bets / max(1, resolution))) if math.isfinite(bets) else 1)
        rate = traffic.mean_bets_per_hour * cur_share
        plans.append(LevelPlan(str(lv.level_id), lv.name, cur, growth, per_bet, bets, int(k),
                               bets / rate if math.isfinite(bets) else math.inf))
    return plans


def _scaled(v: Any, k: int) -> str | None:
    return None if v is None else str(Decimal(str(v)) * k)


def scale_config(jackpot: Jackpot, k: int, quiet: frozenset[str] = frozenset()) -> Jackpot:
    """The config the engine runs when one simulated bet stands for ``k`` real bets (see module doc).

    ``quiet`` levels (faster than the observed one, so meaningless at this k) run in NO_WIN with
    their overflow kept in their own reserve: they still take their split of every bet, but never
    drop and never push overflow into the observed level."""
    d = jackpot.model_dump(mode="json")
    d["status"] = "DRAFT"
    d["active_window_seconds"] = int(jackpot.active_window_seconds) * k
    pay = d.setdefault("payout", {})
    pay["large_win_threshold"] = None
    pay["large_win_thresholds"] = {}
    for lv, src in zip(d["levels"], jackpot.levels):
        default_bound = src.win_max / 10
        lv["min_bet"] = _scaled(src.min_bet, k)
        lv["max_bet"] = _scaled(src.max_bet, k)
        lv["max_contribution"] = _scaled(src.max_contribution if src.max_contribution is not None else default_bound, k)
        lo = max(1, round(src.evaluation_delay_from / k))
        hi = max(lo, round(src.evaluation_delay_to / k))
        lv["evaluation_delay_from"], lv["evaluation_delay_to"] = lo, hi
        if str(src.level_id) in quiet and lv.get("status", "ENABLED") == "ENABLED":
            lv["status"] = "NO_WIN"
            lv["overflow"] = {"mode": "buffer", "redirect_to": []}
        for cur, ca in (lv.get("currency_amounts") or {}).items():
            s = src.currency_amounts[cur]
            ca["min_bet"] = _scaled(s.min_bet, k)
            ca["max_bet"] = _scaled(s.max_bet, k)
            ca["max_contribution"] = _scaled(s.max_contribution if s.max_contribution is not None else s.win_max / 10, k)
    return Jackpot.model_validate(d)


# --------------------------------------------------------------------------- the run


def _table(mix: dict[str, float], n: int = QUANTILES) -> list[str]:
    """``n`` slots filled in proportion to the shares (a draw is one index)."""
    keys = list(mix)
    out: list[str] = []
    acc = 0.0
    for key in keys:
        acc += mix[key]
        while len(out) < min(n, round(acc * n)):
            out.append(key)
    while len(out) < n:
        out.append(keys[-1])
    return out


def _master(seed: int | str, label: str) -> bytes:
    return hmac.new(hashlib.sha256(str(seed).encode()).digest(), label.encode(), hashlib.sha256).digest()


def run_level(
    jackpot: Jackpot,
    traffic: TrafficProfile,
    plan: LevelPlan,
    *,
    cycles: int = 1000,
    seed: int | str = 0,
    sample_cycles: int = 6,
    max_sim_bets: int | None = None,
    max_days: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LevelRun:
    """Run the jackpot until ``plan``'s level completes ``cycles`` cycles in its primary currency."""
    k = plan.scale
    quiet = frozenset(p.level_id for p in plan_levels(jackpot, traffic, scale=k)
                      if p.level_id != plan.level_id and p.bets_per_cycle < plan.bets_per_cycle)
    cfg = scale_config(jackpot, k, quiet)
    cj = compile_jackpot(cfg)
    st = new_jackpot_state(cj)
    seeds = master_seed_source(_master(seed, f"engine/{plan.level_id}"))
    rng = random.Random(f"traffic/{seed}/{plan.level_id}")
    rand = rng.random
    log = math.log

    start = SIM_EPOCH_MS
    if jackpot.schedule is not None and jackpot.schedule.start_at is not None:
        start = int(jackpot.schedule.start_at.timestamp() * 1000)
    activate(cj, st, seeds, actor="simulator", cause_id="sim-activate", now=start)

    level_id = plan.level_id
    cur = plan.currency
    lim = cj.level(level_id).limits[cur]
    run = LevelRun(plan, sim_start=start, win_max=lim.win_max, win_from=lim.win_from, win_to=lim.win_to,
                   seed_from=lim.seed_from, seed_to=lim.seed_to)
    lv_cfg = next(lv for lv in jackpot.levels if str(lv.level_id) == level_id)
    ex = expected_cycle(lv_cfg, cur, jackpot.house_cut,
                        gross_velocity_per_hour=Decimal(str(round(plan.net_per_bet / (1 - float(jackpot.house_cut))
                                                                  * traffic.mean_bets_per_hour, 6))) or None)
    run.expected = {f: (None if getattr(ex, f) is None else float(getattr(ex, f))) for f in ex.__slots__}  # type: ignore[attr-defined]

    # ---- traffic tables, built once (the inner loop only indexes them)
    currencies = list(jackpot.currencies)
    cmix = _shares(traffic.currencies, currencies) if traffic.currencies else {cur: 1.0}
    cur_table = _table(cmix)
    sizes = bet_size_table(traffic)
    amounts = {c: [max(1, to_micros(s * Decimal(str(traffic.fx.get(c, 1.0))))) * k for s in sizes] for c in cmix}
    game_table = _table(_shares(traffic.games, [g.game_id for g in jackpot.games]))
    brand_table = _table(_shares(traffic.brands, list(jackpot.brands)))
    npl = traffic.population
    pids = [f"p{i:06d}" for i in range(npl)]
    seg_items = list(traffic.segments.items())
    segs = [tuple(s for s, share in seg_items if rng.random() < share) for _ in range(npl)]
    kyc = [rng.random() < traffic.kyc_share for _ in range(npl)]
    spins = [0] * npl
    session_at = [start] * npl
    reset_p = min(1.0, k / max(1, traffic.session_bets))
    players_at = [traffic.players_at(h) for h in range(24)]
    gap_ms = [HOUR_MS * k / traffic.bets_per_hour(h) for h in range(24)]  # mean simulated inter-bet time
    tick_ms = max(60_000, int(HOUR_MS * k / traffic.mean_bets_per_hour))
    max_batch = 64

    # ---- observation of the level's pools
    watched = list(cmix)
    pools = {c: st.pools[c][level_id] for c in watched}
    primary = pools[cur]
    open_rows: dict[str, list] = {}
    armed_seen: dict[str, int] = {c: 0 for c in watched}
    nreasons = len(REASONS)
    last_fails = [0] * nreasons
    fails_cycle = primary.cycle
    fails_by_hour = run.fails_by_hour
    done = 0
    cycles_by_cur: dict[str, list[list]] = {c: [] for c in watched}
    samples: dict[int, list[tuple[int, int]]] = {primary.cycle: [(start, primary.visible)]}

    def new_row(p) -> list:
        r = [None] * len(CYCLE_FIELDS)
        r[_C["cycle"]] = p.cycle
        r[_C["started_at"]] = p.started_at
        r[_C["seed_amount"]] = p.seed_amount
        r[_C["seed_draw"]] = p.seed_draw
        r[_C["carry_in"]] = p.carry_in
        r[_C["win_target"]] = p.win_target
        r[_C["chain_paid"]] = 0
        r[_C["warn_at"]] = 0
        r[_C["at_max"]] = False
        r[_C["armed_at"]] = 0
        r[_C["kind"]] = ""
        return r

    for c in watched:
        open_rows[c] = new_row(pools[c])

    def observe(out, now: int) -> list:
        nonlocal done, fails_cycle, last_fails
        for e in out.events:
            et = e.event_type
            if et in _WATCHED_EVENTS:
                p = e.payload
                if p.get("level_id") != level_id or p.get("currency") not in open_rows:
                    continue
                row = open_rows[p["currency"]]
                if et == WARN_THRESHOLD_REACHED:
                    if not row[_C["warn_at"]]:
                        row[_C["warn_at"]] = e.timestamp
                elif et == DROP_STARTED:
                    row[_C["drop_at"]] = e.timestamp
                else:
                    row[_C["win_amount"]] = p["win_amount"]
                    row[_C["kind"]] = p.get("drop_kind", "")
                    row[_C["chain_paid"]] = sum(w["amount"] for w in p.get("chain_reaction_winners", ()))
                    if not row[_C["drop_at"]]:
                        row[_C["drop_at"]] = p.get("dropped_at", e.timestamp)
        for c in watched:
            pool = pools[c]
            row = open_rows[c]
            if pool.locked and row[_C["contributions"]] is None:
                row[_C["contributions"]] = pool.cycle_contributions
                row[_C["house_cut"]] = pool.cycle_house
                row[_C["gross"]] = pool.cycle_gross
                row[_C["sim_bets"]] = pool.cycle_bets
                row[_C["at_max"]] = bool(pool.flags & FLAG_AT_MAX)
                row[_C["armed_at"]] = armed_seen[c]
                if not row[_C["drop_at"]]:
                    row[_C["drop_at"]] = now
            elif not pool.locked and pool.armed_at:
                armed_seen[c] = pool.armed_at
            if pool.cycle != row[_C["cycle"]]:
                if row[_C["win_amount"]] is not None and row[_C["contributions"]] is not None:
                    row[_C["settled_at"]] = now
                    cycles_by_cur[c].append(row)
                    if c == cur:
                        done += 1
                open_rows[c] = new_row(pool)
                armed_seen[c] = 0
        # condition failure analysis by hour (primary pool)
        f = primary.fails
        if primary.cycle != fails_cycle:
            fails_cycle = primary.cycle
            last_fails = [0] * nreasons
        if f:
            row_h = fails_by_hour[(now // HOUR_MS) % 24]
            lf = last_fails
            for i, v in enumerate(f):
                d = v - lf[i]
                if d:
                    row_h[i] += d
                    lf[i] = v
        if primary.cycle <= sample_cycles:
            samples.setdefault(primary.cycle, []).append((now, primary.visible))
        return out.commands

    def settle(commands: list, now: int) -> None:
        guard = 0
        while commands:
            guard += 1
            if guard > 10_000:
                raise RuntimeError("wallet loop did not settle")
            nxt: list = []
            for cmd in commands:
                if cmd.event_type != WALLET_CREDIT_COMMAND:
                    continue
                p = cmd.payload
                res = WalletResult(p["idempotency_key"], "confirmed", p["attempt"], "sim")
                nxt += observe(handle_wallet_result(cj, st, res, now, seeds), now)
            commands = nxt

    max_sim_bets = max_sim_bets or cycles * max(plan.bets_per_cycle / k, 1) * 50 + 100_000
    end_limit = start + int((max_days if max_days is not None else 365 * 200) * DAY_MS)
    now = start
    next_tick = start + tick_ms
    n = 0
    batches = 0
    t = float(start)
    stop = ""
    held: BetContext | None = None
    live = ("ACTIVE", "DROPPING", "PAUSED")
    while True:
        if done >= cycles:
            stop = f"completed {done} cycles"
            break
        if n >= max_sim_bets:
            stop = f"stopped after {n} simulated bets ({done} cycles)"
            break
        if now >= end_limit:
            stop = f"stopped at the simulated time limit ({done} cycles)"
            break
        if st.status not in live:
            stop = f"jackpot {st.status} ({done} cycles)"
            break
        batch: list[BetContext] = []
        if held is not None:
            batch.append(held)
            held = None
        while len(batch) < max_batch:
            hour = (int(t) // HOUR_MS) % 24
            t += -log(1.0 - rand()) * gap_ms[hour] + 1.0
            ts = int(t)
            pi = int(rand() * players_at[hour])
            c = cur_table[int(rand() * QUANTILES)]
            sp = spins[pi] + k
            if rand() < reset_p:
                sp = k
                session_at[pi] = ts
            spins[pi] = sp
            n += 1
            ctx = BetContext(
                Bet(str(n), pids[pi], game_table[int(rand() * QUANTILES)], brand_table[int(rand() * QUANTILES)], c,
                    amounts[c][int(rand() * QUANTILES)], "real", "", ts),
                segs[pi], 0, kyc[pi], "", False, False, sp, session_at[pi],
            )
            if ts >= next_tick:
                held = ctx
                break
            batch.append(ctx)
        if batch:
            now = batch[-1].bet.timestamp
            _, out = process_batch(cj, st, batch)
            settle(observe(out, now), now)
        upto = held.bet.timestamp if held is not None else now
        while next_tick <= upto:
            # waterfall cascades due before this tick
            while st.cascades:
                due = min(c_[0] for c_ in st.cascades)
                if due > next_tick:
                    break
                now = max(now, due)
                settle(observe(tick(cj, st, now, seeds), now), now)
                if st.cascades and min(c_[0] for c_ in st.cascades) <= due:
                    break
            now = next_tick
            settle(observe(tick(cj, st, now, seeds), now), now)
            next_tick += tick_ms
        batches += 1
        if progress is not None and batches % 64 == 0:
            progress(done, cycles)
    if progress is not None:
        progress(done, cycles)
    run.sim_end = now
    run.sim_bets = n
    run.stop_reason = stop
    run.cycles = cycles_by_cur[cur]
    run.samples = [samples[c] for c in sorted(samples)]
    m = primary.meters
    run.meters = {
        "gross": m.gross, "house": m.house, "seeded": m.seeded, "pre_seeded": m.pre_seeded, "won": m.won,
        "hits": m.hits, "overflow_revenue": m.overflow_revenue, "adj_in": m.adj_in, "adj_out": m.adj_out,
        "chain_paid": sum(r[_C["chain_paid"]] for r in run.cycles),
        "liability": primary.visible + primary.hidden + primary.carry + primary.pending,
        "other_currency_cycles": {c: len(v) for c, v in cycles_by_cur.items() if c != cur},
    }
    return run


def simulate(
    jackpot: Jackpot,
    traffic: TrafficProfile | None = None,
    *,
    cycles: int = 1000,
    seed: int | str = 0,
    levels: list[str] | None = None,
    resolution: int = 120,
    scale: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[LevelRun]:
    """Every (or the named) level of a jackpot, one run each, in display order."""
    traffic = traffic or TrafficProfile()
    plans = plan_levels(jackpot, traffic, resolution=resolution, scale=scale)
    if levels:
        want = {x.lower() for x in levels}
        plans = [p for p in plans if p.name.lower() in want or p.level_id in want]
    out = []
    for p in plans:
        cb = (lambda d, t, _n=p.name: progress(_n, d, t)) if progress else None
        out.append(run_level(jackpot, traffic, p, cycles=cycles, seed=seed, progress=cb))
    return out
