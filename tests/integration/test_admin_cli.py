"""The admin command line: tokens are created (secret shown once, hash stored) and revoked, and
``admin serve`` runs the API on its own port."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
import signal
import subprocess
import sys

import asyncpg
import pytest
from click.testing import CliRunner

from jackpot.admin_cli import admin

from .conftest import free_port
from .helpers import http_ready

pytestmark = pytest.mark.integration


def test_token_create_stores_only_a_hash_and_revoke_ends_it(settings):
    env = settings.to_env()
    runner = CliRunner()
    res = runner.invoke(admin, ["token", "create", "--actor", "cli-manager", "--role", "manager", "--brand", "b-cli"],
                        env=env)
    assert res.exit_code == 0, res.output
    issued = json.loads(res.output)
    assert issued["token"].startswith("jpa_")
    async def stored():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetchrow("SELECT * FROM admin_tokens WHERE token_id = $1::uuid", issued["token_id"])
        finally:
            await conn.close()

    # the CLI runs its own event loop, so this test is synchronous and reads the row in a thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        row = pool.submit(asyncio.run, stored()).result()
    assert row["token_hash"] == hashlib.sha256(issued["token"].encode()).hexdigest()
    assert issued["token"] not in json.dumps({k: str(v) for k, v in dict(row).items()})
    assert (row["role"], list(row["brands"])) == ("manager", ["b-cli"])
    bad = runner.invoke(admin, ["token", "create", "--actor", "x", "--role", "custom", "--brand", "b"], env=env)
    assert bad.exit_code != 0 and "permission" in bad.output
    assert runner.invoke(admin, ["token", "revoke", issued["token_id"]], env=env).exit_code == 0
    again = runner.invoke(admin, ["token", "revoke", issued["token_id"]], env=env)
    assert again.exit_code != 0 and "no active token" in again.output


async def test_admin_serve_runs_on_its_own_port(settings):
    port = free_port()
    env = {**os.environ, **settings.to_env(), "JACKPOT_ADMIN_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "jackpot.admin_cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        await http_ready(f"http://127.0.0.1:{port}/ready", timeout=60)
        import aiohttp

        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{port}/openapi.json") as r:
                assert r.status == 200 and (await r.json())["info"]["title"] == "Jackpot admin API"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
