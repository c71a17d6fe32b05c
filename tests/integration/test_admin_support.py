"""Fixtures shared by the admin API tests: the admin app on a free port against the real stack,
and tokens for every role (this module holds no tests itself)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from jackpot.gateway.admin.api import SERVICES
from jackpot.gateway.admin.app import create_admin_app
from jackpot.gateway.admin.rbac import Permission, Role

from .conftest import free_port


@dataclass
class AdminServer:
    url: str
    app: web.Application
    run: str

    @property
    def services(self):
        return self.app[SERVICES]

    def brand(self, name: str) -> str:
        return f"{name}-{self.run}"

    async def token(self, role: str, brands: list[str] | None = None, *, all_brands: bool = False,
                    permissions: list[str] | None = None, actor: str | None = None) -> str:
        issued = await self.services.tokens.create(
            actor=actor or f"{role}-{uuid.uuid4().hex[:6]}", role=Role(role), brands=brands or [],
            all_brands=all_brands, permissions=[Permission(p) for p in permissions or []], created_by="test")
        return issued.secret


@pytest_asyncio.fixture(scope="module")
async def admin(settings):
    port = free_port()
    app = create_admin_app(settings.model_copy(update={"admin_command_wait_s": 0.0}))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield AdminServer(f"http://127.0.0.1:{port}", app, uuid.uuid4().hex[:8])
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(scope="module")
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, url: str, token: str | None = None, *,
               json_body=None, headers: dict | None = None, data: bytes | None = None):
    """One request; returns (status, parsed body, content type)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    async with http.request(method, url, json=json_body, data=data, headers=h) as resp:
        text = await resp.text()
        ctype = resp.headers.get("Content-Type", "")
        body = None
        if "json" in ctype and text:
            import json

            body = json.loads(text)
        return resp.status, body, ctype


def identity(brands: list[str], name: str = "Admin Fortune", **over) -> dict:
    doc = {"name": name, "type": "PERSISTENT", "brands": brands, "currencies": ["EUR"], "compliance_profile": "CW"}
    doc.update(over)
    return doc


LEVELS = {
    "contribution_rate": "0.015",
    "house_cut": "0.10",
    "levels": [{"name": "Grand", "display_order": 1, "contribution_split": "1", "seed_from": "1000",
                "seed_to": "1000", "win_from": "5000", "win_to": "6000", "win_max": "10000"}],
}
GAMES = {"games": [{"game_id": "starburst", "coefficient": "1.2"}]}


async def live_jackpot(admin: "AdminServer", http: aiohttp.ClientSession, token: str, draft: dict) -> dict:
    """Create a jackpot from wizard steps and activate it through the API; its record as created."""
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", token, json_body=draft)
    assert status == 201, jp
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jp['jackpot_id']}/activate", token,
                                json_body={"confirm": True})
    assert status == 200, res
    return jp


def full_draft(brands: list[str], name: str = "Admin Fortune") -> dict:
    return {"identity": identity(brands, name), "levels": LEVELS, "games": GAMES,
            "presentation": {"content": {"en": {"title": name, "rules": "Play responsibly."}},
                             "default_language": "en"}}


pytestmark = pytest.mark.integration


class ThreadedAdmin:
    """The admin app on its own event loop in a thread, for synchronous clients (schemathesis)."""

    def __init__(self, settings) -> None:
        import asyncio
        import threading

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.app = create_admin_app(settings.model_copy(update={"admin_command_wait_s": 0.0}))
        self._runner = web.AppRunner(self.app)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._runner.setup())
            self.loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="admin-under-test", daemon=True)
        self.thread.start()
        if not started.wait(60):
            raise RuntimeError("admin app did not start")

    def run(self, coro, timeout: float = 60):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def token(self, role: str, brands: list[str], **kw) -> str:
        issued = self.run(self.app[SERVICES].tokens.create(
            actor=kw.pop("actor", f"{role}-{uuid.uuid4().hex[:6]}"), role=Role(role), brands=brands,
            permissions=[Permission(p) for p in kw.pop("permissions", [])], created_by="test", **kw))
        return issued.secret

    def close(self) -> None:
        self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
