"""The payout agent's wallet call against a real HTTP server answering every bad shape: whatever the
wallet says that is not a well-formed result is a retryable failure, never a crash and never a
confirmation (an empty 502 body, a JSON list, a string or an HTML page crashed ``call_wallet``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from jackpot.streams.payout import call_wallet

CMD = {"idempotency_key": "k-1", "jackpot_id": "jp", "level_id": "grand", "currency": "EUR", "player_id": "p1",
       "amount": Decimal("100.000000"), "attempt": 2, "timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}

# (status, content type, body)
ANSWERS = {
    "confirmed": (201, "application/json", b'{"status": "confirmed", "transaction_id": "tx-9"}'),
    "confirmed-no-tx": (200, "application/json", b'{"status": "confirmed"}'),
    "problem-odd-title": (400, "application/problem+json", b'{"title": {"en": "bad"}}'),
    "problem-409": (409, "application/problem+json", b'{"title": "idempotency key reused"}'),
    "problem-503": (503, "application/problem+json", b'{"title": "maintenance"}'),
    "empty-502": (502, "text/plain", b""),
    "empty-200": (200, "application/json", b""),
    "list-200": (200, "application/json", b'["confirmed"]'),
    "string-200": (200, "application/json", b'"confirmed"'),
    "number-500": (500, "application/json", b"42"),
    "html-500": (500, "text/html", b"<html><body><h1>Internal Server Error</h1></body></html>"),
    "html-200": (200, "text/html", b"<html>proxy login page</html>"),
    "html-404": (404, "text/html", b"<html>Not Found</html>"),
    "pending-200": (200, "application/json", b'{"status": "pending", "transaction_id": "tx-9"}'),
    "no-status-200": (200, "application/json", b'{"transaction_id": "tx-9"}'),
    "status-list-200": (200, "application/json", b'{"status": ["confirmed"]}'),
    "tx-object-200": (200, "application/json", b'{"status": "confirmed", "transaction_id": {"id": 1}}'),
    "bad-utf8-200": (200, "application/json", b'{"status": "confirmed", "transaction_id": "\xff"}'),
    "truncated-200": (200, "application/json", b'{"status": "conf'),
}


@pytest.fixture(scope="module")
async def wallet():
    async def credits(request: web.Request) -> web.Response:
        status, ctype, body = ANSWERS[request.headers["X-Answer"]]
        return web.Response(status=status, body=body, headers={"Content-Type": ctype})

    app = web.Application()
    app.router.add_post("/credits", credits)
    server = TestServer(app)
    await server.start_server()
    yield server
    await server.close()


async def answer(wallet, name: str) -> dict:
    async with aiohttp.ClientSession(headers={"X-Answer": name}) as session:
        return await call_wallet(session, str(wallet.make_url("/")), CMD, timeout_s=5)


async def test_a_confirmation_is_confirmed(wallet):
    res = await answer(wallet, "confirmed")
    assert (res["status"], res["wallet_transaction_id"], res["retryable"]) == ("confirmed", "tx-9", False)
    res = await answer(wallet, "confirmed-no-tx")  # the transaction id is optional
    assert (res["status"], res["wallet_transaction_id"]) == ("confirmed", "")


async def test_a_well_formed_refusal_keeps_its_status_semantics(wallet):
    res = await answer(wallet, "problem-409")
    assert (res["status"], res["retryable"]) == ("failed", False)
    assert res["error"] == "HTTP 409: idempotency key reused"
    res = await answer(wallet, "problem-503")
    assert (res["status"], res["retryable"], res["error"]) == ("failed", True, "HTTP 503: maintenance")
    res = await answer(wallet, "problem-odd-title")
    assert (res["status"], res["retryable"], res["error"]) == ("failed", False, "HTTP 400: no title")


@pytest.mark.parametrize("name", [n for n in ANSWERS if not n.startswith(("confirmed", "problem"))])
async def test_every_malformed_answer_is_a_retryable_failure(wallet, name):
    res = await answer(wallet, name)
    status = ANSWERS[name][0]
    assert res["status"] == "failed" and res["retryable"] is True, res
    assert res["error"].startswith(f"HTTP {status}: "), res["error"]
    assert "malformed wallet answer" in res["error"], res["error"]
    assert len(res["error"]) < 400
    assert res["attempt"] == 2 and res["idempotency_key"] == "k-1"


async def test_an_unreachable_wallet_is_a_retryable_failure():
    async with aiohttp.ClientSession() as session:
        res = await call_wallet(session, "http://127.0.0.1:9", CMD, timeout_s=2)
    assert res["status"] == "failed" and res["retryable"] is True and res["error"]
