"""Every worker's view of the jackpot configurations (a KTable over ``jackpot-configs``).

The router needs every active jackpot to match bets against, whatever partitions it
owns, so each process reads the whole compacted topic from the beginning with its
own consumer (no group) and keeps following it.  ``ready`` is set once the view has
caught up with the end offsets seen at start, so no bet is routed against an empty
or partial view after a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Callable

from aiokafka import AIOKafkaConsumer

from jackpot.settings import Settings
from jackpot.streams.kafka import assign_all, client_options

log = logging.getLogger(__name__)


class ConfigView:
    def __init__(self, settings: Settings, topic: str, compile_config: Callable[[dict], object]) -> None:
        self.settings = settings
        self.topic = topic
        self.compile_config = compile_config
        self.raw: dict[str, dict] = {}
        self.compiled: dict[str, object] = {}
        # the last compiled config of each jackpot whose config was withdrawn (a tombstone): its
        # jackpot agent faults the jackpot under it (regulatory item 11: loss of configuration)
        self.withdrawn: dict[str, object] = {}
        self.errors: dict[str, str] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.version = 0  # bumps on every change; matchers cache on it

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_options(self.settings), enable_auto_commit=False, group_id=None,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        tps = await assign_all(self._consumer, self.topic)
        await self._consumer.seek_to_beginning(*tps)
        end = await self._consumer.end_offsets(tps)
        self._task = asyncio.create_task(self._follow(end), name="config-view")
        await asyncio.wait_for(self.ready.wait(), timeout=120)

    @property
    def failed(self) -> bool:
        """Its reader started and ended (an error: views follow their topic until stopped)."""
        return self._task is not None and self._task.done()

    @property
    def following(self) -> bool:
        """Whether the view still follows its topic (a reader that died sees no further change)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._consumer:
            await self._consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        jackpot_id = key.decode()
        if value is None:  # tombstone: configuration withdrawn
            self.raw.pop(jackpot_id, None)
            last = self.compiled.pop(jackpot_id, None)
            if last is not None:
                self.withdrawn[jackpot_id] = last
        else:
            try:
                doc = json.loads(value)
                self.compiled[jackpot_id] = self.compile_config(doc)
                self.raw[jackpot_id] = doc
                self.errors.pop(jackpot_id, None)
                self.withdrawn.pop(jackpot_id, None)
            except Exception as exc:  # a bad config must not take the worker down
                self.errors[jackpot_id] = f"{type(exc).__name__}: {exc}"
                log.error("config %s rejected: %s", jackpot_id, exc)
        self.version += 1

    async def _follow(self, end: dict) -> None:
        assert self._consumer is not None
        pending = {tp: off for tp, off in end.items() if off > 0}
        if not pending:
            self.ready.set()
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for msgs in batches.values():
                for msg in msgs:
                    self._apply(msg.key, msg.value)
            if not self.ready.is_set():
                for tp in list(pending):
                    if await self._consumer.position(tp) >= pending[tp]:
                        del pending[tp]
                if not pending:
                    self.ready.set()
