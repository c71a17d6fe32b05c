"""`jackpot bench --quick` on the real stack: it runs every benchmark, prints its table, then one
JSON line per benchmark with the agreed keys, writes the latency chart asked for, and cleans up
after itself."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from jackpot.bench.benchmarks import LATENCY_SHARES, NAMES, capacity_share
from jackpot.settings import Settings
from jackpot.streams.kafka import client_options

from .conftest import artifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UNITS = {"e2e_throughput": "bets/s", "cpu_per_bet_vs_faust": "us/bet", "hot_jackpot_vs_rowlock": "bets/s",
         "latency_capacity_share": "share", "latency_pool_p99_ms": "ms", "latency_ws_p99_ms": "ms", "recovery_s": "s",
         "sink_vs_copy": "rows/s", "worker_rss_mb": "MB", "campaign_latency_p99_ms": "ms"}
WITH_BASELINE = {"e2e_throughput", "cpu_per_bet_vs_faust", "hot_jackpot_vs_rowlock", "sink_vs_copy",
                 "campaign_latency_p99_ms", "latency_pool_p99_ms", "latency_ws_p99_ms"}
# a valid figure may be 0: no offered rate met the latency target
MAY_BE_ZERO = {"latency_capacity_share"}


async def _bench_topics(settings: Settings) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if t.startswith("bench-")}
    finally:
        await admin.close()


@pytest.mark.timeout(1200)
async def test_bench_quick_prints_a_table_and_one_json_line_per_benchmark(stack):
    settings = Settings()
    topics_before = await _bench_topics(settings)
    chart = artifact("bench-latency.png")
    chart.unlink(missing_ok=True)
    res = subprocess.run([sys.executable, "-m", "jackpot.bench", "--quick", "--chart", str(chart)], capture_output=True,
                         text=True, env={**os.environ}, timeout=1100)
    artifact("bench-quick.log").write_text(res.stdout + "\n--- stderr ---\n" + res.stderr)
    assert res.returncode == 0, res.stderr[-4000:]
    print(res.stdout)  # the table, for the CI log

    lines = res.stdout.strip().splitlines()
    header = lines[0].split()
    assert header[:5] == ["benchmark", "value", "unit", "baseline", "ratio"]
    docs = [json.loads(line) for line in lines if line.startswith("{")]
    assert [d["bench"] for d in docs] == list(NAMES)
    table_rows = {line.split()[0] for line in lines[2:] if not line.startswith("{")}
    assert table_rows == set(NAMES)
    for d in docs:
        assert {"bench", "value", "unit", "baseline", "ratio"} <= set(d), d
        assert d["unit"] == UNITS[d["bench"]], d
        assert isinstance(d["value"], (int, float)) and math.isfinite(d["value"]), d
        assert d["value"] >= 0 if d["bench"] in MAY_BE_ZERO else d["value"] > 0, d
        if d["bench"] in WITH_BASELINE:
            assert d["baseline"] > 0, d
            assert d["ratio"] == pytest.approx(d["value"] / d["baseline"], rel=1e-3, abs=1e-4), d
        else:
            assert d["baseline"] is None and d["ratio"] is None, d
    by_name = {d["bench"]: d for d in docs}
    lat = by_name["latency_pool_p99_ms"]["detail"]
    assert lat["samples"] > 0 and lat["p50_ms"] <= by_name["latency_pool_p99_ms"]["value"] <= lat["max_ms"]

    # CPU per bet: the worker's process CPU against a Faust passthrough's, with the sinks' and the
    # broker's beside it
    cpu = by_name["cpu_per_bet_vs_faust"]["detail"]
    assert cpu["target_ratio_max"] == 3 and cpu["bets"] > 0
    assert cpu["sinks_us_per_bet"] > 0
    assert cpu["broker_us_per_bet"] is None or cpu["broker_us_per_bet"] > 0
    assert cpu["worker_cpu_s"] == pytest.approx(by_name["cpu_per_bet_vs_faust"]["value"] * cpu["bets"] / 1e6, rel=0.02)
    assert by_name["e2e_throughput"]["detail"]["faust_passthrough_msgs_per_s"] > 0
    assert "one row per bet" in by_name["hot_jackpot_vs_rowlock"]["detail"]["rowlock_ledger"]
    campaign = by_name["campaign_latency_p99_ms"]["detail"]
    assert campaign["pushes"] == 5 * 40 and campaign["p50_ms"] <= by_name["campaign_latency_p99_ms"]["value"] <= campaign["max_ms"]

    # open-loop latency at three shares of the measured capacity; the value is the highest share
    # whose WebSocket p99 is under the target, and the p99 lines are the 50% rate's
    share = by_name["latency_capacity_share"]
    rates = share["detail"]["rates"]
    assert [r["share"] for r in rates] == list(LATENCY_SHARES)
    assert share["detail"]["capacity_bets_s"] == pytest.approx(by_name["e2e_throughput"]["value"], rel=1e-3)
    for r in rates:
        assert r["samples"] > 0 and r["pool_p50_ms"] <= r["pool_p99_ms"], r
        assert r["ws_p99_ms"] is not None and r["ws_p50_ms"] <= r["ws_p99_ms"], r
        assert r["offered_bets_s"] == pytest.approx(r["share"] * share["detail"]["capacity_bets_s"], rel=1e-2), r
        # a bare broker hop measured beside each rate: the floor of any path through the broker
        assert 0 < r["hop_p50_ms"] <= r["hop_p99_ms"], r
    assert share["value"] == capacity_share(rates, share["detail"]["target_p99_ms"])
    half = next(r for r in rates if r["share"] == 0.5)
    assert by_name["latency_pool_p99_ms"]["value"] == pytest.approx(half["pool_p99_ms"], abs=0.01)
    assert by_name["latency_ws_p99_ms"]["value"] == pytest.approx(half["ws_p99_ms"], abs=0.01)
    assert by_name["latency_ws_p99_ms"]["baseline"] == pytest.approx(half["hop_p99_ms"], abs=0.01)
    # the chart of offered rate against p99 latency, beside the JSON lines
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the run removed its own topics
    assert await _bench_topics(settings) <= topics_before
