"""Delivery of campaign actions over HTTP: one adapter for every channel.

Push, email and SMS providers, partners' webhooks, the CRM and the gateway's surfaces (banners,
takeovers, overlays) are each an HTTP endpoint with a secret; the real services plug in by URL
and credentials.  Every request:

- carries the action's deterministic id as ``Idempotency-Key``: a retry, or the same action
  planned again after a crash, is the same key, and the receiver applies it once;
- is signed: ``X-Jackpot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
  with the endpoint's secret, so a receiver can refuse forged or replayed bodies (``verify``);
- is retried with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx
  (a ``Retry-After`` is honoured up to the backoff's cap), and not retried on any other 4xx,
  which no retry can fix.  Retries use tenacity.

This module is the campaigns package's I/O edge; the decisions (who gets what) are made in
``plan`` before anything reaches it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import aiohttp
import orjson
import yarl
from tenacity import (AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, stop_any,
                      wait_exponential_jitter)

from .plan import Planned
from .rules import Channel

__all__ = ["Endpoint", "Receipt", "Transient", "sign", "verify", "Deliverer", "SIGNATURE_HEADER"]

SIGNATURE_HEADER = "X-Jackpot-Signature"
SIGNATURE_TOLERANCE_S = 300


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    secret: bytes

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"an endpoint URL must be http(s): {self.url!r}")
        if len(self.secret) < 16:
            raise ValueError("an endpoint secret must have at least 16 bytes")


@dataclass(frozen=True, slots=True)
class Receipt:
    action_id: str
    status: str  # delivered | failed | aborted (``abort`` said stop)
    attempts: int
    http_status: int | None = None
    error: str | None = None
    duplicate: bool = False  # the receiver had this idempotency key already


class Transient(Exception):
    """A failure a later attempt may not meet: retried."""

    def __init__(self, message: str, retry_after_s: float | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.http_status = http_status


def sign(secret: bytes, body: bytes, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: bytes, body: bytes, header: str | None, now: int | None = None,
           tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is recent (a replayed old body fails)."""
    if not header:
        return False
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - t) > tolerance_s:
        return False
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def body_of(action: Planned, variables: Mapping[str, Any]) -> bytes:
    return orjson.dumps(action.to_json() | {"variables": dict(variables)}, option=orjson.OPT_SORT_KEYS)


class Deliverer:
    """Sends planned actions to their channel's endpoint (a webhook's own URL is its target)."""

    def __init__(self, endpoints: Mapping[Channel, Endpoint], session: aiohttp.ClientSession, *,
                 attempts: int = 5, backoff_s: float = 0.2, backoff_max_s: float = 10.0,
                 timeout_s: float = 5.0, webhook_hosts: frozenset[str] = frozenset()) -> None:
        self.endpoints = dict(endpoints)
        # partners' hosts a webhook may reach (a rule's author must not aim signed bodies anywhere)
        self.webhook_hosts = frozenset(h.lower() for h in webhook_hosts)
        self.session = session
        self.attempts = attempts
        self.backoff = wait_exponential_jitter(multiplier=backoff_s, max=backoff_max_s, jitter=backoff_s)
        self.backoff_max_s = backoff_max_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.backoff_max_s)
        return self.backoff(state)

    def _endpoint(self, action: Planned) -> tuple[str, bytes] | str:
        """(URL, secret) of the action, or why it has none."""
        ep = self.endpoints.get(action.channel)
        if ep is None:
            return f"no endpoint configured for {action.channel.value}"
        if action.channel is Channel.WEBHOOK and action.target:
            host = _host(action.target)
            if host is None or host not in self.webhook_hosts:
                return f"webhook host {host!r} is not among the allowed partner hosts"
            return action.target, ep.secret
        return ep.url, ep.secret

    async def deliver(self, action: Planned, variables: Mapping[str, Any] | None = None, *,
                      give_up_at: float | None = None, abort: Callable[[], bool] | None = None) -> Receipt:
        """Deliver one action; a failure that remains after the retries is reported, not raised.
        ``give_up_at`` (unix time): retry transient failures until then, however many attempts
        that takes (a receiver down for a while delays the campaign; it does not lose it).
        ``abort``: checked before every retry (the kill switch stops a delivery being retried)."""
        where = self._endpoint(action)
        if isinstance(where, str):
            return Receipt(action.action_id, "failed", 0, error=where)
        url, secret = where
        if abort is not None and abort():
            return Receipt(action.action_id, "aborted", 0, error="aborted before the first attempt")
        if give_up_at is not None and time.time() >= give_up_at:
            return Receipt(action.action_id, "failed", 0, error="its time ran out before the first attempt")
        body = body_of(action, variables or {})
        attempts = 0
        try:
            stop = stop_after_attempt(self.attempts) if give_up_at is None else _until(give_up_at)
            if abort is not None:
                stop = stop_any(stop, lambda state: abort())
            async for attempt in AsyncRetrying(stop=stop, wait=self._wait,
                                               retry=retry_if_exception_type(Transient), reraise=True):
                with attempt:
                    attempts += 1
                    status, duplicate = await self._post(url, secret, body, action.action_id)
            return Receipt(action.action_id, "delivered", attempts, http_status=status, duplicate=duplicate)
        except Transient as exc:
            status = "aborted" if abort is not None and abort() else "failed"  # stopped between two retries
            return Receipt(action.action_id, status, attempts, http_status=exc.http_status, error=str(exc))
        except _Permanent as exc:
            return Receipt(action.action_id, "failed", attempts, http_status=exc.http_status, error=str(exc))

    async def _post(self, url: str, secret: bytes, body: bytes, key: str) -> tuple[int, bool]:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, SIGNATURE_HEADER: sign(secret, body)}
        try:
            # no redirects: a signed body goes where the rule says, nowhere a receiver points it to
            async with self.session.post(url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False) as resp:
                text = (await resp.read()).decode("utf-8", errors="replace")
                if resp.status < 300:
                    return resp.status, resp.headers.get("Idempotent-Replayed", "").lower() == "true"
                if resp.status == 429 or resp.status >= 500:
                    raise Transient(f"HTTP {resp.status}: {text[:200]}", _retry_after(resp.headers.get("Retry-After")),
                                    resp.status)
                raise _Permanent(f"HTTP {resp.status}: {text[:200]}", resp.status)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        except (aiohttp.ClientError, ValueError) as exc:  # an invalid URL, a malformed answer: no retry fixes it
            raise _Permanent(f"{type(exc).__name__}: {exc}", 0) from None


def _host(url: str) -> str | None:
    try:
        host = yarl.URL(url).host
    except (ValueError, TypeError):
        return None
    return host.lower() if host else None


def _until(give_up_at: float) -> Any:
    """A tenacity stop: no further attempt once the next would start after ``give_up_at``."""
    return lambda state: time.time() + (state.upcoming_sleep or 0) > give_up_at


class _Permanent(Exception):
    def __init__(self, message: str, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides
