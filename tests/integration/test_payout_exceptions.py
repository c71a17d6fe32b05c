"""Failed Win Handling through the admin API, on the real stack (spec: "Wallet fails (all
retries) -> PENDING_MANUAL_RESOLUTION. Operator: retry, void, or alternative payout").

The wallet refuses every credit, so a forced drop's prize ends in manual resolution with the pool
locked. The operator finds it in the payout list, retries it through the API (the wallet still
refuses: manual again), then records an alternative payout: the prize is resolved with the
payment's reference, the win settles and the pool reseeds. The wallet never credited anything.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import aiohttp
import pytest

from jackpot.streams.loadgen import produce_bets

from .conftest import wait_for
from .helpers import read_events, reference_wallet
from .test_admin_support import admin, call, full_draft, http  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


async def test_a_failed_payout_is_retried_then_paid_another_way(admin, http, settings, spawn):
    wallet_url = await reference_wallet(spawn, "exceptions-wallet", fail_next=1_000)  # refuses every credit

    brand = admin.brand("payexc")
    manager = await admin.token("manager", [brand], actor="manager-payexc")
    operator = await admin.token("operator", [brand], actor="operator-payexc")
    admin_token = await admin.token("admin", [brand], actor="admin-payexc")
    name = "Payout Exceptions Fortune"
    draft = full_draft([brand], name)
    draft["trigger"] = {"distribution_mode": 1, "drop_mode": "range",
                        "payout": {"wallet_max_attempts": 2, "wallet_retry_base_ms": 100, "wallet_retry_max_ms": 200}}
    status, jp, _ = await call(http, "POST", f"{admin.url}/v1/jackpots", manager, json_body=draft)
    assert status == 201, jp
    jid = jp["jackpot_id"]
    level_id = jp["steps"]["levels"]["levels"][0]["level_id"]
    status, res, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/activate", manager,
                                json_body={"confirm": True})
    assert status == 200, res
    worker = spawn("exceptions-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S="0.5")
    await produce_bets(settings, [{
        "event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": "player-unlucky",
        "game_id": "starburst", "brand_id": brand, "currency": "EUR", "bet_amount": Decimal("2.00"),
        "bet_type": "real", "session_id": "s-1"}])
    await wait_for(lambda: read_events(settings, settings.topic("pool-updated"), jid.encode()), timeout=120,
                   what="the bet in the pool")
    status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/force-drop?wait_s=30", manager,
                                json_body={"level_id": level_id, "reason": "payout exception drill",
                                           "confirmation": name})
    assert status == 200 and cmd["state"] == "applied", cmd

    async def stuck(attempts: int):
        status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/payouts", operator)
        assert status == 200, doc
        manual = [p for p in doc["items"] if p["payout_status"] == "manual" and p["attempt"] >= attempts]
        return manual[0] if manual else None

    prize = await wait_for(lambda: stuck(2), timeout=120, what="the prize in manual resolution after 2 attempts")
    win_id = prize["win_id"]
    assert prize["player_id_masked"] == "pl***ky" and prize["kind"] == "main"

    # 1. retry (Operator): the same credit once more; the wallet still refuses, so it comes back
    status, cmd, _ = await call(http, "POST", f"{admin.url}/v1/jackpots/{jid}/wins/{win_id}/retry-payout?wait_s=30",
                                operator, json_body={"reason": "wallet team says it is back"})
    assert status == 200 and cmd["state"] == "applied", cmd
    prize = await wait_for(lambda: stuck(3), timeout=120, what="the retried prize back in manual resolution")

    # 2. alternative payout: an Operator may not, a typo in the confirmation is refused, an Admin records it
    url = f"{admin.url}/v1/jackpots/{jid}/wins/{win_id}/alternative-payout?wait_s=30"
    body = {"reference": "SEPA transfer RF18 5390 0754 7034", "reason": "wallet outage, paid by bank transfer",
            "confirmation": win_id}
    status, prob, _ = await call(http, "POST", url, operator, json_body=body)
    assert status == 403 and prob["type"].endswith("/forbidden")
    status, prob, _ = await call(http, "POST", url, admin_token, json_body={**body, "confirmation": "win-typo"})
    assert status == 422 and prob["type"].endswith("/confirmation-mismatch")
    status, cmd, _ = await call(http, "POST", url, admin_token, json_body=body)
    assert status == 200 and cmd["state"] == "applied", cmd

    async def resolved():
        status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/payouts?state=resolved", operator)
        return doc["items"] or None

    [paid] = await wait_for(resolved, timeout=60, what="the prize resolved")
    assert paid["win_id"] == win_id
    status, doc, _ = await call(http, "GET", f"{admin.url}/v1/jackpots/{jid}/payouts", operator)
    assert doc["items"] == []  # nothing left for the operator
    reseeded = await wait_for(lambda: read_events(settings, settings.topic("jackpot-reseeded"), jid.encode()),
                              timeout=60, what="the pool reseeded after the alternative payout")
    assert reseeded[0]["level_id"] == level_id
    async with aiohttp.ClientSession() as s:
        stats = await (await s.get(f"{wallet_url}/stats")).json()
    assert stats["credits"] == 0  # paid outside the wallet, never through it
    assert worker.alive(), worker.log_tail()

