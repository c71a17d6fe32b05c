"""Bring up the running system for browser and load tests: day-one portfolio, a worker, gateways."""

from __future__ import annotations

import os

from jackpot.streams.publish import demo_portfolio, publish_configs

from tests.integration.conftest import free_port
from tests.integration.helpers import http_ready


def rss_of(pid: int) -> int:
    """Resident set size in bytes (from /proc, so it works for any child process)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def portfolio_and_worker(settings, spawn, name: str = "worker"):
    docs = demo_portfolio()
    await publish_configs(settings, docs)
    worker = spawn(name, "worker")
    return {d["name"]: d for d in docs}, worker


async def start_gateway(settings, spawn, name: str, procs=(), **env):
    port, metrics_port = free_port(), free_port()
    gw = spawn(name, "gateway", JACKPOT_GATEWAY_PORT=str(port), JACKPOT_GATEWAY_METRICS_PORT=str(metrics_port), **env)
    gw.metrics_base = f"http://{settings.gateway_host}:{metrics_port}"  # /metrics, /metrics.json: internal port
    base = f"http://{settings.gateway_host}:{port}"
    await http_ready(f"{base}/ready", procs=[gw, *procs])
    return gw, base, port


def cpu_count() -> int:
    return os.cpu_count() or 1
