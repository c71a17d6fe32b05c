"""The HTML report opens in headless Chromium without errors (console errors or failed loads)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from jackpot.simulation.core import plan_levels, run_level
from jackpot.simulation.report import Scenario, write_report
from jackpot.simulation.traffic import TrafficProfile
from jackpot.engine.catalog import day_one_jackpot

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install -y chromium")
def test_report_opens_in_headless_chromium(tmp_path):
    jp = day_one_jackpot("Daily Blitz")
    tr = TrafficProfile(concurrent_players=100)
    runs = [run_level(jp, tr, p, cycles=10, seed=3) for p in plan_levels(jp, tr)]
    path = write_report([Scenario("Daily Blitz", runs)], tmp_path / "report")
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<h1>" in proc.stdout and "Daily Blitz" in proc.stdout
    assert proc.stdout.count("<img") == 5
    bad = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and ("Error" in ln or "error" in ln)
           or "ERR_FILE_NOT_FOUND" in ln]
    assert not bad, bad
