"""Simulation outputs, configuration warnings and what-if comparison (spec: Simulation Outputs,
Configuration Warnings from Simulation, What-If Scenarios). Pure functions of ``LevelRun``s.

Money is reported in currency units (float, for display); durations in hours. Monthly figures
are scaled to 720 hours (the budget model's month). Net position follows ``engine.budget``:
house cut + overflow to revenue - seeds - pre-seed - chain prizes (main prizes are paid from the
pool the contributions and seeds funded).
"""

from __future__ import annotations

import statistics
from typing import Any

from jackpot.engine.triggers import REASONS

from .core import CYCLE_FIELDS, HOUR_MS, LevelRun

__all__ = ["level_summary", "warnings_for", "comparison", "HEATMAP_REASONS", "THRESHOLDS"]

U = 1_000_000
_C = {f: i for i, f in enumerate(CYCLE_FIELDS)}
HEATMAP_REASONS = tuple(r for r in REASONS if r not in ("pool_below_target",))

THRESHOLDS = {
    "win_max_hit_rate": 0.10,  # > 10% of cycles
    "win_max_target": 0.05,
    "cycle_short_hours": 2.0,
    "cycle_long_hours": 30 * 24.0,
    "pre_seed_days": 30,
    "warn_dwell_min": 15.0,
    "warn_dwell_max": 90.0,
}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    i = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return s[i]


def level_summary(run: LevelRun, pre_seed: float = 0.0) -> dict[str, Any]:
    rows = run.cycles
    n = len(rows)
    dur = [(r[_C["drop_at"]] - r[_C["started_at"]]) / HOUR_MS for r in rows]
    amounts = [r[_C["win_amount"]] / U for r in rows]
    dwell = [(r[_C["drop_at"]] - r[_C["warn_at"]]) / 60_000 for r in rows if r[_C["warn_at"]]]
    blocked = [(r[_C["drop_at"]] - r[_C["armed_at"]]) / 60_000 for r in rows if r[_C["armed_at"]]]
    hours = max(1e-9, (run.sim_end - run.sim_start) / HOUR_MS)
    month = 720.0 / hours
    m = run.meters
    house = m.get("house", 0) / U
    seeds = m.get("seeded", 0) / U
    pre = m.get("pre_seeded", 0) / U
    chain = m.get("chain_paid", 0) / U
    revenue = m.get("overflow_revenue", 0) / U
    won = m.get("won", 0) / U
    net = house + revenue - seeds - pre - chain
    fails = [sum(col) for col in zip(*run.fails_by_hour)]
    total_blocks = sum(v for r, v in zip(REASONS, fails) if r in HEATMAP_REASONS) or 1
    failure = {r: {"count": v, "share": v / total_blocks} for r, v in zip(REASONS, fails) if v and r in HEATMAP_REASONS}
    contrib = [r[_C["contributions"]] / U for r in rows]
    house_c = [r[_C["house_cut"]] / U for r in rows]
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r[_C["kind"]]] = kinds.get(r[_C["kind"]], 0) + 1
    s = {
        "level": run.plan.name,
        "level_id": run.plan.level_id,
        "currency": run.plan.currency,
        "cycles": n,
        "stop_reason": run.stop_reason,
        "time_scale": run.plan.scale,
        "simulated_bets": run.sim_bets,
        "simulated_days": hours / 24,
        "cycle_hours": {
            "mean": statistics.fmean(dur) if dur else None,
            "min": min(dur) if dur else None,
            "max": max(dur) if dur else None,
            "p10": _pct(dur, 0.1), "p50": _pct(dur, 0.5), "p90": _pct(dur, 0.9),
        },
        "drops_per_week": n / hours * 168,
        "drops_per_month": n / hours * 720,
        "drop_amount": {
            "mean": statistics.fmean(amounts) if amounts else None,
            "stdev": statistics.pstdev(amounts) if len(amounts) > 1 else 0.0,
            "min": min(amounts) if amounts else None,
            "max": max(amounts) if amounts else None,
            "p10": _pct(amounts, 0.1), "p50": _pct(amounts, 0.5), "p90": _pct(amounts, 0.9),
            # clustering near win_from (spec: "predictable"): share of drops in the lowest 10% of the range
            "share_near_win_from": (sum(1 for a in amounts if a <= (run.win_from + (run.win_to - run.win_from) * 0.1) / U)
                                    / n) if n else 0.0,
        },
        "win_max_hit_rate": (sum(1 for r in rows if r[_C["at_max"]]) / n) if n else 0.0,
        "per_month": {
            "house_cut": house * month,
            "prizes_main": won * month,
            "prizes_chain": chain * month,
            "seeds": seeds * month,
            "total_prizes": (won + chain) * month,
            "net_position": net * month,
        },
        "totals": {"house_cut": house, "prizes_main": won, "prizes_chain": chain, "seeds": seeds, "pre_seed": pre,
                   "overflow_revenue": revenue, "net_position": net, "pool_liability": m.get("liability", 0) / U},
        "per_cycle": {
            "contributions": statistics.fmean(contrib) if contrib else None,
            "house_cut": statistics.fmean(house_c) if house_c else None,
            "chain_cost": chain / n if n else None,
            # who funded the reset amounts: the operator's seed draws and the players' carried reserve
            "seed_cost": seeds / n if n else None,
            "carried_reserve": statistics.fmean(r[_C["carry_in"]] / U for r in rows) if n else None,
            "reset_amount": statistics.fmean(r[_C["seed_amount"]] / U for r in rows) if n else None,
            "net": net / n if n else None,
        },
        "warn_dwell_minutes": {
            "mean": statistics.fmean(dwell) if dwell else None,
            "p50": _pct(dwell, 0.5) if dwell else None,
            "share_of_cycles_warned": len(dwell) / n if n else 0.0,
        },
        "target_to_drop_minutes": {"mean": statistics.fmean(blocked) if blocked else None,
                                   "p90": _pct(blocked, 0.9) if blocked else None},
        "condition_failures": failure,
        "drop_kinds": kinds,
        "expected": run.expected,
        "pre_seed_30d_vs_house_cut_30d": {"pre_seed": pre_seed, "house_cut_30d": house * 720.0 / hours},
    }
    s["warnings"] = warnings_for(s, pre_seed)
    return s


def warnings_for(s: dict[str, Any], pre_seed: float = 0.0) -> list[dict[str, str]]:
    """The spec's configuration warnings, each with its threshold, the simulated value and a fix."""
    out = []
    T = THRESHOLDS
    hit = s["win_max_hit_rate"]
    if hit > T["win_max_hit_rate"]:
        out.append({"warning": "Win Max hit rate too high", "threshold": "> 10% of cycles", "value": f"{hit:.1%}",
                    "fix": "Relax min_players, widen time window, or reduce win_max"})
    mean = s["cycle_hours"]["mean"]
    if mean is not None and mean < T["cycle_short_hours"]:
        out.append({"warning": "Cycle too short", "threshold": "Avg < 2 hours", "value": f"{mean:.2f} h",
                    "fix": "Reduce contribution rate or raise win_from"})
    if mean is not None and mean > T["cycle_long_hours"]:
        out.append({"warning": "Cycle too long", "threshold": "Avg > 30 days", "value": f"{mean / 24:.1f} days",
                    "fix": "Increase contribution rate, lower win_to, or relax conditions"})
    if s["cycles"] == 0:
        out.append({"warning": "Never drops", "threshold": "0 cycles completed", "value": s["stop_reason"],
                    "fix": "Relax min_players / time windows, or increase contribution rate"})
    net = s["per_month"]["net_position"]
    if net < 0:
        out.append({"warning": "Net position negative", "threshold": "Expected cost > house cut",
                    "value": f"{net:,.2f} {s['currency']}/month",
                    "fix": "Increase house cut, reduce chain reaction amounts, or reduce prize range"})
    h30 = s["per_month"]["house_cut"]
    if pre_seed > h30:
        out.append({"warning": "Pre-seed exceeds house cut", "threshold": "Pre-seed > 30-day house cut",
                    "value": f"{pre_seed:,.2f} > {h30:,.2f}", "fix": "Reduce pre-seed or increase contribution rate"})
    return out


def comparison(scenarios: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Side-by-side rows (one per level name x metric) for up to 3 scenarios."""
    if len(scenarios) > 3:
        raise ValueError("what-if comparison takes at most 3 configurations")
    metrics = [
        ("Avg cycle (h)", lambda s: s["cycle_hours"]["mean"]),
        ("Min cycle (h)", lambda s: s["cycle_hours"]["min"]),
        ("Max cycle (h)", lambda s: s["cycle_hours"]["max"]),
        ("Avg drop", lambda s: s["drop_amount"]["mean"]),
        ("Drops / month", lambda s: s["drops_per_month"]),
        ("Win Max hit rate", lambda s: s["win_max_hit_rate"]),
        ("House cut / month", lambda s: s["per_month"]["house_cut"]),
        ("Total prizes / month", lambda s: s["per_month"]["total_prizes"]),
        ("Net position / month", lambda s: s["per_month"]["net_position"]),
        ("Warn dwell (min)", lambda s: s["warn_dwell_minutes"]["mean"]),
        ("Warnings", lambda s: len(s["warnings"])),
    ]
    levels: list[str] = []
    for _, sums in scenarios:
        for s in sums:
            if s["level"] not in levels:
                levels.append(s["level"])
    rows = []
    for lv in levels:
        for label, f in metrics:
            vals = []
            for _, sums in scenarios:
                s = next((x for x in sums if x["level"] == lv), None)
                vals.append(None if s is None else f(s))
            rows.append({"level": lv, "metric": label, "values": vals})
    return rows
