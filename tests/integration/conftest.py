"""Fixtures for tests against the real stack: Kafka, PostgreSQL and Redis, started if needed.

Each test module gets its own app id, topic prefix, worker data directory and
worker processes (stopped when the module ends), so neither a second run in a row
nor another module's workers in the same consumer groups can confuse its
assertions; the services themselves are shared and reused.  Only services this
session started are stopped at its end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from jackpot.ops.processes import Process
from jackpot.ops.stack import Stack
from jackpot.settings import REPO_ROOT, Settings

ARTIFACTS = REPO_ROOT / "test-artifacts"

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack():
    """The real services: local processes (default), or containers with JACKPOT_STACK=containers."""
    if Settings().stack_mode == "containers":
        from jackpot.ops.containers import container_stack

        with container_stack() as env:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)  # every Settings() of this session (and its children) sees them
            try:
                yield None
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        return
    stack = Stack(Settings())
    started = stack.up()
    yield stack
    stack.down(only=started)


@pytest.fixture(scope="module")
def settings(stack, tmp_path_factory):
    run = uuid.uuid4().hex[:8]
    s = Settings(
        JACKPOT_APP_ID=f"jackpot-test-{run}",
        JACKPOT_TOPIC_PREFIX=f"t-{run}.",
        JACKPOT_DATA_DIR=tmp_path_factory.mktemp("worker-data"),
        JACKPOT_GATEWAY_PORT=free_port(),
        JACKPOT_WORKER_WEB_PORT=free_port(),
        JACKPOT_BATCH_WITHIN_S="0.01",
    )
    from jackpot.sinks.migrate import migrate
    from jackpot.streams.topics import ensure_topics

    async def prepare() -> None:
        await ensure_topics(s)
        await migrate(s.database_url)

    asyncio.run(prepare())
    yield s
    # the module's topics go with it: a broker keeps files open for every partition it holds
    from jackpot.streams.topics import delete_app_topics

    try:
        asyncio.run(delete_app_topics(s))
    except Exception as exc:  # a test that stopped the broker on purpose must not fail here
        print(f"could not delete the topics of {s.app_id}: {exc!r}")


class Proc(Process):
    """A `jackpot ...` child process with its log kept as a test artifact."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        super().__init__(name, args, env, ARTIFACTS)


@pytest.fixture(scope="module")
def spawn(settings):
    procs: list[Proc] = []

    def _spawn(name: str, *args: str, **env_overrides: str) -> Proc:
        env = settings.to_env()
        # every worker serves /metrics and /health on its own port (two on one port: the second fails)
        if args and args[0] == "worker":
            if any(p.args[:1] == ["worker"] for p in procs):
                env["JACKPOT_WORKER_WEB_PORT"] = str(free_port())
        env.update({k: str(v) for k, v in env_overrides.items()})
        p = Proc(name, list(args), env)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        p.stop()


async def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2, what: str = "condition"):
    """Poll an async or sync predicate until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
