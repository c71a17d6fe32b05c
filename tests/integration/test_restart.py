"""Regulatory item 10: after stopping every worker and starting them again, every displayed
and internal amount equals its value before the stop (plus only what was committed since)."""

from __future__ import annotations

import pytest

from jackpot.engine.pool import JackpotState
from jackpot.sinks.live import LiveValues
from jackpot.streams.loadgen import produce_bets
from jackpot.streams.publish import publish_configs
from jackpot.tables.jackpots import TABLE_NAME

from .conftest import wait_for
from .helpers import bets_applied, explained, group_formed, table_value
from .portfolio import Oracle, bets, portfolio

pytestmark = pytest.mark.integration

AMOUNTS = ("visible", "hidden", "carry", "pending", "seed_amount", "cycle", "cycle_contributions")


def amounts(state: JackpotState) -> dict:
    return {(p.level_id, p.currency): (tuple(getattr(p, f) for f in AMOUNTS), p.meters.to_dict())
            for p in state.iter_pools()}


async def test_stop_all_workers_and_restart_keeps_every_amount(settings, spawn, tmp_path):
    docs = portfolio(3, seed=21)
    await publish_configs(settings, docs)
    stream = bets(3000, seed=22)
    oracle = Oracle(docs)
    for b in stream:
        oracle.apply(b)
    env = dict(JACKPOT_CLOCK_INTERVAL_S="0.5")
    workers = [spawn(f"restart-w{i}", "worker", JACKPOT_DATA_DIR=str(tmp_path / f"w{i}"), **env) for i in range(2)]
    # This test is about a stop and restart; rebalancing under load is the chaos tests' subject.
    await group_formed(settings, members=2)
    await produce_bets(settings, stream)

    async def all_applied():
        states = {}
        for d in docs:
            rec = await table_value(settings, TABLE_NAME, d["jackpot_id"].encode())
            if rec is None:
                return None
            st = JackpotState.from_dict(rec["state"])
            if bets_applied(st) != bets_applied(oracle.states[d["jackpot_id"]]):
                return None
            states[d["jackpot_id"]] = (rec["sequence"], st)
        return states

    before = await explained(wait_for(all_applied, timeout=180, interval=1.0, what="all bets applied"),
                             settings, TABLE_NAME, oracle)
    live = LiveValues(settings.redis_url, namespace=settings.topic_prefix)
    try:
        shown_before = {d["jackpot_id"]: await live.pools(d["jackpot_id"]) for d in docs}
        for w in workers:
            assert w.stop() == 0, w.log_tail()
        restarted = [spawn(f"restart-w{i}-again", "worker", JACKPOT_DATA_DIR=str(tmp_path / f"w{i}"), **env)
                     for i in range(2)]

        async def reloaded():
            """Every jackpot value rewritten by a restarted worker (a clock tick applied)."""
            states = {}
            for d in docs:
                rec = await table_value(settings, TABLE_NAME, d["jackpot_id"].encode())
                if rec["sequence"] <= before[d["jackpot_id"]][0]:
                    return None
                states[d["jackpot_id"]] = JackpotState.from_dict(rec["state"])
            return states

        after = await wait_for(reloaded, timeout=120, interval=1.0, what="restarted workers to tick")
        for jid, (_, st) in before.items():
            assert amounts(after[jid]) == amounts(st), f"amounts of {jid} changed across the restart"
            shown_after = await live.pools(jid)
            assert {(p["level_id"], p["currency"]): p["visible_amount"] for p in shown_after} == {
                (p["level_id"], p["currency"]): p["visible_amount"] for p in shown_before[jid]}
        for w in restarted:
            assert w.alive(), w.log_tail()
    finally:
        await live.close()
