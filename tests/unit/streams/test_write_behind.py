"""Write-behind: the commit saves what the agents applied first, and never commits past it."""

import asyncio
import gc
from types import SimpleNamespace

import pytest

from jackpot.streams import heap
from jackpot.tables.deliveries import PRUNE_EVERY, Deliveries
from jackpot.streams.transport import StrictConsumer


def done(result):
    fut = asyncio.get_running_loop().create_future()
    fut.set_result(result)
    return fut


class FakeConsumer:
    """The parts of Faust's consumer that ``StrictConsumer._commit_tps`` uses."""

    def __init__(self, save):
        self.app = SimpleNamespace(writes=asyncio.Lock(), checkpoint=save, consumer_generation_id=1)
        self._acks_generation = 1
        self.acked = {"bets-0": 10}  # the offset each partition may be committed to
        self.committed = None

    def _filter_committable_offsets(self, tps):
        return {tp: self.acked[tp] for tp in tps if tp in self.acked}

    async def _handle_attached(self, offsets):
        pass

    async def _commit_offsets(self, offsets, start_new_transaction=True):
        self.committed = dict(offsets)
        return True

    commit = StrictConsumer._commit_tps


def test_a_refused_or_failed_save_commits_nothing():
    async def refuse():
        return None

    async def fail():
        return done(False)

    for save in (refuse, fail):
        c = FakeConsumer(save)
        assert asyncio.run(c.commit(["bets-0"], True)) is False
        assert c.committed is None


def test_the_offsets_wait_for_the_saved_writes_but_the_agents_do_not():
    order = []

    async def run():
        writes = None

        async def save():
            nonlocal writes

            async def write():
                order.append("writes start")
                await asyncio.sleep(0.02)
                order.append("writes on the broker")
                return True

            writes = asyncio.ensure_future(write())
            return writes

        c = FakeConsumer(save)

        async def agent():
            await asyncio.sleep(0.005)
            async with c.app.writes:
                order.append("agent applies")

        agent_task = asyncio.create_task(agent())
        await c.commit(["bets-0"], True)
        order.append(f"committed {c.committed}")
        await agent_task

    asyncio.run(run())
    assert order == ["writes start", "agent applies", "writes on the broker", "committed {'bets-0': 10}"]


def test_no_commit_until_the_new_assignment_forgot_the_acks_of_the_last():
    async def save():
        raise AssertionError("nothing is saved for a commit that is refused")

    c = FakeConsumer(save)
    c.app.consumer_generation_id = 2  # assigned by the consumer thread; the main loop has not cleared the acks yet
    assert asyncio.run(c.commit(["bets-0"], True)) is False
    assert c.committed is None


def test_a_failed_delivery_is_heard_at_once():
    heard = []

    async def run():
        d = Deliveries(on_failure=heard.append)
        fut = asyncio.get_running_loop().create_future()
        d.add([fut])
        fut.set_exception(RuntimeError("request timed out"))
        await asyncio.sleep(0)

    asyncio.run(run())
    assert [str(e) for e in heard] == ["request timed out"]


def test_offsets_are_taken_before_an_agent_applies_anything_more():
    """An agent waiting for the lock while the save runs applies (and acks) its batch only after
    the offsets to commit were taken: the commit never covers an input the save did not write."""
    order = []

    async def run():
        c = None

        async def save():
            order.append("save")
            await asyncio.sleep(0.01)  # the agent queues up for the lock meanwhile
            return done(True)

        c = FakeConsumer(save)

        async def agent():
            await asyncio.sleep(0.001)
            async with c.app.writes:
                order.append("agent applies")
                c.acked["bets-0"] = 20

        agent_task = asyncio.create_task(agent())
        assert await c.commit(["bets-0"], True) is True
        await agent_task
        return c

    c = asyncio.run(run())
    assert order == ["save", "agent applies"]
    assert c.committed == {"bets-0": 10}


def test_an_agent_mid_batch_finishes_before_the_save():
    order = []

    async def run():
        async def save():
            order.append("save")
            return done(True)

        c = FakeConsumer(save)

        async def agent():
            async with c.app.writes:
                order.append("batch starts")
                await asyncio.sleep(0.01)  # a produce, say: the commit must wait for the batch
                order.append("batch ends")

        agent_task = asyncio.create_task(agent())
        await asyncio.sleep(0.001)
        await c.commit(["bets-0"], True)
        await agent_task

    asyncio.run(run())
    assert order == ["batch starts", "batch ends", "save"]


def test_deliveries_settle_and_surface_a_failure():
    async def run():
        loop = asyncio.get_running_loop()
        d = Deliveries()
        ok, bad = loop.create_future(), loop.create_future()
        d.add([ok, bad])
        ok.set_result(1)
        bad.set_exception(RuntimeError("broker refused it"))
        with pytest.raises(RuntimeError, match="refused"):
            await d.settle()
        assert len(d) == 0

    asyncio.run(run())


def test_deliveries_pruning_raises_a_failure_in_the_agent():
    async def run():
        loop = asyncio.get_running_loop()
        d = Deliveries()
        bad = loop.create_future()
        bad.set_exception(RuntimeError("message too large"))
        done = [loop.create_future() for _ in range(PRUNE_EVERY)]
        for f in done:
            f.set_result(None)
        with pytest.raises(RuntimeError, match="too large"):
            d.add([bad, *done])

    asyncio.run(run())


def test_refreeze_hides_the_heap_from_full_collections():
    try:
        heap.refreeze()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
