"""Campaign deliveries against the reference receiver, over real HTTP: signed bodies, one
application per idempotency key, retries on transient failures only."""

from __future__ import annotations

import time
import uuid

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from jackpot.campaigns.delivery import Deliverer, Endpoint, sign, verify
from jackpot.campaigns.plan import Planned
from jackpot.campaigns.receiver import Receiver, receiver_app
from jackpot.campaigns.rules import Channel

SECRET = b"0123456789abcdef-receiver"


def action(channel: Channel = Channel.PUSH, player: str | None = "player-1", target: str | None = None) -> Planned:
    return Planned(str(uuid.uuid4()), "fire-1", "rule-1", 1, channel, "Grand is On Fire", target, "jp-1", player)


@pytest.fixture
async def receiver():
    r = Receiver(SECRET)
    server = TestServer(receiver_app(r))
    await server.start_server()
    try:
        yield r, server
    finally:
        await server.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def deliverer(server, session, secret=SECRET, **kw) -> Deliverer:
    ep = Endpoint(str(server.make_url("/push")), secret)
    return Deliverer({Channel.PUSH: ep, Channel.WEBHOOK: ep}, session, backoff_s=0.01, backoff_max_s=0.05, **kw)


def test_a_signature_checks_body_secret_and_age():
    body = b'{"a":1}'
    header = sign(SECRET, body)
    assert verify(SECRET, body, header)
    assert not verify(SECRET, b'{"a":2}', header)
    assert not verify(b"another-secret-of-16+", body, header)
    assert not verify(SECRET, body, sign(SECRET, body, at=int(time.time()) - 301))
    assert not verify(SECRET, body, None) and not verify(SECRET, body, "t=x,v1=y") and not verify(SECRET, body, "junk")


async def test_an_action_is_delivered_once_per_idempotency_key(receiver, session):
    r, server = receiver
    d = deliverer(server, session)
    a = action()
    first = await d.deliver(a, {"level_name": "Grand"})
    again = await d.deliver(a, {"level_name": "Grand"})
    assert (first.status, first.duplicate, again.status, again.duplicate) == ("delivered", False, "delivered", True)
    assert [x["key"] for x in r.received] == [a.action_id] and r.replays == 1
    assert r.received[0]["body"]["variables"] == {"level_name": "Grand"}
    assert r.received[0]["body"]["player_id"] == "player-1"


async def test_transient_failures_are_retried_and_retry_after_is_honoured(receiver, session):
    r, server = receiver
    async with session.post(server.make_url("/_control/fail"), json={"status": 503, "times": 2, "retry_after": 0}) as resp:
        assert resp.status == 200
    receipt = await deliverer(server, session).deliver(action())
    assert receipt.status == "delivered" and receipt.attempts == 3 and len(r.received) == 1


async def test_a_client_error_is_not_retried_and_a_wrong_secret_is_refused(receiver, session):
    r, server = receiver
    async with session.post(server.make_url("/_control/fail"), json={"status": 422, "times": 5}) as resp:
        assert resp.status == 200
    receipt = await deliverer(server, session).deliver(action())
    assert (receipt.status, receipt.attempts, receipt.http_status) == ("failed", 1, 422)
    r.fail_times = 0
    forged = await deliverer(server, session, secret=b"not-the-receivers-secret").deliver(action())
    assert (forged.status, forged.http_status) == ("failed", 401) and r.received == []


async def test_retries_end_with_a_failed_receipt_and_unreachable_endpoints_too(receiver, session):
    r, server = receiver
    r.fail_times, r.fail_status = 10, 500
    receipt = await deliverer(server, session, attempts=3).deliver(action())
    assert (receipt.status, receipt.attempts, receipt.http_status) == ("failed", 3, 500)
    down = Deliverer({Channel.PUSH: Endpoint("http://127.0.0.1:9/push", SECRET)}, session, attempts=2, backoff_s=0.01)
    receipt = await down.deliver(action())
    assert receipt.status == "failed" and receipt.attempts == 2 and "Connect" in receipt.error
    missing = await down.deliver(action(Channel.SMS))
    assert missing.status == "failed" and missing.attempts == 0 and "no endpoint" in missing.error


async def test_a_webhook_goes_to_its_own_target(receiver, session):
    r, server = receiver
    d = Deliverer({Channel.WEBHOOK: Endpoint("http://127.0.0.1:9/unused", SECRET)}, session,
                  webhook_hosts=frozenset({"127.0.0.1"}))
    receipt = await d.deliver(action(Channel.WEBHOOK, None, target=str(server.make_url("/webhook"))))
    assert receipt.status == "delivered" and r.received[0]["path"] == "/webhook"
    # a partner host nobody allowed gets no signed body, and a URL aiohttp refuses fails, never raises
    elsewhere = await d.deliver(action(Channel.WEBHOOK, None, target="https://attacker.example/x"))
    assert elsewhere.status == "failed" and "not among the allowed" in elsewhere.error and len(r.received) == 1
    bad = Deliverer({Channel.PUSH: Endpoint("http://127.0.0.1:99999/push", SECRET)}, session)
    assert (await bad.deliver(action())).status == "failed"


async def test_a_body_signed_for_one_channel_is_refused_by_another_channels_endpoint(receiver, session):
    """A partner that got a signed webhook body replays it, within the signature's 300 s, to the
    push endpoint: refused, nothing recorded."""
    r, server = receiver
    hook = action(Channel.WEBHOOK, None, target="https://hooks.partner.example/h")
    body = b'{"action_id":"%s","channel":"webhook","player_id":null}' % hook.action_id.encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": hook.action_id, "X-Jackpot-Signature": sign(SECRET, body)}
    async with session.post(server.make_url("/push"), data=body, headers=headers) as resp:
        assert resp.status == 400 and "another channel" in (await resp.json(content_type=None))["detail"]
    async with session.post(server.make_url("/webhook"), data=body, headers=headers) as resp:
        assert resp.status == 200
    assert [x["path"] for x in r.received] == ["/webhook"]


def test_endpoints_need_http_urls_and_real_secrets():
    with pytest.raises(ValueError, match="http"):
        Endpoint("ftp://x", SECRET)
    with pytest.raises(ValueError, match="16 bytes"):
        Endpoint("https://x", b"short")


async def test_a_bad_fail_request_is_refused_and_changes_nothing(receiver, session):
    r, server = receiver
    for bad in ({"status": 200}, {"times": -1}, {"retry_after": -2}, {"status": "x"}):
        async with session.post(server.make_url("/_control/fail"), json=bad) as resp:
            assert resp.status == 400 and resp.content_type == "application/problem+json"
    assert r.fail_times == 0
    assert (await deliverer(server, session).deliver(action())).attempts == 1


async def test_with_a_deadline_transient_failures_are_retried_past_the_attempt_limit_and_abort_stops_them(
        receiver, session):
    r, server = receiver
    r.fail_times, r.fail_status = 8, 503
    receipt = await deliverer(server, session, attempts=3).deliver(action(), give_up_at=time.time() + 30)
    assert receipt.status == "delivered" and receipt.attempts == 9  # a receiver down a while delays, never loses
    r.fail_times = 1000
    late = await deliverer(server, session).deliver(action(), give_up_at=time.time() + 0.2)
    assert late.status == "failed" and late.http_status == 503  # the action went stale
    calls = []  # the first call is the check before the first attempt
    killed = await deliverer(server, session).deliver(action(), give_up_at=time.time() + 30,
                                                      abort=lambda: calls.append(1) or len(calls) >= 3)
    assert killed.status == "aborted" and killed.attempts == 2  # the kill switch, thrown between two retries
    before = await deliverer(server, session).deliver(action(), give_up_at=time.time() + 30, abort=lambda: True)
    assert (before.status, before.attempts) == ("aborted", 0)  # thrown while it waited for a slot: never sent
    gone = await deliverer(server, session).deliver(action(), give_up_at=time.time() - 1)
    assert (gone.status, gone.attempts) == ("failed", 0)
