"""Faust's recovery with the faults that made standby replicas unsafe fixed (streams/recovery.py):
a recovery end that came before the wait is not missed, and resuming the flow keeps the changelog
records already read (a revocation still drops them)."""

from __future__ import annotations

import asyncio

from faust.types import TP

from jackpot.settings import Settings
from jackpot.streams.app import create_app
from jackpot.streams.recovery import JackpotRecovery, JackpotTableManager, RecoveryEnd


async def test_an_end_signalled_and_cleared_before_the_wait_does_not_leave_the_rebalance_waiting():
    app = create_app(Settings())
    recovery = app.tables.recovery
    assert isinstance(app.tables, JackpotTableManager) and isinstance(recovery, JackpotRecovery)
    end = recovery.signal_recovery_end
    assert isinstance(end, RecoveryEnd)
    recovery._set_recovery_started()
    waiting = asyncio.ensure_future(end.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # still recovering: the wait waits
    end.set()
    assert await asyncio.wait_for(waiting, 1)
    # what the changelog reader does: mark the end, set the signal, and clear it on its next pass,
    # all before the rebalance gets to wait
    recovery._set_recovery_started()
    end.clear()
    recovery._set_recovery_ended()
    end.set()
    end.clear()
    assert await asyncio.wait_for(end.wait(), 1)


async def test_resuming_the_flow_keeps_changelog_records_a_revocation_drops_them():
    app = create_app(Settings())
    queue = app.tables.changelog_queue
    queue.put_nowait("standby record")
    app.flow_control.suspend()
    app.flow_control.resume()  # the recovery's last step, after the standbys started fetching
    assert queue.qsize() == 1
    app.tables.on_partitions_revoked({TP("t-changelog", 0)})
    assert queue.qsize() == 0


async def test_a_new_recovery_starts_from_an_empty_changelog_queue():
    """Records of the old assignment, put late by a fetch under way at the revocation, are dropped
    as the next recovery starts (faust's resume there used to), before its partitions resume."""
    app = create_app(Settings())
    app.tables.changelog_queue.put_nowait("late record of the old assignment")
    app.tables.recovery._set_recovery_started()
    assert app.tables.changelog_queue.qsize() == 0


async def test_stopping_the_flow_seeks_each_standby_back_to_the_record_after_the_last_it_read():
    """Faust's fetch loop throws away the rest of a batch when the flow stops (our perform_seek
    stops it): each assigned standby partition is sought back, with its read offset pinned so the
    records fetched again are not dropped as already read."""
    from types import SimpleNamespace

    from jackpot.streams.transport import ReadOffsets, StrictConsumer

    kept, fresh, gone = TP("c-changelog", 0), TP("c-changelog", 1), TP("c-changelog", 2)
    seeks = {}

    class Client:
        def assignment(self):
            return {kept, fresh}  # ``gone`` is no longer assigned here

        def seek(self, tp, offset):
            seeks[tp] = offset

    async def call_thread(fn, *args):
        return await fn(*args)

    recovery = SimpleNamespace(standby_tps={kept, fresh, gone}, standby_offsets={kept: 41, fresh: -1, gone: 7})
    consumer = SimpleNamespace(
        app=SimpleNamespace(tables=SimpleNamespace(recovery=recovery)),
        _read_offset=ReadOffsets(),
        _thread=SimpleNamespace(call_thread=call_thread, _ensure_consumer=Client),
    )
    await StrictConsumer._reseek_standbys(consumer)
    # a standby that has read nothing yet (-1) goes back to 0: the batch thrown away was its first
    assert seeks == {kept: 42, fresh: 0}
    consumer._read_offset[fresh] = 500  # a stale offset of that batch, recorded after the seek
    assert consumer._read_offset[fresh] == 0
    consumer._read_offset[kept] = 45  # a record of the batch in hand, fetched before the seek
    assert consumer._read_offset[kept] == 42
    consumer._read_offset[kept] = 42  # the first record fetched again
    consumer._read_offset[kept] = 43
    assert consumer._read_offset[kept] == 43
