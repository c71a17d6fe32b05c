"""A worker frozen past its session timeout (a long GC pause, a stalled VM) is expelled from the
group while it still holds a half-applied batch; when it thaws it finishes that batch and writes
it. Its partitions have meanwhile moved on, so that late write must not replace the newer owner's
state, or every bet applied in between is lost for good (the inputs are already committed)."""

from __future__ import annotations

import asyncio
import signal

import pytest

from jackpot.engine.pool import JackpotState
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import wait_for
from .helpers import bets_applied, expected_bets, table_value
from .portfolio import Oracle, bets, portfolio

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SESSION_TIMEOUT_S = 6


async def test_a_thawed_worker_does_not_overwrite_its_successor(settings, spawn, tmp_path):
    docs = portfolio(3, seed=31)
    await publish_configs(settings, docs)
    stream = bets(12_000, seed=32)
    oracle = Oracle(docs)
    for b in stream:
        oracle.apply(b)
    env = dict(JACKPOT_SESSION_TIMEOUT_S=str(SESSION_TIMEOUT_S), JACKPOT_HEARTBEAT_INTERVAL_S="1")
    workers = [spawn(f"zombie-w{i}", "worker", JACKPOT_DATA_DIR=str(tmp_path / f"w{i}"), **env) for i in range(2)]
    await asyncio.sleep(3)
    chunks = [stream[i:i + 1000] for i in range(0, len(stream), 1000)]
    for n, chunk in enumerate(chunks):
        await produce_bets(settings, chunk)
        if n in (3, 7):  # mid-stream, while both workers are busy
            frozen = workers[n // 4 % 2]
            frozen.proc.send_signal(signal.SIGSTOP)
            await asyncio.sleep(SESSION_TIMEOUT_S * 3)  # expelled; the other worker takes over
            frozen.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.5)

    async def all_applied():
        got = {}
        for d in docs:
            rec = await table_value(settings, TABLE_NAME, d["jackpot_id"].encode(), timeout=60)
            if rec is None:
                return None
            st = JackpotState.from_dict(rec["state"])
            got[d["jackpot_id"]] = bets_applied(st)
        want = expected_bets(oracle)
        print("applied", got, "expected", want, flush=True)
        return got == want

    await wait_for(all_applied, timeout=240, interval=3.0, what="every bet applied exactly once")
    for w in workers:
        assert w.alive(), w.log_tail()
