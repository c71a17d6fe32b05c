"""Simulated bets per second of the simulator vs the plain ``apply_contribution`` loop over the
same bets (same scaled config, fresh state), measured in the same run.

    python -m jackpot.bench.bench_simulation [--cycles N]
"""

from __future__ import annotations

import argparse
import json
import time

from jackpot.engine import apply_contribution, compile_jackpot, new_jackpot_state, activate
from jackpot.engine.catalog import day_one_jackpot
from jackpot.engine.rng import master_seed_source
from jackpot.simulation import core
from jackpot.simulation.core import SIM_EPOCH_MS, plan_levels, run_level, scale_config
from jackpot.simulation.traffic import TrafficProfile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=300)
    ap.add_argument("--level", default="Mini")
    a = ap.parse_args()
    jp = day_one_jackpot("Crown Fortune")
    tr = TrafficProfile()
    plan = next(p for p in plan_levels(jp, tr) if p.name == a.level)
    captured: list = []
    real = core.process_batch

    def capture(cj, st, ctxs):
        captured.extend(c.bet for c in ctxs)
        return real(cj, st, ctxs)

    core.process_batch = capture
    try:
        run_level(jp, tr, plan, cycles=5, seed="warmup")
    finally:
        core.process_batch = real
    captured.clear()
    t0 = time.perf_counter()
    run = run_level(jp, tr, plan, cycles=a.cycles, seed="bench")
    sim_s = time.perf_counter() - t0
    value = run.sim_bets / sim_s
    # the same bets again, through the bare contribution loop
    core.process_batch = capture
    try:
        run_level(jp, tr, plan, cycles=a.cycles, seed="bench")
    finally:
        core.process_batch = real
    cj = compile_jackpot(scale_config(jp, plan.scale))
    st = new_jackpot_state(cj)
    activate(cj, st, master_seed_source(b"b" * 32), actor="bench", cause_id="a", now=SIM_EPOCH_MS)
    t0 = time.perf_counter()
    for b in captured:
        apply_contribution(cj, st, b)
    base = len(captured) / (time.perf_counter() - t0)
    print(json.dumps({"bench": "simulated_bets_per_s", "value": round(value, 1), "unit": "bets/s",
                      "baseline": round(base, 1), "ratio": round(value / base, 4),
                      "level": a.level, "cycles": run.cycles.__len__(), "scale": plan.scale}))


if __name__ == "__main__":
    main()
