"""``jackpot demo``: the whole system on one machine, until interrupted.

Starts the local stack (only what is not already running), the reference wallet,
a worker, the ticker gateway, publishes the day-one portfolio and produces a
trickle of bets.  On Ctrl-C
or SIGTERM it stops its children and then the services it started itself, so
nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request

from jackpot.ops.stack import Stack, StackError, log
from jackpot.settings import Settings


# The principal each demo process logs in to a secured local broker as (README "Security").
PRINCIPALS = {"wallet": None, "worker": "worker", "gateway": "gateway", "campaign-receiver": None,
              "campaigns": "campaigns"}


def bus_env(stack: Stack, principal: str | None) -> dict[str, str]:
    """The bus settings of ``principal`` on the stack's broker (none on a PLAINTEXT broker)."""
    if principal is None or not stack.secured:
        return {}
    env = stack.client_settings(principal).to_env()
    return {k: v for k, v in env.items() if k.startswith("JACKPOT_KAFKA_")}


def spawn(args: list[str], logfile, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jackpot.cli", *args], stdout=logfile, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, **(extra_env or {})},
    )


def stop_children(children: list[subprocess.Popen], timeout: float = 30.0) -> None:
    for proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, timeout: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise StackError(f"a demo process exited early (code {p.returncode}); see .stack/demo-*.log")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise StackError(f"{url} did not become ready within {timeout:.0f}s")


DEMO_RULE = {
    "rule_id": "6f6e2d66-6972-4500-8000-64656d6f2d31", "version": 1, "name": "On Fire: tell the players",
    "trigger": {"kind": "warn_state", "to": ["on_fire"]}, "conditions": {"cooldown_s": 600},
    "actions": [{"channel": "push", "template": "on-fire"}, {"channel": "lobby_banner", "template": "on-fire-banner"}],
    "dry_run": False,
}


async def _campaign(stack: Stack, stream) -> None:
    """The demo's campaign: the players' profiles (consent) from the provider, and one live rule,
    approved (the demo is its own manager; in production rules go through the admin API)."""
    from jackpot.campaigns.rules import Rule
    from jackpot.streams.campaigns import publish_rule
    from jackpot.streams.loadgen import produce_player_events

    await produce_player_events(stack.client_settings("provider"), "player-profiles", stream.profiles())
    await publish_rule(stack.client_settings("admin"), Rule.model_validate(DEMO_RULE), [1])


async def _play(load, children: list[subprocess.Popen], logs: list, envs: dict[str, dict[str, str]]) -> None:
    """Run the bets while restarting any demo process that exits, as a supervisor would (a worker
    whose agent crashed exits non-zero so that it is restarted: it resumes from its commits)."""
    names = tuple(PRINCIPALS)
    task = asyncio.ensure_future(load)
    try:
        while not task.done():
            for i, proc in enumerate(children):
                if proc.poll() is not None:
                    log(f"{names[i]} exited with code {proc.returncode}; restarting it")
                    children[i] = spawn([names[i]], logs[i], envs[names[i]])
            await asyncio.wait([task], timeout=2.0)
        task.result()
    finally:
        # on Ctrl-C, stop the bets while the loop still runs their producer: cancelled later, with
        # everything else at once, the producer's last sends waited for a sender already gone
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def run_demo(settings: Settings, rate: float) -> int:
    from jackpot.sinks.migrate import migrate
    from jackpot.streams.loadgen import BetStream, run_loadgen
    from jackpot.streams.publish import demo_portfolio, publish_configs
    from jackpot.streams.topics import ensure_topics

    # Ctrl-C and SIGTERM take the same path: asyncio's own SIGINT handling cancels the
    # running task cleanly. A shell may start us with SIGINT ignored (background jobs),
    # so restore the default handler first.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: os.kill(os.getpid(), signal.SIGINT))
    stack = Stack(settings)
    # the campaigns process signs its deliveries to the reference receiver with a key of this run
    if len(os.environ.get("JACKPOT_CAMPAIGN_SECRET", "").encode()) < 16:  # unset, or empty from a settings dump
        os.environ["JACKPOT_CAMPAIGN_SECRET"] = secrets.token_hex(24)
    if not os.environ.get("JACKPOT_CAMPAIGN_ENDPOINT"):
        os.environ["JACKPOT_CAMPAIGN_ENDPOINT"] = f"http://127.0.0.1:{settings.campaign_receiver_port}"
    started: list[str] = []
    children: list[subprocess.Popen] = []
    logs = []
    try:
        started = stack.up()

        async def prepare() -> list[str]:
            await ensure_topics(stack.client_settings("ops"))  # topic creation: the operators' principal
            await migrate(settings.database_url)
            return await publish_configs(stack.client_settings("admin"), demo_portfolio())

        ids = asyncio.run(prepare())
        log(f"demo portfolio published: {', '.join(ids)}")
        stream = BetStream(players=2000)
        asyncio.run(_campaign(stack, stream))
        log("campaign rule published: On Fire -> push and lobby banner (deliveries in demo-campaign-receiver.log)")
        envs = {name: bus_env(stack, principal) for name, principal in PRINCIPALS.items()}
        for name in PRINCIPALS:
            f = open(settings.stack_dir / f"demo-{name}.log", "ab")
            logs.append(f)
            children.append(spawn([name], f, envs[name]))
        base = f"http://{settings.gateway_host}:{settings.gateway_port}"
        wait_http(f"{base}/ready", 90, children)
        print(f"\n  Live tickers: {base}/\n  (Ctrl-C to stop; logs in {settings.stack_dir}/demo-*.log)\n",
              flush=True)
        bets = run_loadgen(stack.client_settings("provider"), rate=rate, count=0, players=2000, seed=None,
                           stream=stream)
        asyncio.run(_play(bets, children, logs, envs))
    except KeyboardInterrupt:
        print("\nstopping demo…", file=sys.stderr)
    except StackError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        stop_children(children)
        for f in logs:
            f.close()
        stack.down(only=started)
    return 0
