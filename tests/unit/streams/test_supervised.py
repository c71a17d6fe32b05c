"""A worker whose agent raises exits (code 70) for its supervisor to restart it; a stop is not a crash."""

import asyncio
from types import SimpleNamespace

import pytest

from jackpot.streams import worker as W


class Exited(Exception):
    pass


@pytest.fixture
def exits(monkeypatch):
    codes = []

    def fake_exit(code):
        codes.append(code)
        raise Exited

    monkeypatch.setattr(W.os, "_exit", fake_exit)
    return codes


def supervised(agent, stopping=False):
    worker = SimpleNamespace(app=SimpleNamespace(should_stop=stopping))
    return W.Worker._supervised(worker, "router", agent)


def test_an_agent_that_raises_takes_the_process_down_with_code_70(exits):
    async def agent(stream):
        raise KeyError("spins")

    with pytest.raises(Exited):
        asyncio.run(supervised(agent)(None))
    assert exits == [W.AGENT_CRASHED] == [70]


def test_a_cancelled_agent_stops_quietly(exits):
    async def agent(stream):
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(supervised(agent)(None))
    assert exits == []


def test_an_error_while_the_worker_stops_is_not_a_crash(exits):
    async def agent(stream):
        raise RuntimeError("consumer stopped under the stream")

    asyncio.run(supervised(agent, stopping=True)(None))  # SIGTERM must still end with code 0
    assert exits == []
