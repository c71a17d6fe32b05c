"""One client connection (WebSocket or SSE): its subscription, bounded outbox and writes.

No task per connection: the hub offers frames after each fan-out pass and calls ``flush``; a
timer calls it when a smoothed (lagged) value falls due.  ``flush`` writes every due frame in
one ``transport.write`` of pre-built frames.  When the socket's user-space buffer passes the
high-water mark the connection is *draining*: one task waits for the socket to drain while new
ticker values keep coalescing in the outbox and other frames queue up to ``max_queue``.

Backpressure: the gateway disconnects a client whose queue overflows, whose drain takes longer
than ``send_timeout_s``, or whose write buffer passes ``max_buffer_bytes`` (see the reaper in
``ticker.py``).  Memory per client is bounded by (subscribed tickers x 8 + max_queue) shared
frame references plus the capped socket buffers.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import random
from collections.abc import Iterable, Sequence

from aiohttp import web

from jackpot.metrics import WS_DISCONNECTS, WS_FRAMES_SENT, WS_QUEUE_OVERFLOWS

from .frame import Frame
from .outbox import Outbox, Overflow
from .subscription import Subscription

log = logging.getLogger(__name__)
_rng = random.Random()
CLIENT_IP = web.RequestKey("jackpot.client_ip", str)  # request key: the client's address as the limits count it

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """A comma list of CIDRs (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _trusted(addr: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The address the per-IP limit counts: the peer, unless the peer is a trusted proxy; then
    the right-most X-Forwarded-For address that is not a trusted proxy (the left part of the
    header is whatever the client sent, so only what trusted proxies appended is believed).
    A header from an untrusted peer is ignored."""
    addr = peer or "?"
    if not trusted or not _trusted(addr, trusted):
        return addr
    hops = [h.strip() for line in forwarded_for for h in line.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return addr  # garbage where an address should be: count the proxy, not the garbage
        addr = hop
    return addr


def address_bucket(addr: str) -> str:
    """What the per-IP limit counts: an IPv4 address, or the /64 of an IPv6 one (whoever holds an
    address of a /64 usually holds all of it)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def origin_allowed(origin: str | None, allowed: Sequence[str]) -> bool:
    """A browser's WebSocket from a page of another site is refused (cross-site WebSocket
    hijacking); no ``allowed`` list (development) or ``*`` lets every page in. A request without
    Origin is not from a browser page, which is what the check protects."""
    if origin is None or not allowed or "*" in allowed:
        return True
    return normalise_origin(origin) in allowed


class Connection:
    kind = "?"
    HIGH_WATER = 64 * 1024
    INBOUND_PER_10S = 50

    def __init__(self, request: web.Request, sub: Subscription, max_queue: int) -> None:
        self.request = request
        self.ip = request.get(CLIENT_IP) or request.remote or "?"
        self.sub = sub
        self.outbox = Outbox(max_events=max_queue)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at: float | None = None
        self.send_started: float | None = None  # set while draining
        self.drain_task: asyncio.Task | None = None
        self.flush_scheduled = False
        self.closed = False
        self.close_reason = ""
        self.frames_sent = 0
        self.snapshot_queued = False
        # a snapshot may be larger than the buffer cap: the reaper allows it on top until it drains
        self.snapshot_allowance = 0
        self.last_subscribe = float("-inf")  # loop time of the last subscribe (one a second)
        self.loop = asyncio.get_running_loop()
        self._inbound: collections.deque[float] = collections.deque()

    def inbound_allowed(self) -> bool:
        """A client may send at most INBOUND_PER_10S messages in any ten seconds."""
        now = self.loop.time()
        q = self._inbound
        q.append(now)
        while q and q[0] < now - 10:
            q.popleft()
        return len(q) <= self.INBOUND_PER_10S

    # ------------------------------------------------------------------ queueing
    def offer_ticker(self, key: tuple, sequence: int, frame, lag_s: float) -> bool:
        """Queue a ticker value; True when it is due now (the caller flushes after its pass)."""
        if self.closed:
            return False
        try:
            self.outbox.offer_ticker(key, sequence, frame, self.loop.time() + lag_s)
        except Overflow as exc:
            WS_QUEUE_OVERFLOWS.labels(self.kind).inc()
            self.abort(str(exc), cause="queue_overflow")
            return False
        if lag_s <= 0:
            return True
        self._wake_at(self.loop.time() + lag_s)
        return False

    def offer_snapshot(self, frame: Frame) -> None:
        """A snapshot: every ticker the subscription covers, in one frame that can outgrow the
        buffer cap for a big portfolio; a slow link still gets it whole (16: the frame's header)."""
        self.snapshot_allowance = max(self.snapshot_allowance, len(frame.body) + 16)
        self.offer_event(frame)

    def over_buffer(self, cap: int) -> bool:
        buffered = self.buffered()
        if buffered <= cap:
            self.snapshot_allowance = 0
        return buffered > cap + self.snapshot_allowance

    def offer_event(self, frame, flush: bool = True) -> None:
        if self.closed:
            return
        try:
            self.outbox.offer_event(frame)
        except Overflow as exc:
            WS_QUEUE_OVERFLOWS.labels(self.kind).inc()
            self.abort(f"send queue overflow ({exc})", cause="queue_overflow")
            return
        if flush and not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def _wake_at(self, when: float) -> None:
        if self.timer_at is not None and self.timer_at <= when:
            return
        if self.timer:
            self.timer.cancel()
        self.timer_at = when
        self.timer = self.loop.call_at(when, self._timer_fired)

    def _timer_fired(self) -> None:
        self.timer = self.timer_at = None
        self.flush()

    # --------------------------------------------------------------------- writes
    def flush(self) -> None:
        self.flush_scheduled = False
        if self.closed or self.drain_task is not None:
            return  # the drain task flushes again when the socket has room
        frames, next_due = self.outbox.take(self.loop.time())
        if frames:
            self.snapshot_queued = False
            self.frames_sent += len(frames)
            try:
                self.write(frames)
            except (ConnectionError, RuntimeError) as exc:
                self.abort(f"write failed: {exc}", cause="write_failed")
                return
            WS_FRAMES_SENT.labels(self.kind).inc(len(frames))
            if self.drain_task is None and self.buffered() > self.HIGH_WATER:
                self.send_started = self.loop.time()
                self.drain_task = asyncio.create_task(self._drain())
        if next_due is not None:
            self._wake_at(next_due)

    async def _drain(self) -> None:
        try:
            await self.wait_drained()
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return
        self.send_started = None
        self.drain_task = None
        self.flush()

    def write(self, frames: list) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def wait_drained(self) -> None:
        await self.request.protocol._drain_helper()

    def buffered(self) -> int:
        tr = self.request.transport
        return tr.get_write_buffer_size() if tr is not None else 0

    def abort(self, reason: str, cause: str = "other") -> None:
        """Drop the client now: its buffers are discarded, not flushed.  ``cause`` is the
        metric label (``jackpot_ws_disconnects_total``); ``reason`` is for the log."""
        if self.closed and self.close_reason:
            return
        self.closed = True
        self.close_reason = reason
        WS_DISCONNECTS.labels(self.kind, cause).inc()
        log.info("disconnecting %s client %s: %s", self.kind, self.ip, reason)
        self._cancel()
        tr = self.request.transport
        if tr is not None:
            tr.abort()

    def _cancel(self) -> None:
        if self.timer:
            self.timer.cancel()
            self.timer = self.timer_at = None
        if self.drain_task:
            self.drain_task.cancel()

    async def stop(self) -> None:
        self.closed = True
        self._cancel()


class WSConnection(Connection):
    kind = "ws"

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, sub: Subscription, max_queue: int) -> None:
        super().__init__(request, sub, max_queue)
        self.ws = ws

    def write(self, frames: list) -> None:
        """Pre-built, uncompressed text frames, the same bytes for every client, in one write."""
        tr = self.request.transport
        if tr is None or tr.is_closing() or self.ws.closed:
            raise ConnectionResetError("connection closed")
        tr.write(frames[0].ws if len(frames) == 1 else b"".join(f.ws for f in frames))

    async def close(self, code: int = 1001, message: bytes = b"gateway shutting down") -> None:
        await self.stop()
        await self.ws.close(code=code, message=message)


class SSEConnection(Connection):
    """Server-sent events; the response's own (chunked) writer does the writing."""

    kind = "sse"

    def __init__(self, request: web.Request, resp: web.StreamResponse, sub: Subscription, max_queue: int) -> None:
        super().__init__(request, sub, max_queue)
        self.resp = resp
        self.done = asyncio.Event()
        self._pending = b""

    def write(self, frames: list) -> None:
        self._pending += b"".join(f.sse for f in frames)
        self.send_started = self.loop.time()
        self.drain_task = asyncio.create_task(self._write_pending())

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                data, self._pending = self._pending, b""
                await self.resp.write(data)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            self.abort("write failed", cause="write_failed")
            return
        self.send_started = None
        self.drain_task = None
        self.flush()

    def buffered(self) -> int:
        return len(self._pending) + super().buffered()

    async def close(self, code: int = 1001, message: bytes = b"") -> None:
        await self.stop()
        try:
            await asyncio.wait_for(self.resp.write(b"event: bye\ndata: {}\n\n"), 1)
        except Exception:
            pass
        self.done.set()

    def abort(self, reason: str, cause: str = "other") -> None:
        super().abort(reason, cause)
        self.done.set()
