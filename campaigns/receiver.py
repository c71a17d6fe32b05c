"""A reference receiver for campaign deliveries: what a push, email, SMS, CRM or webhook
endpoint must do, runnable for the demo and the tests (``jackpot campaign-receiver``).

It checks the signature (401 otherwise) and that the body's channel is the endpoint's own (400
otherwise: one signing key serves every channel, so a partner holding a signed webhook body must
not be able to replay it to the push endpoint), applies each ``Idempotency-Key`` once (a repeat is
answered 200 with ``Idempotent-Replayed: true`` and not recorded again), records what it got,
and can be told to fail: ``POST /_control/fail {"status": 503, "times": 2, "retry_after": 1}``
makes the next two deliveries fail that way.  ``GET /_control/received`` lists the deliveries
in arrival order, ``DELETE /_control/received`` forgets them.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from .delivery import SIGNATURE_HEADER, verify

__all__ = ["Receiver", "receiver_app"]


@dataclass
class Receiver:
    secret: bytes
    received: list[dict] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    replays: int = 0
    fail_status: int = 503
    fail_times: int = 0
    fail_retry_after: float | None = None

    async def deliver(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(self.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return _problem(401, "signature missing, wrong or too old")
        key = request.headers.get("Idempotency-Key")
        if not key:
            return _problem(400, "Idempotency-Key header required")
        if self.fail_times > 0:
            self.fail_times -= 1
            headers = {"Retry-After": str(self.fail_retry_after)} if self.fail_retry_after is not None else None
            return _problem(self.fail_status, "failing on request (/_control/fail)", headers)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _problem(400, "body is not JSON")
        if not isinstance(payload, dict) or payload.get("channel") != request.match_info.get("channel"):
            # one signing key serves every channel: a body signed for one (a partner's webhook)
            # must not be accepted by another's endpoint
            return _problem(400, "the body is for another channel than this endpoint's")
        if key in self.keys:
            self.replays += 1
            return web.json_response({"duplicate": True}, headers={"Idempotent-Replayed": "true"})
        self.keys.add(key)
        self.received.append({"key": key, "path": request.path, "at": time.time(), "body": payload})
        return web.json_response({"duplicate": False})

    async def fail(self, request: web.Request) -> web.Response:
        try:
            spec = orjson.loads(await request.read() or b"{}")
            status, times = int(spec.get("status", 503)), int(spec.get("times", 1))
            retry_after = spec.get("retry_after")
            retry_after = None if retry_after is None else float(retry_after)
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
            return _problem(400, 'expected {"status": int, "times": int, "retry_after": seconds or null}')
        if not 400 <= status <= 599 or times < 0 or (retry_after is not None and retry_after < 0):
            return _problem(400, "status must be 4xx or 5xx, times and retry_after not negative")
        self.fail_status, self.fail_times, self.fail_retry_after = status, times, retry_after
        return web.json_response({"status": status, "times": times})

    async def list_received(self, request: web.Request) -> web.Response:
        return web.json_response({"received": self.received, "replays": self.replays})

    async def forget(self, request: web.Request) -> web.Response:
        self.received.clear()
        self.keys.clear()
        self.replays = 0
        return web.json_response({"received": []})


def _problem(status: int, detail: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                              "detail": detail}, status=status, headers=headers, content_type="application/problem+json")


def receiver_app(receiver: Receiver) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app.router.add_post("/_control/fail", receiver.fail)
    app.router.add_get("/_control/received", receiver.list_received)
    app.router.add_delete("/_control/received", receiver.forget)
    app.router.add_post("/{channel:[a-z_]+}", receiver.deliver)
    return app
