"""A sink loop stops in bounded time even when its consumer cannot leave its group (it waits in
JoinGroup while the group rebalances and the other members are stopping too)."""

import asyncio
import time

from jackpot.settings import Settings
from jackpot.sinks.consumer import SinkLoop


class StuckConsumer:
    def __init__(self) -> None:
        self.stop_called = False

    async def stop(self) -> None:
        self.stop_called = True
        await asyncio.sleep(3600)


def test_stop_gives_up_leaving_the_group_after_the_timeout():
    loop = SinkLoop("live", Settings(kafka_bootstrap_servers="127.0.0.1:1"), "g", ["t"], write=None)
    loop.consumer = StuckConsumer()

    async def run():
        loop._task = asyncio.create_task(asyncio.sleep(3600))
        t0 = time.monotonic()
        await loop.stop(timeout_s=0.2)
        return time.monotonic() - t0

    took = asyncio.run(run())
    assert loop.consumer.stop_called and took < 2 and loop._task.cancelled()
