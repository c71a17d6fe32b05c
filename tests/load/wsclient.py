"""A lean asyncio WebSocket client for load and slow-consumer tests: thousands of them fit in one
process (one Protocol each, no per-client task), frames parsed by hand (server frames are unmasked)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time


def client_frame(text: str) -> bytes:
    """A masked text frame, as a browser sends it."""
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def handshake(host: str, port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


class WSClient(asyncio.Protocol):
    """Counts frames; for ``pool`` frames records receipt time against the event timestamp."""

    def __init__(self, stats: "Stats", request: bytes) -> None:
        self.stats = stats
        self.request = request
        self.buf = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.transport = None
        self.closed = False
        self.frames = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[:end]).split(b"\r\n", 1)[0]
            del self.buf[:end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            self.upgraded.set_result(True)
        self._parse()

    def _parse(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, off = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, off = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < off + n:
                return
            payload = bytes(buf[off:off + n])
            del buf[:off + n]
            if op == 0x1:
                self.frames += 1
                self.stats.on_text(payload)
            elif op == 0x9:  # ping -> pong
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload)  # zero mask
            elif op == 0x8:
                self.stats.closes.append(struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else None)

    def send(self, text: str) -> None:
        self.transport.write(client_frame(text))

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.stats.lost += 1
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before upgrade"))


class Stats:
    """Frame counters; every ``sample_every``-th pool frame is kept raw with its receipt time so
    delays can be computed afterwards against the PoolUpdated record timestamps."""

    def __init__(self, sample_every: int = 1) -> None:
        self.frames = 0
        self.pool_frames = 0
        self.samples: list[tuple[float, bytes]] = []
        self.sample_every = sample_every
        self.lost = 0
        self.closes: list = []
        self.types: dict[str, int] = {}

    def on_text(self, payload: bytes) -> None:
        self.frames += 1
        if payload.startswith(b'{"type":"pool"'):
            self.pool_frames += 1
            if self.pool_frames % self.sample_every == 0:
                self.samples.append((time.time() * 1000, payload))
        else:
            t = payload[9:payload.find(b'"', 9)].decode(errors="replace")
            self.types[t] = self.types.get(t, 0) + 1

    def delays_ms(self, published: dict[tuple, int]) -> list[float]:
        """Receipt minus publication (Kafka record timestamp) for every sampled pool frame."""
        out = []
        for recv, payload in self.samples:
            p = json.loads(payload)["pool"]
            ts = published.get((p["jackpot_id"], p["level_id"], p["currency"], p["sequence"]))
            if ts is not None:
                out.append(recv - ts)
        return out


async def connect(host: str, port: int, path: str, stats: Stats, rcvbuf: int | None = None,
                  read: bool = True) -> WSClient:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    _, proto = await loop.create_connection(lambda: WSClient(stats, handshake(host, port, path)), sock=sock)
    await asyncio.wait_for(proto.upgraded, 10)
    if not read:  # a client that never reads: the kernel buffers fill and stay full
        proto.transport.pause_reading()
    return proto


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def subscribe_msg(**filters) -> str:
    return json.dumps({"type": "subscribe", **filters})
