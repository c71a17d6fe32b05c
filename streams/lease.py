"""How long this worker may still write as the owner of its partitions.

A worker frozen past its session timeout (a long GC pause, a stalled VM, SIGSTOP) is expelled
from the group and its partitions go to another worker, but nothing tells the frozen process:
when it thaws it finishes the batch in hand and writes table values built from a state that
is now stale, over the newer owner's. The consumer's offset commit is refused by the broker
(unknown member), but the changelog write is an ordinary produce, and it is the write that
loses bets: the inputs behind the newer owner's values are already committed.

The broker keeps a member at least one session timeout after the last heartbeat it accepted,
so a heartbeat *sent* at ``t`` and answered without error proves membership until
``t + session_timeout``. Writes are allowed until that deadline less a margin (the time a
write may take to reach the broker); a worker past it holds its writes until a heartbeat
renews the lease, or gives its batch up when a rebalance starts (:class:`MembershipLost`).

What remains is a freeze in the few milliseconds between the check and the write leaving the
producer; only broker-side fencing (transactional producers) closes that.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

log = logging.getLogger(__name__)


class MembershipLost(RuntimeError):
    """The group may have given this worker's partitions away: the batch must not be written."""


class MembershipLease:
    """The deadline until which the group certainly still counts this worker as a member."""

    def __init__(self, session_timeout_s: float, margin_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session_timeout_s = session_timeout_s
        self.margin_s = session_timeout_s / 3 if margin_s is None else margin_s
        self.clock = clock
        self.until = 0.0

    def renew(self, sent_at: float) -> None:
        """The broker accepted a heartbeat (or join) this worker sent at ``sent_at``."""
        self.until = max(self.until, sent_at + self.session_timeout_s)

    def revoke(self) -> None:
        """The broker no longer knows this member (or its generation)."""
        self.until = 0.0

    def remaining(self) -> float:
        """Seconds writes may still go out (negative: overdue)."""
        return self.until - self.margin_s - self.clock()

    def valid(self) -> bool:
        return self.remaining() > 0

    def watch(self, coordinator: Any) -> None:
        """Renew from every successful heartbeat of an aiokafka ``GroupCoordinator``.

        Its heartbeat routine looks ``_do_heartbeat`` up on each beat, so wrapping the bound
        method on the instance is enough; the wrapper runs in the consumer's thread, and a
        float assignment is safe to read from the agents' thread.
        """
        if getattr(coordinator, "_jackpot_lease", None) is self:
            return
        beat = coordinator._do_heartbeat

        async def heartbeat() -> bool:
            sent_at, generation = self.clock(), coordinator.generation
            ok = await beat()
            if coordinator.generation != generation:
                self.revoke()  # unknown member or stale generation: expelled
            elif ok:
                self.renew(sent_at)
            return ok

        coordinator._do_heartbeat = heartbeat
        coordinator._jackpot_lease = self

    async def hold(self, rebalancing: Callable[[], bool], poll_s: float = 0.05) -> None:
        """Return once writing is safe; raise :class:`MembershipLost` while a rebalance is under way.

        ``rebalancing`` says whether one has started: an expelled worker learns it at its first
        heartbeat after thawing, often before it gets here, so it is asked before waiting too.
        """
        if self.valid():
            return
        log.warning("membership unconfirmed: writes held until a heartbeat succeeds",
                    extra={"overdue_s": round(-self.remaining(), 3)})
        while not self.valid():
            if rebalancing():
                raise MembershipLost("a rebalance is under way and this worker's membership is unconfirmed")
            await asyncio.sleep(poll_s)
        log.info("membership confirmed: writes resume")
