"""Scaling by partition: the same input processed by one worker and by three gives identical state."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from jackpot.engine.pool import JackpotState
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.streams.topics import ensure_topics
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import free_port, wait_for
from .helpers import bets_applied, explained, table_value
from .portfolio import Oracle, bets, portfolio

# Three workers sharing the partitions and rebalancing: runs with the chaos test, at the end of
# `make test` (and alone under `make chaos`).
pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def comparable(state: JackpotState) -> dict:
    """Everything about the pools except the per-cycle secret draws (fresh CSPRNG per run) and
    the wall-clock time the pools were started."""
    out = {}
    for p in state.iter_pools():
        d = p.to_dict()
        for secret in ("rng_seed", "commitment", "win_target", "warn_threshold", "fire_threshold",
                       "eval_delay", "ranges", "started_at"):
            d.pop(secret, None)
        out[(p.level_id, p.currency)] = d
    return out


async def run(settings, spawn, tmp_path, docs, stream, oracle, workers: int) -> dict:
    run_id = uuid.uuid4().hex[:6]
    s = settings.model_copy(update={"app_id": f"{settings.app_id}-scale{workers}-{run_id}",
                                    "topic_prefix": f"{settings.topic_prefix}scale{workers}-{run_id}."})
    await ensure_topics(s)
    await publish_configs(s, docs)
    env = {k: v for k, v in s.to_env().items() if k in ("JACKPOT_APP_ID", "JACKPOT_TOPIC_PREFIX")}
    procs = [spawn(f"scale{workers}-w{i}", "worker", JACKPOT_DATA_DIR=str(tmp_path / f"s{workers}-{i}"),
                   JACKPOT_WORKER_WEB_PORT=str(free_port()), **env) for i in range(workers)]
    await asyncio.sleep(3)  # let the group form so the partitions really are spread
    await produce_bets(s, stream)

    async def done():
        states = {}
        for d in docs:
            rec = await table_value(s, TABLE_NAME, d["jackpot_id"].encode())
            if rec is None:
                return None
            st = JackpotState.from_dict(rec["state"])
            if bets_applied(st) != bets_applied(oracle.states[d["jackpot_id"]]):
                return None
            states[d["jackpot_id"]] = comparable(st)
        return states

    states = await explained(wait_for(done, timeout=240, interval=1.0, what=f"{workers} worker(s) to apply every bet"),
                             s, TABLE_NAME, oracle)
    for p in procs:
        p.stop()
    return states


async def test_one_worker_and_three_workers_end_in_the_same_state(settings, spawn, tmp_path):
    docs = portfolio(6, seed=31)
    stream = bets(6000, seed=32)
    oracle = Oracle(docs)
    for b in stream:
        oracle.apply(b)
    one = await run(settings, spawn, tmp_path, docs, stream, oracle, workers=1)
    three = await run(settings, spawn, tmp_path, docs, stream, oracle, workers=3)
    assert one == three
