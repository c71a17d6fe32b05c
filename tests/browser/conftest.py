"""Browser tests: Debian's headless Chromium driven by Playwright against the running system.

Needs ``apt-get install -y chromium`` and the ``playwright`` Python package (never
``playwright install``: the browser is the system one).  Skipped with the reason when either is
missing.  Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.integration.conftest import settings, spawn, stack  # noqa: F401  (fixtures)
from tests.load.system import portfolio_and_worker, start_gateway

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: headless Chromium against the running system (slow, bounded)")


@pytest.fixture(scope="module")
async def system(settings, spawn):  # noqa: F811
    docs, worker = await portfolio_and_worker(settings, spawn, "browser-worker")
    gw, base, port = await start_gateway(settings, spawn, "browser-gateway", procs=[worker])
    return {"docs": docs, "worker": worker, "gateway": gw, "base": base, "port": port}


@pytest.fixture(scope="session")
async def browser():
    if not shutil.which("chromium") and not shutil.os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed")
    profile = tempfile.mkdtemp(prefix="jackpot-chromium-")
    async with async_playwright() as pw:
        ctx = await pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS,
                                                          headless=True, viewport={"width": 1280, "height": 900})
        yield ctx
        await ctx.close()
    shutil.rmtree(profile, ignore_errors=True)
