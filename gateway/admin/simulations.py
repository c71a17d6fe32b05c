"""Simulation jobs from the admin API (issue 10): run the Monte Carlo simulation of a jackpot's
configuration (a draft included) or a catalog template in the background and serve its report.

Jobs run in this process (``simulation.jobs``); the caller's brand scope is kept with each job so
a report is only shown to someone who could see the jackpot. They are CPU-bound, so at most
``JACKPOT_ADMIN_SIMULATION_MAX_JOBS`` run at once: another start is a 429 with Retry-After.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jackpot.engine.catalog import TEMPLATES
from jackpot.simulation import jobs

from . import models as m
from .api import Ctx
from .problems import Problem
from .rbac import Permission as P
from .registry import api, scoped
from .wizard import review

_owners: dict[str, list[str] | None] = {}  # job id -> brands of the simulated jackpot (None: a template)
_active: set[str] = set()  # started jobs not yet seen done or failed
RETRY_AFTER_S = 10


def _running() -> int:
    """Jobs of this process still queued or running (finished ones are forgotten here)."""
    for job_id in list(_active):
        if jobs.status(job_id)["state"] in ("done", "failed"):
            _active.discard(job_id)
    return len(_active)


def _claim_slot(limit: int) -> None:
    if _running() >= limit:
        raise Problem(429, "too-many-simulations", f"{limit} simulation job(s) are already running; retry later",
                      title="Too Many Requests", headers={"Retry-After": str(RETRY_AFTER_S)})


@api.op("POST", "/v1/simulations", summary="Start a simulation job (a jackpot's config or a template)",
        tag="simulation", permission=P.SIMULATION_RUN, body=m.SimulationBody, response=m.SimulationJob, status=202,
        extra_problems=(429,))
async def start_simulation(ctx: Ctx, body: m.SimulationBody) -> dict[str, Any]:
    if (body.jackpot_id is None) == (body.template is None):
        raise Problem(422, "one-source", "give exactly one of jackpot_id or template")
    out_dir = Path(ctx.services.settings.admin_simulation_dir)
    brands: list[str] | None = None
    if body.template is not None:
        if body.template not in TEMPLATES:
            raise Problem(404, "not-found", f"unknown template {body.template}")
        spec = f"template:{body.template}"
    else:
        rec = await scoped(ctx, body.jackpot_id)
        brands = rec.brands
        config = await ctx.services.jackpots.current_config(rec.jackpot_id)
        if config is None:
            result, jackpot = review(rec.jackpot_id, rec.steps)
            if jackpot is None:
                raise Problem(409, "not-ready", "simulation needs a valid configuration: " + "; ".join(result.problems))
            config = json.loads(jackpot.model_dump_json())
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{rec.jackpot_id}.json"
        path.write_text(json.dumps(config))
        spec = str(path)
    # checked after the scope (a 403 stays a 403), with no await from here to the start: two concurrent
    # starts cannot both take the last slot
    _claim_slot(ctx.services.settings.admin_simulation_max_jobs)
    job_id = jobs.start([spec], out_dir, cycles=body.cycles, seed=body.seed, workers=1)
    _active.add(job_id)
    _owners[job_id] = brands
    await ctx.services.trail.record(ctx.principal, action="simulation_started",
                                    jackpot_id=str(body.jackpot_id) if body.jackpot_id else None,
                                    request_id=ctx.request_id, after={"job_id": job_id, "spec": spec,
                                                                      "cycles": body.cycles, "seed": body.seed})
    ctx.headers["Location"] = f"/v1/simulations/{job_id}"
    return _view(jobs.status(job_id))


def _view(st: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": st["job_id"], "specs": [Path(s).name if "/" in s else s for s in st["specs"]],
            "state": st["state"], "levels_done": st["levels_done"],
            "error": st["error"].splitlines()[0] if st["error"] else None, "report_available": st["state"] == "done"}


def _job(ctx: Ctx, job_id: str) -> dict[str, Any]:
    if job_id not in _owners:
        raise Problem(404, "not-found", f"simulation job {job_id} not found")
    brands = _owners[job_id]
    if brands is not None and not ctx.principal.in_scope(brands):
        raise Problem(403, "brand-scope", "this simulation belongs to brands outside your scope")
    return jobs.status(job_id)


@api.op("GET", "/v1/simulations/{job_id}", summary="A simulation job's state and progress", tag="simulation",
        permission=P.REPORTS_READ, path_model=m.JobPath, response=m.SimulationJob)
async def simulation_status(ctx: Ctx, path: m.JobPath) -> dict[str, Any]:
    return _view(_job(ctx, path.job_id))


@api.op("GET", "/v1/simulations/{job_id}/report", summary="A finished simulation's report (summaries per level)",
        tag="simulation", permission=P.REPORTS_READ, path_model=m.JobPath, response=dict[str, Any])
async def simulation_report(ctx: Ctx, path: m.JobPath) -> dict[str, Any]:
    st = _job(ctx, path.job_id)
    report = jobs.report_path(path.job_id)
    if report is None:
        raise Problem(409, "not-finished", f"the job is {st['state']}")
    results = json.loads((report.parent / "results.json").read_text())
    return {"comparison": results.get("comparison"),
            "scenarios": [{"name": s["name"], "meta": s["meta"], "levels": s["levels"]} for s in results["scenarios"]]}
