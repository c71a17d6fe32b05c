"""Static group membership (JACKPOT_GROUP_INSTANCE_ID): a worker killed and restarted in place under
its id gets its own partitions back and the other worker is not rebalanced at all.

With dynamic membership every restart costs two rebalances of the whole group (the dead member
expires, the new one joins), each pausing every worker; a Kubernetes StatefulSet restarts a
crashed worker under the same pod name, which is the id the manifests give it."""

from __future__ import annotations

import asyncio
import json

import pytest

from .conftest import wait_for
from .helpers import group_formed

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def assignments(log_path) -> list[dict]:
    """The partitions of each "partitions assigned" line a worker logged, in order."""
    out = []
    for line in log_path.read_text(errors="replace").splitlines():
        if "partitions assigned" in line:
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            out.append(doc.get("partitions"))
    return out


@pytest.mark.timeout(300)
async def test_a_worker_restarted_in_place_takes_its_partitions_back_without_a_rebalance(settings, spawn, tmp_path):
    env = dict(JACKPOT_SESSION_TIMEOUT_S="6", JACKPOT_HEARTBEAT_INTERVAL_S="1")
    a = spawn("static-a", "worker", JACKPOT_GROUP_INSTANCE_ID="static-a", JACKPOT_DATA_DIR=str(tmp_path / "a"), **env)
    b = spawn("static-b", "worker", JACKPOT_GROUP_INSTANCE_ID="static-b", JACKPOT_DATA_DIR=str(tmp_path / "b"), **env)
    await group_formed(settings, members=2)

    async def settled():  # both hold a share, and the group stayed stable for a few seconds
        if not (assignments(a.log_path) and assignments(b.log_path)):
            return None
        seen = (len(assignments(a.log_path)), len(assignments(b.log_path)))
        await asyncio.sleep(4)
        return seen if seen == (len(assignments(a.log_path)), len(assignments(b.log_path))) else None

    await wait_for(settled, timeout=120, what="both workers assigned and the group settled")
    a_before, b_rounds = assignments(a.log_path)[-1], len(assignments(b.log_path))
    assert a_before and assignments(b.log_path)[-1]

    a.kill()
    again = spawn("static-a-again", "worker", JACKPOT_GROUP_INSTANCE_ID="static-a",
                  JACKPOT_DATA_DIR=str(tmp_path / "a"), **env)
    await wait_for(lambda: assignments(again.log_path), timeout=120, what="the restarted worker assigned")
    assert assignments(again.log_path)[-1] == a_before
    await asyncio.sleep(8)  # past the session timeout of the killed process's membership
    assert len(assignments(b.log_path)) == b_rounds, "the other worker was rebalanced"
    await group_formed(settings, members=2, timeout=30)
    assert again.alive() and b.alive(), again.log_tail()
