"""Dead letters: a message we cannot process is kept whole, with why, and the worker goes on.

The record carries the original key, value bytes and headers, the source topic,
partition and offset, the stage that refused it and the reason, so an operator can
fix and replay it.  Its event id is derived from the source coordinates, so a replay
of the same bad message yields the same dead letter id.
"""

from __future__ import annotations

import datetime as dt
import logging

from jackpot.streams.codec import catalog
from jackpot.engine.events import event_id

log = logging.getLogger(__name__)


def dead_letter(stage: str, topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, headers, exc: Exception) -> dict:
    hdrs = {}
    for k, v in headers or ():
        hdrs[k if isinstance(k, str) else k.decode(errors="replace")] = bytes(v or b"")
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
        "reason": str(exc) or type(exc).__name__,
        "stage": stage,
    }


def encode_dead_letter(record: dict) -> bytes:
    log.warning(
        "dead letter", extra={"stage": record["stage"], "source_topic": record["source_topic"],
                              "source_partition": record["source_partition"],
                              "source_offset": record["source_offset"], "reason": record["reason"]},
    )
    return catalog().encode("DeadLetter", record)

