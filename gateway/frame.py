"""A message encoded once and shared by every connection that gets it: the JSON body, and
lazily the WebSocket text frame and the SSE event built around it (server frames are unmasked)."""

from __future__ import annotations

import json
import struct


class Frame:
    __slots__ = ("body", "_ws", "_sse")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self._ws: bytes | None = None
        self._sse: bytes | None = None

    @classmethod
    def of(cls, msg: dict) -> "Frame":
        return cls(json.dumps(msg, separators=(",", ":"), default=str).encode())

    @property
    def ws(self) -> bytes:
        if self._ws is None:
            n = len(self.body)
            if n < 126:
                head = bytes((0x81, n))
            elif n < 65536:
                head = bytes((0x81, 126)) + struct.pack("!H", n)
            else:
                head = bytes((0x81, 127)) + struct.pack("!Q", n)
            self._ws = head + self.body
        return self._ws

    @property
    def sse(self) -> bytes:
        if self._sse is None:
            self._sse = b"data: " + self.body + b"\n\n"
        return self._sse
