"""`jackpot bench --quick` on the real stack: it runs every benchmark, prints its table, then one
JSON line per benchmark with the agreed keys, and cleans up after itself."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from jackpot.bench.benchmarks import NAMES
from jackpot.settings import Settings
from jackpot.streams.kafka import client_options

from .conftest import artifact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UNITS = {"e2e_throughput": "bets/s", "hot_jackpot_vs_rowlock": "bets/s", "latency_pool_p99_ms": "ms",
         "latency_ws_p99_ms": "ms", "recovery_s": "s", "sink_vs_copy": "rows/s", "worker_rss_mb": "MB"}
WITH_BASELINE = {"e2e_throughput", "hot_jackpot_vs_rowlock", "sink_vs_copy"}


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
    res = subprocess.run([sys.executable, "-m", "jackpot.bench", "--quick"], capture_output=True, text=True,
                         env={**os.environ}, timeout=1100)
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
        assert isinstance(d["value"], (int, float)) and math.isfinite(d["value"]) and d["value"] > 0, d
        if d["bench"] in WITH_BASELINE:
            assert d["baseline"] > 0, d
            assert d["ratio"] == pytest.approx(d["value"] / d["baseline"], rel=1e-3, abs=1e-4), d
        else:
            assert d["baseline"] is None and d["ratio"] is None, d
    by_name = {d["bench"]: d for d in docs}
    lat = by_name["latency_pool_p99_ms"]["detail"]
    assert lat["samples"] > 0 and lat["p50_ms"] <= by_name["latency_pool_p99_ms"]["value"] <= lat["max_ms"]
    # the run removed its own topics
    assert await _bench_topics(settings) <= topics_before
