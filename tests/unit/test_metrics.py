"""The shared metric definitions and the /metrics, /health, /ready server (loopback only)."""

from __future__ import annotations

import aiohttp
import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from jackpot import metrics as M
from jackpot.sinks import metrics as sink_metrics


def sample(name: str, **labels) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or None)


def test_issue_metric_names_are_defined_once_with_sink_metrics_reexported():
    names = M.metric_names()
    for name in ("jackpot_events_in", "jackpot_events_out", "jackpot_processing_seconds",
                 "jackpot_event_latency_seconds", "jackpot_consumer_lag_messages", "jackpot_sink_lag_seconds",
                 "jackpot_wallet_calls", "jackpot_pools", "jackpot_pool_at_win_max", "jackpot_ws_connections",
                 "jackpot_ws_frames_sent", "jackpot_ws_queue_overflows", "jackpot_ws_disconnects",
                 "jackpot_reconciliation_differences", "jackpot_tables_recovered"):
        assert name in names, name
    # the sink metrics are the sinks' own objects, not copies under another name
    assert M.SINK_LAG is sink_metrics.LAG and M.RECONCILIATION_DIFFERENCES is sink_metrics.RECON_DIFF


def test_fixed_label_sets_read_zero_before_anything_happens():
    assert sample("jackpot_ws_queue_overflows_total", kind="sse") is not None
    assert sample("jackpot_wallet_calls_total", outcome="rejected") is not None
    assert sample("jackpot_pools", state="pending_manual_resolution") is not None


def test_wallet_outcome_labels():
    assert M.wallet_outcome({"status": "confirmed"}) == "confirmed"
    assert M.wallet_outcome({"status": "failed", "retryable": True}) == "retryable"
    assert M.wallet_outcome({"status": "failed", "retryable": False}) == "rejected"


def test_consumer_lag_per_partition_and_stale_partitions_removed():
    a, b = TopicPartition("bets", 0), TopicPartition("bets", 1)
    assert M.set_consumer_lag("g-test", {a: 90, b: 10}, {a: 100, b: 10}) == 10
    assert sample("jackpot_consumer_lag_messages", group="g-test", topic="bets", partition="0") == 10
    assert sample("jackpot_consumer_lag_messages", group="g-test", topic="bets", partition="1") == 0
    # after a rebalance only partition 1 is ours: partition 0's series goes away
    assert M.set_consumer_lag("g-test", {("bets", 1): 5}, {("bets", 1): 25}) == 20
    assert sample("jackpot_consumer_lag_messages", group="g-test", topic="bets", partition="0") is None
    assert sample("jackpot_consumer_lag_messages", group="g-test", topic="bets", partition="1") == 20


def test_pool_states_and_win_max():
    M.set_pool_states({"active": 7, "dropping": 1})
    assert sample("jackpot_pools", state="active") == 7
    assert sample("jackpot_pools", state="paused") == 0
    M.set_pool_states({"active": 8})
    assert sample("jackpot_pools", state="dropping") == 0
    with pytest.raises(ValueError):
        M.set_pool_states({"on_fire": 1})
    M.set_pools_at_win_max([("j1", "grand", "EUR")], owned=[("j1", "grand", "EUR"), ("j1", "mini", "EUR")])
    assert sample("jackpot_pool_at_win_max", jackpot_id="j1", level_id="grand", currency="EUR") == 1
    assert sample("jackpot_pool_at_win_max", jackpot_id="j1", level_id="mini", currency="EUR") == 0
    M.set_pools_at_win_max([], owned=[("j1", "mini", "EUR")])  # grand moved to another worker
    assert sample("jackpot_pool_at_win_max", jackpot_id="j1", level_id="grand", currency="EUR") is None


def test_event_age_is_observed_in_the_histogram():
    before = sample("jackpot_event_latency_seconds_count", stage="unit") or 0
    age = M.observe_event_age("unit", event_ms=1_000_000, now=1_000.25)
    assert age == pytest.approx(0.25)
    assert sample("jackpot_event_latency_seconds_count", stage="unit") == before + 1
    assert sample("jackpot_event_latency_seconds_bucket", stage="unit", le="0.25") == before + 1


async def test_health_server_ready_only_when_the_callable_says_so():
    registry = CollectorRegistry()
    c = Counter("jackpot_unit_things_total", "things", registry=registry)
    state = {"ready": False}

    async def ready() -> bool:  # async checks work as well as plain ones
        return state["ready"]

    server = M.HealthServer(ready, host="127.0.0.1", port=0, registry=registry)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/health") as r:
                assert r.status == 200
            async with http.get(f"{base}/ready") as r:
                assert r.status == 503
            state["ready"] = True
            async with http.get(f"{base}/ready") as r:
                assert r.status == 200 and (await r.json())["status"] == "ready"
            c.inc(3)
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
                fams = {f.name: f for f in text_string_to_metric_families(await r.text())}
            assert fams["jackpot_unit_things"].samples[0].value == 3
            async with http.get(f"{base}/metrics", headers={"Accept": "application/openmetrics-text"}) as r:
                assert r.headers["Content-Type"].startswith("application/openmetrics-text")
                assert (await r.text()).rstrip().endswith("# EOF")
    finally:
        await server.stop()


async def test_a_failing_readiness_check_is_503_not_500():
    def broken() -> bool:
        raise RuntimeError("tables not open")

    server = M.HealthServer(broken, host="127.0.0.1", port=0, live=lambda: False)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{server.port}/ready") as r:
                assert r.status == 503 and "tables not open" in (await r.json())["error"]
            async with http.get(f"http://127.0.0.1:{server.port}/health") as r:
                assert r.status == 503
    finally:
        await server.stop()
