"""``campaign_latency_p99_ms``: from a jackpot's warn state change to On Fire to each push at the
reference receiver, through the real worker, campaigns process and receiver.

Several small jackpots go On Fire, each with its own audience of opted-in players, under one live
rule (On Fire -> push).  Each push carries the time of the event that fired it; the receiver
stamps its arrival; the p99 of the differences is the figure (the issue's target: under 2 s).
The baseline, measured in the same run, is the p99 of the receiver's own round trip for a signed
POST from this process (what a campaign costs beyond the HTTP call itself shows as the ratio).
It runs in a deployment of its own (fresh topics and worker): a campaigns process started on the
other benchmarks' topics would first read their whole history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import statistics
import time
import uuid
from decimal import Decimal
from typing import TextIO

import aiohttp

from jackpot.campaigns.delivery import SIGNATURE_HEADER, sign
from jackpot.campaigns.rules import Rule
from jackpot.streams.campaigns import publish_rule
from jackpot.streams.loadgen import produce_bets, produce_player_events

from .harness import BenchRun, Result, free_port, log

TARGET_MS = 2000.0


def _config(jackpot_id: str) -> dict:
    """One level that goes On Fire within a few hundred EUR of bets (warn at 50-60% of a 200-220
    target, On Fire between the warn threshold and the target), 10% of each bet to the pool."""
    return {
        "jackpot_id": jackpot_id, "name": f"Campaign bench {jackpot_id[:6]}", "internal_name": f"cb-{jackpot_id[:8]}",
        "type": "PERSISTENT", "status": "ACTIVE", "brands": ["bench-brand"], "currencies": ["EUR"],
        # a game of its own: a bet moves this jackpot alone, so each has its own audience
        "games": [{"game_id": f"cs-{jackpot_id[:8]}", "coefficient": "1"}], "contribution_rate": "0.1", "house_cut": "0",
        "compliance_profile": {"jurisdiction_code": "MT", "allowed_distribution_modes": [1]},
        "levels": [{"level_id": str(uuid.uuid4()), "name": "Grand", "display_order": 1, "contribution_split": "1",
                    "seed_from": "10", "seed_to": "10", "win_from": "200", "win_to": "220", "win_max": "1000",
                    "warn_from": "0.5", "warn_to": "0.6"}],
    }


def _bet(player_id: str, jackpot_id: str, amount: Decimal) -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc), "player_id": player_id,
            "game_id": f"cs-{jackpot_id[:8]}", "brand_id": "bench-brand", "currency": "EUR", "bet_amount": amount,
            "bet_type": "real", "session_id": f"s-{player_id}"}


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]


async def _received(http: aiohttp.ClientSession, base: str) -> list[dict]:
    async with http.get(f"{base}/_control/received") as r:
        return (await r.json())["received"]


async def _round_trips(http: aiohttp.ClientSession, base: str, secret: bytes, n: int) -> list[float]:
    """The baseline: signed POSTs of a push-sized body from here, one at a time."""
    out = []
    for i in range(n):
        body = b'{"baseline": %d}' % i
        headers = {"Idempotency-Key": f"baseline-{uuid.uuid4()}", SIGNATURE_HEADER: sign(secret, body),
                   "Content-Type": "application/json"}
        t0 = time.perf_counter()
        async with http.post(f"{base}/baseline", data=body, headers=headers) as r:
            await r.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def campaign_latency(parent: BenchRun, jackpots: int, players: int, out: TextIO | None) -> Result:
    """In a deployment of its own (fresh topics, a worker of its own): a campaigns process reads
    its inputs from their start, and must not spend the run on the other benchmarks' history."""
    async with BenchRun(parent.base, out=out, keep=parent.keep) as run:
        from .benchmarks import _http_ready

        worker = run.worker(0)
        await _http_ready(f"http://127.0.0.1:{worker.env['JACKPOT_WORKER_WEB_PORT']}/ready", worker, timeout=300)
        try:
            return await _measure(run, jackpots, players, out)
        except BaseException:
            run.failed = True  # keep the process logs
            raise


async def _measure(run: BenchRun, jackpots: int, players: int, out: TextIO | None) -> Result:
    secret = secrets.token_hex(24)
    port, web = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = run.spawn("campaign-receiver", "campaign-receiver", "--port", str(port), JACKPOT_CAMPAIGN_SECRET=secret)
    campaigns = run.spawn("campaigns", "campaigns", JACKPOT_CAMPAIGN_SECRET=secret, JACKPOT_CAMPAIGN_ENDPOINT=base,
                          JACKPOT_CAMPAIGN_WEB_PORT=str(web), JACKPOT_CAMPAIGN_DATA_DIR=str(run.tmp / "campaigns"),
                          JACKPOT_CAMPAIGN_APPROVAL_THRESHOLD=str(players * 2))
    from .benchmarks import _http_ready

    await _http_ready(f"http://127.0.0.1:{web}/ready", campaigns)
    await _http_ready(f"{base}/_control/received", receiver)
    configs = [_config(str(uuid.uuid4())) for _ in range(jackpots)]
    audiences = {c["jackpot_id"]: [f"cb-{c['jackpot_id'][:8]}-{i:04d}" for i in range(players)] for c in configs}
    everyone = [p for ps in audiences.values() for p in ps]
    await produce_player_events(run.settings, "player-profiles", [
        ("PlayerProfile", {"event_id": str(uuid.uuid4()), "timestamp": dt.datetime.now(dt.timezone.utc),
                           "player_id": p, "brand_id": "bench-brand", "consent": ["push"]}) for p in everyone])
    rule = Rule.model_validate({"rule_id": str(uuid.uuid4()), "version": 1, "name": "bench On Fire push",
                                "jackpot_ids": list(audiences), "trigger": {"kind": "warn_state", "to": ["on_fire"]},
                                "actions": [{"channel": "push", "template": "on-fire"}], "dry_run": False})
    await publish_rule(run.settings, rule)
    await run.publish(configs)
    await asyncio.sleep(3)  # the worker's config view and the rules view have them
    # every player bets once (together under any warn threshold: 72 EUR at most), then the pools climb
    first = (Decimal(60) / players).quantize(Decimal("0.01"))
    await produce_bets(run.settings, [_bet(p, jid, first * 10) for jid, ps in audiences.items() for p in ps])
    await asyncio.sleep(3)
    for _ in range(4):  # 4 x 60 EUR more per jackpot: past every target, so each went On Fire
        await produce_bets(run.settings, [_bet(ps[0], jid, Decimal(600)) for jid, ps in audiences.items()])
    want = len(everyone)
    deadline = time.monotonic() + 180
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            got = [r for r in await _received(http, base) if r["path"] == "/push"]
            if len(got) >= want:
                break
            await asyncio.sleep(0.5)
        baseline = await _round_trips(http, base, secret.encode(), 200)
    lat = [r["at"] * 1000 - r["body"]["variables"]["event_at_ms"] for r in got]
    if len(got) < want:
        raise RuntimeError(f"campaign_latency: {len(got)} of {want} pushes arrived in 180 s")
    value, base_p99 = _p99(lat), _p99(baseline)
    log(out, f"campaign_latency: {len(lat)} pushes, p50 {statistics.median(lat):.0f} ms, p99 {value:.0f} ms")
    campaigns.stop()
    receiver.stop()
    return Result("campaign_latency_p99_ms", value, "ms", base_p99, "a signed POST to the receiver, p99",
                  {"pushes": len(lat), "jackpots": jackpots, "p50_ms": round(statistics.median(lat)),
                   "target_ms": TARGET_MS, "max_ms": round(max(lat))})
