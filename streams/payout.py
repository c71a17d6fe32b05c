"""The payout agent's wallet call: one credit command in, one result out.

The engine owns the retry schedule (attempt numbers and backoff times live in the
jackpot's state and are driven by clock ticks), so this side makes exactly one HTTP
call per command and reports what happened.  The call carries the command's
idempotency key: a replayed command after a crash gets the stored result from the
wallet, never a second credit.  Whatever the wallet answers that is not a well-formed
result (an empty 502, HTML from a proxy, a JSON list) is a retryable failure, never a crash
and never a confirmation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import aiohttp

from jackpot.engine.events import event_id
from jackpot.engine.money import to_micros


def credit_request(cmd: dict) -> dict:
    net = cmd.get("net_amount") or cmd["amount"]
    return {
        "idempotency_key": cmd["idempotency_key"],
        "player_id": cmd["player_id"],
        "brand_id": cmd.get("brand_id") or "",
        "currency": cmd["currency"],
        "amount_micros": to_micros(net if isinstance(net, Decimal) else Decimal(str(net))),
        "gross_micros": to_micros(cmd["amount"]),
        "tax_micros": to_micros(cmd.get("tax_amount") or Decimal(0)),
        "wagering_requirement": cmd.get("wagering_requirement"),
        "kind": cmd.get("kind"),
        "jackpot_id": cmd["jackpot_id"],
        "attempt": cmd.get("attempt", 1),
    }


def result_record(cmd: dict, status: str, *, transaction_id: str = "", error: str = "",
                  retryable: bool = False) -> dict:
    attempt = int(cmd.get("attempt") or 1)
    return {
        "event_id": event_id("WalletCreditResult", cmd["jackpot_id"], cmd.get("level_id"), cmd["currency"],
                             f"{cmd['idempotency_key']}#{attempt}"),
        "timestamp": dt.datetime.now(dt.timezone.utc),
        "idempotency_key": cmd["idempotency_key"],
        "jackpot_id": cmd["jackpot_id"],
        "level_id": cmd.get("level_id"),
        "currency": cmd["currency"],
        "player_id": cmd["player_id"],
        "amount": cmd["amount"],
        "status": status,
        "attempt": attempt,
        "wallet_transaction_id": transaction_id,
        "error": error,
        "retryable": retryable,
    }


async def call_wallet(session: aiohttp.ClientSession, url: str, cmd: dict, timeout_s: float = 10.0) -> dict:
    """POST the credit; map the answer to a WalletCreditResult record (never raises for the
    wallet's sake: no answer, or one that is not well-formed, is a retryable failure)."""
    try:
        async with session.post(f"{url.rstrip('/')}/credits", json=credit_request(cmd),
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            raw = await _read_bounded(resp)
            return interpret_answer(cmd, resp.status, resp.content_type, raw)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        return result_record(cmd, "failed", error=f"{type(exc).__name__}: {exc}", retryable=True)


MAX_BODY_BYTES = 1 << 20  # a wallet's answer is a few hundred bytes
MAX_TEXT = 200  # of a wallet's title or body quoted in the result's error


async def _read_bounded(resp: aiohttp.ClientResponse) -> bytes | None:
    """The body, or None when it is larger than any real answer."""
    out = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        out += chunk
        if len(out) > MAX_BODY_BYTES:
            return None
    return bytes(out)


_NOT_JSON = object()


def interpret_answer(cmd: dict, status: int, content_type: str, raw: bytes | None) -> dict:
    """The result of one wallet answer.

    Confirmed only on a 2xx whose body is a JSON object saying ``"status": "confirmed"``; a
    non-2xx JSON object is the wallet's refusal (retryable on 5xx and 429, as before); anything
    else (empty, not JSON, a list, a string, HTML, another status) is malformed: a retryable
    failure that quotes what came back, since the credit may or may not have happened and the
    retry's idempotency key makes asking again safe.
    """
    body: Any = _NOT_JSON
    if raw is not None:
        try:
            body = json.loads(raw)
        except ValueError:  # not JSON, or not UTF-8
            pass
    if 200 <= status < 300:
        if isinstance(body, dict) and body.get("status") == "confirmed":
            tx = body.get("transaction_id")
            if tx is None or (isinstance(tx, (str, int)) and not isinstance(tx, bool)):
                return result_record(cmd, "confirmed", transaction_id="" if tx is None else str(tx)[:MAX_TEXT])
            return _malformed(cmd, status, f"transaction_id is a {type(tx).__name__}", content_type, raw)
        if isinstance(body, dict):
            return _malformed(cmd, status, f"status is {body.get('status')!r}, not 'confirmed'"[:MAX_TEXT],
                              content_type, raw)
        return _malformed(cmd, status, _shape(body, raw), content_type, raw)
    if isinstance(body, dict):
        title = next((v for v in (body.get("title"), body.get("detail")) if isinstance(v, str) and v), "")
        return result_record(cmd, "failed", error=f"HTTP {status}: {title[:MAX_TEXT] or 'no title'}",
                             retryable=status >= 500 or status == 429)
    return _malformed(cmd, status, _shape(body, raw), content_type, raw)


def _shape(body: Any, raw: bytes | None) -> str:
    if raw is None:
        return f"body larger than {MAX_BODY_BYTES} bytes"
    if not raw:
        return "empty body"
    if body is _NOT_JSON:
        return "body is not JSON"
    return f"body is a JSON {type(body).__name__}, not an object"


def _malformed(cmd: dict, status: int, what: str, content_type: str, raw: bytes | None) -> dict:
    quoted = "" if not raw else f": {raw[:MAX_TEXT].decode(errors='replace')!r}"
    size = "?" if raw is None else len(raw)
    return result_record(cmd, "failed", retryable=True,
                         error=f"HTTP {status}: malformed wallet answer, {what} ({content_type}, {size} bytes{quoted})")
