"""Background simulation jobs for the admin API (to be mounted by the admin app).

``start(specs, out_dir, ...)`` returns a job id at once; the simulation runs in a worker thread
(which fans the level runs out to processes); ``status(job_id)`` tells queued/running/done/failed
with the progress and, when done, the report path.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runner import run_scenarios
from .traffic import TrafficProfile

__all__ = ["Job", "start", "status", "report_path", "wait"]


@dataclass
class Job:
    job_id: str
    specs: list[str]
    out: Path
    state: str = "queued"  # queued | running | done | failed
    levels_done: int = 0
    report: Path | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "specs": self.specs, "state": self.state, "levels_done": self.levels_done,
                "report": str(self.report) if self.report else None, "error": self.error}


_jobs: dict[str, Job] = {}
_lock = threading.Lock()


def start(specs: list[str], out_dir: Path | str, *, cycles: int = 1000, seed: int | str = 0,
          traffic: TrafficProfile | None = None, workers: int = 2) -> str:
    job_id = uuid.uuid4().hex
    job = Job(job_id, list(specs), Path(out_dir) / job_id)

    def run() -> None:
        job.state = "running"
        try:
            def done(_s: str, _l: str) -> None:
                job.levels_done += 1
            job.report = run_scenarios(job.specs, job.out, traffic=traffic, cycles=cycles, seed=seed,
                                       workers=workers, on_level_done=done)
            job.state = "done"
        except Exception as e:  # reported through status()
            job.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}"
            job.state = "failed"

    job.thread = threading.Thread(target=run, name=f"simulation-{job_id[:8]}", daemon=True)
    with _lock:
        _jobs[job_id] = job
    job.thread.start()
    return job_id


def status(job_id: str) -> dict[str, Any]:
    job = _jobs.get(job_id)
    if job is None:
        raise KeyError(f"no simulation job {job_id}")
    return job.to_dict()


def report_path(job_id: str) -> Path | None:
    job = _jobs.get(job_id)
    return job.report if job and job.state == "done" else None


def wait(job_id: str, timeout: float | None = None) -> dict[str, Any]:
    job = _jobs[job_id]
    if job.thread is not None:
        job.thread.join(timeout)
    return job.to_dict()
