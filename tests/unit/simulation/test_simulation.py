"""Simulator: determinism, closed-form expectations, outputs, plots. Small runs (2-core machine)."""

from __future__ import annotations

import math
import statistics


from jackpot.engine.catalog import instantiate
from jackpot.simulation.core import plan_levels, run_level
from jackpot.simulation.summary import comparison, level_summary
from jackpot.simulation.traffic import TrafficProfile

U = 1_000_000


def solo(**kw):
    """One level, no hidden increment, no conditions: the budget model's closed forms apply."""
    lv = {"name": "Solo", "display_order": 1, "contribution_split": "1", "seed_from": "100", "seed_to": "200",
          "win_from": "1000", "win_to": "2000", "win_max": "2500", "evaluation_delay_from": 1, "evaluation_delay_to": 1}
    lv.update(kw)
    return instantiate("mystery_drops", name="Solo Test", overrides={"levels": [lv], "distribution_mode": 1})


TRAFFIC = TrafficProfile(concurrent_players=50, bets_per_player_hour=300, bet_sigma=0.5)


def _run(jp, cycles=200, seed=1, resolution=60):
    plan = plan_levels(jp, TRAFFIC, resolution=resolution)[0]
    return run_level(jp, TRAFFIC, plan, cycles=cycles, seed=seed)


def test_same_seed_identical_different_seed_differs():
    jp = solo()
    a, b, c = _run(jp, 30, 7), _run(jp, 30, 7), _run(jp, 30, 8)
    assert a.cycles == b.cycles and a.fails_by_hour == b.fails_by_hour and a.meters == b.meters
    assert a.cycles != c.cycles


def test_mean_cycle_contributions_match_closed_form():
    """E[net contributions per cycle] = avg prize - avg seed = 1500 - 150 = 1350 (target and seed
    uniform and independent). SD of (target - seed) = sqrt((1000^2 + 100^2)/12) ~ 290; with n = 200
    the mean's SE is ~20.5: bound 4 SE plus the overshoot of the last simulated bet before the drop
    (delay 1 bet: at most 2 bets' contributions; bound by the largest contribution seen x 2)."""
    jp = solo()
    run = _run(jp, 200)
    n = len(run.cycles)
    assert n == 200
    contrib = [r[10] / U for r in run.cycles]
    overshoot_bound = 2 * max(c / max(1, r[13]) for c, r in zip(contrib, run.cycles)) * 3
    se = math.sqrt((1000**2 + 100**2) / 12 / n)
    assert abs(statistics.fmean(contrib) - 1350) < 4 * se + overshoot_bound


def test_house_cut_per_cycle_matches_budget_model():
    """House cut per cycle = (avg_prize - avg_seed) / (1 - house_cut) x house_cut (engine.budget),
    mean within 4 SE (SE scaled by house/(1-house)) plus overshoot."""
    run = _run(solo(), 200)
    s = level_summary(run)
    exp = run.expected["house_cut_per_cycle"]
    h = 0.05 / 0.95
    se = math.sqrt((1000**2 + 100**2) / 12 / 200) * h
    assert abs(s["per_cycle"]["house_cut"] - exp) < 4 * se + 0.05 * exp
    # contributions per cycle vs contributions_needed (gross) x (1 - house cut)
    assert abs(s["per_cycle"]["contributions"] - run.expected["contributions_needed"] * 0.95) < 4 * se / h + 60


def test_outputs_and_warnings_present():
    run = _run(solo(), 50)
    s = level_summary(run)
    for key in ("cycle_hours", "drops_per_week", "drop_amount", "win_max_hit_rate", "per_month",
                "warn_dwell_minutes", "condition_failures", "warnings"):
        assert key in s
    assert s["cycle_hours"]["min"] <= s["cycle_hours"]["mean"] <= s["cycle_hours"]["max"]
    assert 1000 * 0.9 <= s["drop_amount"]["min"] and s["drop_amount"]["max"] <= 2500
    rows = comparison([("a", [s]), ("b", [s])])
    assert rows and all(len(r["values"]) == 2 for r in rows)


def test_restrictive_min_players_is_reported_as_frozen_pool():
    """min_players above the platform's players: the pool never drops (range mode has no waiver)."""
    jp = solo(min_players=400, win_max="2100")
    plan = plan_levels(jp, TRAFFIC, resolution=60)[0]
    run = run_level(jp, TRAFFIC, plan, cycles=5, seed=1, max_sim_bets=20_000)
    s = level_summary(run)
    assert s["cycles"] == 0
    assert any(w["warning"] == "Never drops" for w in s["warnings"])
    assert max(s["condition_failures"], key=lambda r: s["condition_failures"][r]["count"]) == "players_below_min"


def test_plots_written_non_empty(tmp_path):
    from jackpot.simulation.report import Scenario, write_report

    run = _run(solo(), 20)
    path = write_report([Scenario("solo", [run])], tmp_path)
    assert path.exists() and path.stat().st_size > 1000
    pngs = list((tmp_path / "plots").glob("*.png"))
    svgs = list((tmp_path / "plots").glob("*.svg"))
    assert len(pngs) == 5 and len(svgs) == 5
    assert all(p.stat().st_size > 2000 for p in pngs + svgs)


def test_job_runner_background_report(tmp_path):
    from jackpot.simulation import jobs

    job = jobs.start(["template:mystery_drops"], tmp_path, cycles=3, seed=2, workers=1,
                     traffic=TrafficProfile(concurrent_players=60))
    assert jobs.status(job)["state"] in ("queued", "running", "done")
    st = jobs.wait(job, timeout=120)
    assert st["state"] == "done", st["error"]
    assert st["levels_done"] == 3
    assert jobs.report_path(job).name == "report.html"
