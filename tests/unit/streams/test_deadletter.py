"""Dead letters stay under the broker's message limit, and sending one never raises into the agent:
a dead letter echoing a 700 KB field exceeded the limit and the send raised inside the error path."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from jackpot.sinks import service
from jackpot.sinks.service import send_dead_letter
from jackpot.streams import deadletter
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.deadletter import MAX_REASON_CHARS, dead_letter, encode_dead_letter

BROKER_LIMIT = 1_000_000  # Kafka's default message.max.bytes is 1,048,588


def msg(value: bytes, key: bytes | None = b"player-1", headers=()) -> SimpleNamespace:
    return SimpleNamespace(topic="t.bets", partition=3, offset=42, key=key, value=value, headers=list(headers))


def letter(value: bytes, exc: Exception, **kw) -> dict:
    m = msg(value, **{k: kw.pop(k) for k in ("key", "headers") if k in kw})
    return dead_letter("router", m.topic, m.partition, m.offset, m.key, m.value, m.headers, exc, **kw)


def test_a_small_message_is_kept_whole_with_its_reason():
    rec = letter(b"\xc3\x01tiny", DecodeError("BetPlaced.currency: 'XX1' is not an ISO 4217 code"),
                 headers=[("trace", b"abc")])
    assert rec["value"] == b"\xc3\x01tiny" and rec["key"] == b"player-1" and rec["headers"] == {"trace": b"abc"}
    assert rec["reason"] == "BetPlaced.currency: 'XX1' is not an ISO 4217 code"


def test_a_700_kb_value_and_an_echoing_reason_are_truncated_with_length_and_hash():
    value = bytes(range(256)) * 2800  # 716,800 bytes
    echo = DecodeError(f"BetPlaced.player_id: {value.decode('latin-1')!r} is not valid")
    rec = letter(value, echo, max_value_bytes=4096)
    assert rec["value"] == value[:4096]
    assert len(rec["reason"]) < MAX_REASON_CHARS + 300
    assert rec["reason"].startswith("BetPlaced.player_id: ")
    assert f"first 4096 of {len(value)} bytes" in rec["reason"]
    assert hashlib.sha256(value).hexdigest() in rec["reason"]
    wire = encode_dead_letter(rec)
    assert len(wire) < 16 * 1024
    name, back = catalog().decode(wire)  # the DeadLetter schema is unchanged
    assert name == "DeadLetter" and back["value"] == value[:4096]


def test_the_default_bound_keeps_the_letter_under_the_broker_limit():
    value = b"x" * (2 << 20)
    key = b"k" * (64 * 1024)
    headers = [(f"h{i}", b"v" * 4096) for i in range(200)]
    rec = letter(value, DecodeError("x" * (1 << 20)), key=key, headers=headers)
    assert len(rec["value"]) == deadletter.value_limit() == 256 * 1024
    assert len(rec["key"]) <= deadletter.MAX_KEY_BYTES
    assert sum(len(k) + len(v) for k, v in rec["headers"].items()) <= deadletter.MAX_HEADER_BYTES
    assert "key truncated" in rec["reason"] and "headers truncated" in rec["reason"]
    assert len(encode_dead_letter(rec)) < BROKER_LIMIT


def failed(stage: str) -> float:
    return REGISTRY.get_sample_value("jackpot_dead_letters_failed_total", {"stage": stage}) or 0.0


@pytest.fixture()
def no_sleep(monkeypatch):
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)

    monkeypatch.setattr(service.asyncio, "sleep", sleep)
    return waits


async def test_a_failed_send_is_retried_with_backoff(no_sleep):
    sent, calls = [], [0]

    async def flaky(topic: str, key: bytes, value: bytes) -> None:
        calls[0] += 1
        if calls[0] < 3:
            raise RuntimeError("MessageSizeTooLargeError")
        sent.append((topic, key, value))

    assert await send_dead_letter(flaky, "unit-flaky", msg(b"bad"), DecodeError("bad")) is True
    assert len(sent) == 1 and sent[0][0] == "dead-letters"
    assert no_sleep == sorted(no_sleep) and len(no_sleep) == 2 and no_sleep[0] > 0


async def test_a_send_that_keeps_failing_is_logged_and_counted_never_raised(no_sleep, caplog):
    async def down(topic: str, key: bytes, value: bytes) -> None:
        raise RuntimeError("broker unavailable")

    before = failed("unit-down")
    with caplog.at_level(logging.ERROR, logger="jackpot.sinks.service"):
        assert await send_dead_letter(down, "unit-down", msg(b"v" * 700_000), DecodeError("bad")) is False
    assert failed("unit-down") == before + 1
    assert len(no_sleep) == service.DEAD_LETTER_ATTEMPTS - 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "dead letter lost" in text


async def test_what_reaches_the_producer_is_bounded():
    sent = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        sent.append((key, value))

    await send_dead_letter(send, "unit-big", msg(b"v" * 3_000_000, key=b"k" * 100_000), DecodeError("bad"))
    key, value = sent[0]
    assert len(key) <= deadletter.MAX_KEY_BYTES and len(value) < BROKER_LIMIT


async def test_cancellation_is_not_swallowed():
    async def slow(topic: str, key: bytes, value: bytes) -> None:
        await asyncio.sleep(10)

    task = asyncio.create_task(send_dead_letter(slow, "unit-cancel", msg(b"v"), DecodeError("bad")))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
