"""A connection's bounded send queue.

Two parts, both bounded, so a client's cost never grows with time:

- ``tickers``: per ticker (jackpot, level, currency) the values not yet due, each with its own
  due time (its publication plus the smoothing lag), at most ``per_ticker`` of them.  When values
  fall due, only the newest is sent and the older ones are dropped (coalescing to the latest), so
  a slow reader skips intermediate amounts instead of queueing them, and every value shown has
  waited its own full lag.  A value older than one already sent is never sent (no going back).
- ``events``: frames that must not be merged (wins, warn/state changes, stats, snapshots), at
  most ``max_events``.  Overflow means the client stopped reading: the caller disconnects it.

Frames are encoded once and shared by every connection; the outbox holds references only.
"""

from __future__ import annotations

from collections import deque


class Overflow(Exception):
    pass


class Outbox:
    __slots__ = ("tickers", "sent", "events", "max_events", "max_tickers", "per_ticker")

    def __init__(self, max_events: int = 64, max_tickers: int = 512, per_ticker: int = 8) -> None:
        self.tickers: dict[tuple, list[list]] = {}  # key -> [[due, sequence, frame], ...] in arrival order
        self.sent: dict[tuple, int] = {}  # key -> highest sequence sent
        self.events: deque[bytes] = deque()
        self.max_events = max_events
        self.max_tickers = max_tickers
        self.per_ticker = per_ticker

    def __len__(self) -> int:
        return sum(len(v) for v in self.tickers.values()) + len(self.events)

    def offer_ticker(self, key: tuple, sequence: int, frame: bytes, due: float) -> bool:
        """Queue a ticker value; True when the caller must (re)arm its wake-up for ``due``."""
        if sequence <= self.sent.get(key, -1):
            return False
        pending = self.tickers.get(key)
        if pending is None:
            if len(self.tickers) >= self.max_tickers:
                raise Overflow(f"more than {self.max_tickers} tickers queued")
            self.tickers[key] = [[due, sequence, frame]]
            return True
        pending.append([due, sequence, frame])
        if len(pending) > self.per_ticker:  # the oldest would be superseded anyway
            del pending[0]
        return True

    def offer_event(self, frame: bytes) -> None:
        if len(self.events) >= self.max_events:
            raise Overflow(f"more than {self.max_events} events queued")
        self.events.append(frame)

    def take(self, now: float) -> tuple[list[bytes], float | None]:
        """Frames due now (events first, in order; then the newest due value per ticker), and
        when the next pending ticker value falls due."""
        out = list(self.events)
        self.events.clear()
        next_due = None
        for key in list(self.tickers):
            pending = self.tickers[key]
            due = [e for e in pending if e[0] <= now]
            if due:
                best = max(due, key=lambda e: e[1])
                if best[1] > self.sent.get(key, -1):
                    out.append(best[2])
                    self.sent[key] = best[1]
                pending = [e for e in pending if e[0] > now and e[1] > best[1]]
                if pending:
                    self.tickers[key] = pending
                else:
                    del self.tickers[key]
            for e in pending:
                if next_due is None or e[0] < next_due:
                    next_due = e[0]
        return out, next_due
