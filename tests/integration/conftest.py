"""Fixtures for tests against the real stack: Kafka, PostgreSQL and Redis, started if needed.

Each test module gets its own app id, topic prefix, PostgreSQL database, Redis key
namespace, worker data directory and worker processes (all gone when the module ends),
so neither a second run in a row nor another module's workers or rows can confuse its
assertions (the demo portfolio's jackpot ids are fixed: a shared database would rebuild
one module's tickers from another's pool snapshots); the services are shared and reused.  Only services this
session started are stopped at its end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from jackpot.ops.processes import Process
from jackpot.ops.stack import Stack
from jackpot.settings import REPO_ROOT, Settings

# Screenshots and child-process logs; JACKPOT_TEST_ARTIFACTS keeps concurrent runs apart.
ARTIFACTS = Path(os.environ.get("JACKPOT_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")

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


def with_db(url: str, name: str) -> str:
    """The same PostgreSQL server, another database."""
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, f"/{name}", p.query, p.fragment))


async def create_database(url: str, name: str) -> str:
    import asyncpg

    admin = await asyncpg.connect(with_db(url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_db(url, name)


async def drop_database(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(with_db(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


async def drop_namespace(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_url)
    try:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i:i + 500])
    finally:
        await r.aclose()


@pytest.fixture(scope="module")
def settings(stack, tmp_path_factory):
    run = uuid.uuid4().hex[:8]
    database = asyncio.run(create_database(Settings().database_url, f"jackpot_t_{run}"))
    s = Settings(
        database_url=database,
        JACKPOT_APP_ID=f"jackpot-test-{run}",
        JACKPOT_TOPIC_PREFIX=f"t-{run}.",
        JACKPOT_DATA_DIR=tmp_path_factory.mktemp("worker-data"),
        JACKPOT_GATEWAY_PORT=free_port(),
        JACKPOT_GATEWAY_METRICS_PORT=free_port(),
        JACKPOT_WORKER_WEB_PORT=free_port(),
        JACKPOT_BATCH_WITHIN_S="0.01",
    )
    if stack is not None and stack.secured:  # JACKPOT_STACK_KAFKA_SECURITY=sasl_ssl: tests log in as ops
        s = stack.bus.client_settings(s, "ops")
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
    for what, cleanup in (("database", drop_database(s.database_url)),
                          ("redis keys", drop_namespace(s.redis_url, s.topic_prefix))):
        try:
            asyncio.run(cleanup)
        except Exception as exc:  # the same: a service stopped on purpose
            print(f"could not drop the {what} of {s.app_id}: {exc!r}")


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

    def _stop_all() -> None:
        for p in procs:
            p.stop()

    _spawn.stop_all = _stop_all
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
