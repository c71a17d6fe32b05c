"""A reference wallet: the HTTP contract the payout agent speaks, with fault injection.

An operator plugs its real wallet in by URL (``WALLET_URL``); this one exists for the
demo and the tests.  ``POST /credits`` is idempotent on ``idempotency_key``: the same
key with the same body returns the stored result (200), the same key with another
body is a 409.  Faults are set at run time with ``POST /faults``:
``{"fail_next": N, "status": 503, "delay_ms": 0, "fail_rate": 0.0}``.
"""

from __future__ import annotations

import asyncio
import random
import uuid

from aiohttp import web


def _without_attempt(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "attempt"}


class ReferenceWallet:
    def __init__(self, seed: int | None = None) -> None:
        self.credits: dict[str, dict] = {}
        self.balances: dict[tuple[str, str], int] = {}
        self.faults = {"fail_next": 0, "status": 503, "delay_ms": 0, "fail_rate": 0.0}
        self.calls = 0
        self.rng = random.Random(seed)

    async def credit(self, request: web.Request) -> web.Response:
        self.calls += 1
        try:
            body = await request.json()
            key = str(body["idempotency_key"])
            amount_micros = int(body["amount_micros"])
            player, currency = str(body["player_id"]), str(body["currency"])
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"title": "bad credit request", "detail": str(exc)}, status=400,
                                     content_type="application/problem+json")
        if self.faults["delay_ms"]:
            await asyncio.sleep(self.faults["delay_ms"] / 1000)
        if self.faults["fail_next"] > 0:
            self.faults["fail_next"] -= 1
            return web.json_response({"title": "injected fault"}, status=int(self.faults["status"]))
        if self.faults["fail_rate"] and self.rng.random() < self.faults["fail_rate"]:
            return web.json_response({"title": "injected fault"}, status=int(self.faults["status"]))
        stored = self.credits.get(key)
        if stored is not None:
            if _without_attempt(stored["request"]) != _without_attempt(body):
                return web.json_response({"title": "idempotency key reused with another body"}, status=409,
                                         content_type="application/problem+json")
            return web.json_response(stored["response"])
        self.balances[(player, currency)] = self.balances.get((player, currency), 0) + amount_micros
        response = {"status": "confirmed", "transaction_id": str(uuid.uuid4()), "idempotency_key": key}
        self.credits[key] = {"request": body, "response": response}
        return web.json_response(response, status=201)

    async def get_credit(self, request: web.Request) -> web.Response:
        stored = self.credits.get(request.match_info["key"])
        if stored is None:
            return web.json_response({"title": "no such credit"}, status=404)
        return web.json_response(stored)

    async def set_faults(self, request: web.Request) -> web.Response:
        self.faults.update(await request.json())
        return web.json_response(self.faults)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": self.calls, "credits": len(self.credits),
                                  "balances": {f"{p}:{c}": v for (p, c), v in self.balances.items()}})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


def create_wallet(seed: int | None = None) -> web.Application:
    wallet = ReferenceWallet(seed)
    app = web.Application()
    app["wallet"] = wallet
    app.router.add_post("/credits", wallet.credit)
    app.router.add_get("/credits/{key}", wallet.get_credit)
    app.router.add_post("/faults", wallet.set_faults)
    app.router.add_get("/stats", wallet.stats)
    app.router.add_get("/health", wallet.health)
    return app
