"""The membership lease: writes only while the broker certainly still counts this worker as a
member (the frozen-worker integration test, tests/integration/test_zombie.py, runs it for real)."""

from __future__ import annotations

import asyncio

import pytest

from jackpot.streams.lease import MembershipLease, MembershipLost


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Coordinator:
    """The two things the lease reads off aiokafka's GroupCoordinator."""

    def __init__(self, clock: Clock, delay: float = 0.0) -> None:
        self.clock, self.delay = clock, delay
        self.generation = 7
        self.answer = True
        self.expel = False

    async def _do_heartbeat(self) -> bool:
        self.clock.now += self.delay
        if self.expel:
            self.generation = -1  # aiokafka's reset_generation on an unknown member id
            return False
        return self.answer


def test_a_heartbeat_proves_membership_for_one_session_timeout_less_the_margin():
    clock = Clock()
    lease = MembershipLease(15.0, clock=clock)
    assert not lease.valid()  # nothing confirmed yet
    lease.renew(clock.now)
    clock.now += 9.9
    assert lease.valid()
    clock.now += 0.2  # 10.1 s: inside the session, but within the margin (a third of it)
    assert not lease.valid()


def test_the_deadline_counts_from_when_the_heartbeat_was_sent_not_answered():
    clock = Clock()
    lease = MembershipLease(6.0, margin_s=1.0, clock=clock)
    coordinator = Coordinator(clock, delay=4.0)  # the answer takes four seconds
    lease.watch(coordinator)
    wrapped = coordinator._do_heartbeat
    lease.watch(coordinator)  # idempotent: one wrapper
    assert coordinator._do_heartbeat is wrapped
    assert asyncio.run(coordinator._do_heartbeat()) is True
    assert lease.until == pytest.approx(100.0 + 6.0)


def test_a_failed_heartbeat_does_not_renew_and_an_expulsion_revokes_at_once():
    clock = Clock()
    lease = MembershipLease(6.0, clock=clock)
    coordinator = Coordinator(clock)
    lease.watch(coordinator)
    assert asyncio.run(coordinator._do_heartbeat())
    assert lease.valid()
    before = lease.until
    coordinator.answer = False
    clock.now += 1
    assert not asyncio.run(coordinator._do_heartbeat())
    assert lease.until == before
    coordinator.expel = True
    asyncio.run(coordinator._do_heartbeat())
    assert not lease.valid() and lease.until == 0.0


def test_hold_waits_for_a_renewal_and_gives_up_when_a_rebalance_starts_or_is_under_way():
    clock = Clock()
    lease = MembershipLease(6.0, clock=clock)
    rebalances = [3]

    async def renewed_later():
        async def renew():
            await asyncio.sleep(0.05)
            lease.renew(clock.now)

        task = asyncio.ensure_future(renew())
        await lease.hold(lambda: rebalances[0] != 3, poll_s=0.01)
        await task
        return lease.valid()

    assert asyncio.run(renewed_later())

    clock.now += 60  # frozen a minute: expired

    async def expelled():
        async def rebalance():
            await asyncio.sleep(0.05)
            rebalances[0] += 1

        task = asyncio.ensure_future(rebalance())
        try:
            with pytest.raises(MembershipLost):
                await lease.hold(lambda: rebalances[0] != 3, poll_s=0.01)
        finally:
            await task

    asyncio.run(expelled())


def test_hold_gives_up_at_once_when_the_rebalance_began_before_it_was_asked():
    lease = MembershipLease(6.0, clock=Clock())  # expired: the thawed worker's heartbeat was refused
    with pytest.raises(MembershipLost):
        asyncio.run(lease.hold(lambda: True, poll_s=0.01))
