"""The payout agent's wallet call: one credit command in, one result out.

The engine owns the retry schedule (attempt numbers and backoff times live in the
jackpot's state and are driven by clock ticks), so this side makes exactly one HTTP
call per command and reports what happened.  The call carries the command's
idempotency key: a replayed command after a crash gets the stored result from the
wallet, never a second credit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

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
    """POST the credit; map the answer to a WalletCreditResult record."""
    try:
        async with session.post(f"{url.rstrip('/')}/credits", json=credit_request(cmd),
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            body = await resp.json(content_type=None)
            if resp.status in (200, 201) and body.get("status") == "confirmed":
                return result_record(cmd, "confirmed", transaction_id=str(body.get("transaction_id", "")))
            retryable = resp.status >= 500 or resp.status == 429
            return result_record(cmd, "failed", error=f"HTTP {resp.status}: {body.get('title', '')}",
                                 retryable=retryable)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        return result_record(cmd, "failed", error=f"{type(exc).__name__}: {exc}", retryable=True)
