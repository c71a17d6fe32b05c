"""Dead letters: a message we cannot process is kept, with why, and the worker goes on.

The record carries the original key, value bytes and headers, the source topic,
partition and offset, the stage that refused it and the reason, so an operator can
fix and replay it.  Its event id is derived from the source coordinates, so a replay
of the same bad message yields the same dead letter id.

A dead letter must itself fit the broker's message limit (1 MB by default): one that echoed a
700 KB field did not, and its send failed inside the error path. So the value keeps its first
``JACKPOT_DEAD_LETTER_MAX_VALUE_BYTES`` (256 KiB: an internal batch stays whole), the key, the
headers and the reason are bounded too, and the reason says what was cut, with the original
length and SHA-256, so the letter can be matched to the message still in its source topic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from jackpot.engine.events import event_id
from jackpot.settings import get_settings
from jackpot.streams.codec import catalog

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000
MAX_KEY_BYTES = 1024
MAX_HEADER_BYTES = 16 * 1024  # all headers together, names included


def value_limit() -> int:
    """``JACKPOT_DEAD_LETTER_MAX_VALUE_BYTES`` (default 256 KiB)."""
    return get_settings().dead_letter_max_value_bytes


def _cut(what: str, data: bytes | None, limit: int, notes: list[str]) -> bytes | None:
    if data is None or len(data) <= limit:
        return data
    notes.append(f"{what} truncated to the first {limit} of {len(data)} bytes, "
                 f"sha256 {hashlib.sha256(data).hexdigest()}")
    return data[:limit]


def _headers(headers, notes: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    room, dropped, total = MAX_HEADER_BYTES, 0, 0
    for k, v in headers or ():
        total += 1
        name = k if isinstance(k, str) else bytes(k).decode(errors="replace")
        value = bytes(v or b"")
        if len(name) + len(value) > room or name in out:
            dropped += 1
            continue
        out[name] = value
        room -= len(name) + len(value)
    if dropped:
        notes.append(f"headers truncated: {dropped} of {total} left out")
    return out


def dead_letter(stage: str, topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, headers, exc: Exception, *, max_value_bytes: int | None = None) -> dict:
    """The DeadLetter record of one refused message (or item), bounded in size."""
    limit = value_limit() if max_value_bytes is None else max_value_bytes
    notes: list[str] = []
    value = _cut("value", None if value is None else bytes(value), limit, notes)
    key = _cut("key", None if key is None else bytes(key), MAX_KEY_BYTES, notes)
    hdrs = _headers(headers, notes)
    reason = str(exc) or type(exc).__name__
    if len(reason) > MAX_REASON_CHARS:
        reason = f"{reason[:MAX_REASON_CHARS]}... ({len(reason)} characters)"
    if notes:
        reason += " [" + "; ".join(notes) + "]"
    return {
        "event_id": event_id("DeadLetter", "", None, None, f"{stage}:{topic}:{partition}:{offset}"),
        "timestamp": dt.datetime.now(dt.timezone.utc),
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "key": key,
        "value": value,
        "headers": hdrs,
        "error_type": type(exc).__name__,
        "reason": reason,
        "stage": stage,
    }


def encode_dead_letter(record: dict) -> bytes:
    log.warning(
        "dead letter", extra={"stage": record["stage"], "source_topic": record["source_topic"],
                              "source_partition": record["source_partition"],
                              "source_offset": record["source_offset"], "reason": record["reason"]},
    )
    return catalog().encode("DeadLetter", record)
