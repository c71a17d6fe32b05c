"""Engine-owned time: when the system received a provider's message.

A provider's ``timestamp`` is what its clock said, and a provider's clock can be wrong or lie: a
bet stamped after a must-drop deadline would drop the level to that bettor at once, and a stamp
in the future would skip delay-drop snoozes.  So deadlines, drop windows, cooldowns, snoozes,
sessions and the active-player window run on the time the broker appended the message to its
topic (``LogAppendTime``, set on the provider topics by ``streams/topics.py``).  That time is
written by the broker, not the provider, and it is the same every time the message is read
again, so a replay after a crash decides exactly as the first read did.

A topic created elsewhere with ``CreateTime`` carries the producer's clock, so for those the
router's own clock stands in (a replay then sees a slightly later time, which only matters for
bets whose first reading was never applied).  The provider's timestamp is kept for reporting; a
bet whose provider time is further than the tolerance from the received time is still counted
and is flagged (metric and log).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from jackpot import metrics as M

LOG_APPEND_TIME = 1  # Kafka's timestamp type when the broker stamped the message
log = logging.getLogger(__name__)
_warned: set[str] = set()
SKEW_LOG_EVERY_S = 10.0
_skewed_since_log, _skew_logged_at = 0, -SKEW_LOG_EVERY_S


def received_ms(message: Any, wall_clock=time.time) -> int:
    """Epoch ms at which the system received ``message`` (a Faust or aiokafka message)."""
    if getattr(message, "timestamp_type", None) == LOG_APPEND_TIME and message.timestamp:
        ts = message.timestamp
        return int(ts * 1000) if isinstance(ts, float) else int(ts)
    topic = getattr(message, "topic", "?")
    if topic not in _warned:
        _warned.add(topic)
        log.warning("input topic is not stamped by the broker (LogAppendTime); using this process's clock",
                    extra={"topic": topic})
    return int(wall_clock() * 1000)


def skew_ms(provider_ms: int, received: int) -> int:
    """How far the provider's clock is ahead (positive) or behind (negative) of the received time."""
    return provider_ms - received


def flag_skew(provider_ms: int, received: int, tolerance_ms: int, what: dict) -> bool:
    """Count and log a message whose provider time is far from its received time; True if flagged."""
    skew = skew_ms(provider_ms, received)
    if abs(skew) <= tolerance_ms:
        return False
    M.CLOCK_SKEWED.labels("ahead" if skew > 0 else "behind").inc()
    global _skewed_since_log, _skew_logged_at
    _skewed_since_log += 1
    now = time.monotonic()
    if now - _skew_logged_at >= SKEW_LOG_EVERY_S:  # a provider with a wrong clock skews every bet
        log.warning("provider timestamp far from received time; the received time is used",
                    extra={**what, "skew_ms": skew, "skewed_since_last_log": _skewed_since_log})
        _skewed_since_log, _skew_logged_at = 0, now
    return True
