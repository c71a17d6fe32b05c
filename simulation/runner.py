"""Run a whole simulation (one or more configurations, every level) across worker processes.

Each level run is independent and deterministic, so running them in parallel gives the same
results as running them in order.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

from jackpot.engine import Jackpot
from jackpot.engine.catalog import day_one_jackpot, instantiate

from .core import LevelRun, plan_levels, run_level
from .report import Scenario, write_report
from .traffic import TrafficProfile

__all__ = ["load_config", "run_scenarios"]


def load_config(spec: str) -> tuple[str, Jackpot]:
    """``template:NAME``, ``day-one:NAME`` or a path to a JSON Jackpot document."""
    if spec.startswith("template:"):
        name = spec.split(":", 1)[1]
        return f"template {name}", instantiate(name, name=name.replace("_", " ").title())
    if spec.startswith("day-one:"):
        name = spec.split(":", 1)[1]
        return name, day_one_jackpot(name)
    p = Path(spec)
    return p.stem, Jackpot.model_validate(json.loads(p.read_text()))


def _one(args: tuple) -> LevelRun:
    jackpot, traffic, plan, cycles, seed = args
    return run_level(jackpot, traffic, plan, cycles=cycles, seed=seed)


def run_scenarios(
    specs: list[str],
    out: Path,
    *,
    traffic: TrafficProfile | None = None,
    cycles: int = 1000,
    seed: int | str = 0,
    workers: int = 2,
    on_level_done: Callable[[str, str], None] | None = None,
) -> Path:
    if not 1 <= len(specs) <= 3:
        raise ValueError("simulate takes 1 to 3 configurations")
    traffic = traffic or TrafficProfile()
    loaded = [load_config(s) for s in specs]
    tasks = []
    for si, (name, jp) in enumerate(loaded):
        for plan in plan_levels(jp, traffic):
            tasks.append((si, name, plan, (jp, traffic, plan, cycles, seed)))
    results: dict[int, list[LevelRun]] = {i: [] for i in range(len(loaded))}
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = [(si, name, plan, ex.submit(_one, a)) for si, name, plan, a in tasks]
            for si, name, plan, f in futs:
                results[si].append(f.result())
                if on_level_done:
                    on_level_done(name, plan.name)
    else:
        for si, name, plan, a in tasks:
            results[si].append(_one(a))
            if on_level_done:
                on_level_done(name, plan.name)
    meta: dict[str, Any] = {"cycles": cycles, "seed": seed, "traffic": traffic.to_dict()}
    scenarios = [Scenario(name, results[i], dict(meta)) for i, (name, _) in enumerate(loaded)]
    return write_report(scenarios, out, title="Jackpot simulation: " + " vs ".join(n for n, _ in loaded))
