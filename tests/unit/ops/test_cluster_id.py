"""The local broker's cluster id is always accepted by Kafka's storage tool."""

from __future__ import annotations

import uuid

from jackpot.ops import stack


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch):
    # 0xf8 as the first byte encodes to "-" in URL-safe base64: the tool took such an id for an option
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(stack.uuid, "uuid4", lambda: next(draws))
    cluster_id = stack._kafka_cluster_id()
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22


def test_cluster_ids_are_random():
    assert len({stack._kafka_cluster_id() for _ in range(200)}) == 200
