"""A sink loop with the simplest correct delivery contract: commit only what was written.

Sinks need no tables or repartitioning, so they use a plain consumer group with
manual commits rather than a stream agent: fetch a batch, write it (retrying until
the store takes it), then commit exactly the offsets of that batch.  A crash or a
rebalance between the write and the commit only means the batch is written again,
which the idempotent writers turn into a no-op.  The consumer lag of the group is
the sink's lag.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import CommitFailedError, IllegalStateError, RebalanceInProgressError

from jackpot.settings import Settings
from jackpot.streams.kafka import client_options

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0

WriteBatch = Callable[[list[ConsumerRecord]], Awaitable[None]]


class SinkLoop:
    def __init__(self, name: str, settings: Settings, group_id: str, topics: list[str], write: WriteBatch,
                 max_records: int = 2000, fetch_timeout_ms: int = 250) -> None:
        self.name = name
        self.settings = settings
        self.group_id = group_id
        self.topics = topics
        self.write = write
        self.max_records = max_records
        self.fetch_timeout_ms = fetch_timeout_ms
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self.written = 0

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            *self.topics, **client_options(self.settings), group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            max_poll_records=self.max_records,
        )
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"sink-{self.name}")

    @property
    def task(self) -> asyncio.Task:
        """The running loop (after ``start``): it ends only by failing, or by ``stop``."""
        assert self._task is not None, "not started"
        return self._task

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the loop and leave the group, in bounded time: a consumer stopped while its group
        rebalances waits in JoinGroup for the other members, up to the rebalance timeout (minutes)
        when they are stopping too, which held a worker's SIGTERM past its grace period. Past
        ``timeout_s`` the group expires this member after its session timeout instead, as after a
        kill; its uncommitted records are written again by the next owner, idempotently."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.consumer is not None:
            try:
                await asyncio.wait_for(self.consumer.stop(), timeout_s)
            except asyncio.TimeoutError:
                log.warning("sink consumer did not leave its group in time; the group will expire it",
                            extra={"sink": self.name, "timeout_s": timeout_s})

    async def _run(self) -> None:
        assert self.consumer is not None
        while True:
            batches = await self.consumer.getmany(timeout_ms=self.fetch_timeout_ms, max_records=self.max_records)
            if not batches:
                continue
            records = [r for msgs in batches.values() for r in msgs]
            await self.write(records)  # retries inside until the store takes it
            self.written += len(records)
            offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batches.items()}
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
                # The partitions moved on; their new owner rewrites from the last
                # committed offset and the writer's idempotency absorbs it.
                log.warning("sink commit skipped after a rebalance", extra={"sink": self.name, "error": str(exc)})
