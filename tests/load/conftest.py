"""Load and slow-consumer tests: real stack, loopback only, bounded in count and time."""

from __future__ import annotations

import pytest

from tests.integration.conftest import settings, spawn, stack  # noqa: F401  (fixtures)

from .system import portfolio_and_worker


def pytest_configure(config):
    config.addinivalue_line("markers", "load: loopback load test of the gateway (slow, bounded)")
    config.addinivalue_line("markers", "slow_consumer: a client that never reads is cut off (slow, bounded)")


@pytest.fixture(scope="module")
async def running(settings, spawn):  # noqa: F811
    docs, worker = await portfolio_and_worker(settings, spawn, "load-worker")
    return {"docs": docs, "worker": worker}
