"""``python -m jackpot.bench.faust_passthrough``: the smallest Faust app that does what the worker's
transport does, as the CPU baseline of ``cpu_per_bet_vs_faust``.

One agent consumes the source topic (raw key and value, no decoding) and sends every message
unchanged to the target topic; nothing else runs in the app (no tables: a memory store, no web
server, no timers).  Its producer and commit settings are the worker's (acks=all, lz4, commits
every second or 1,000 messages, at least once), so what the worker spends beyond this is what the
engine itself costs.  Kafka connection and security come from the environment (``Settings``).

The process measures itself with the same counters the bench reads for the worker (utime + stime
of ``/proc/<pid>/stat``) and appends JSON lines to ``--status``:

- ``assigned``: its partitions are assigned (start-up done, nothing consumed yet),
- ``first``: the first message reached the agent,
- ``done``: ``--count`` messages were forwarded and every one of them is acknowledged by the
  broker; later messages are consumed but not forwarded.

Each line carries ``cpu_s`` (the process's CPU seconds so far) and ``t`` (wall clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import faust

from jackpot.bench.harness import process_cpu_s
from jackpot.settings import Settings
from jackpot.streams.kafka import faust_credentials


def build(args: argparse.Namespace, settings: Settings) -> faust.App:
    status = Path(args.status)

    def report(event: str, **extra) -> None:
        doc = {"event": event, "cpu_s": process_cpu_s(os.getpid()), "t": time.time(), **extra}
        with status.open("a") as f:
            f.write(json.dumps(doc) + "\n")

    app = faust.App(
        args.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=args.data_dir,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_compression_type="lz4",
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    source = app.topic(args.source, key_type=bytes, value_type=bytes)
    target = app.topic(args.target, key_type=bytes, value_type=bytes, partitions=settings.partitions)

    @app.on_partitions_assigned.connect
    async def assigned(sender, assigned, **kwargs) -> None:  # noqa: ARG001 (Faust's signal signature)
        if assigned:
            report("assigned", partitions=len(assigned))

    @app.agent(source)
    async def forward(stream) -> None:
        count, pending = 0, []
        async for event in stream.events():
            if count == 0:
                report("first")
            if count < args.count:
                pending.append(await target.send(key=event.key, value=event.value))
                count += 1
                if count == args.count:
                    await asyncio.gather(*pending)  # every forwarded message acknowledged
                    pending.clear()
                    report("done", count=count)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jackpot.bench.faust_passthrough", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="topic to consume")
    parser.add_argument("--target", required=True, help="topic to send every message to (created beforehand)")
    parser.add_argument("--count", type=int, required=True, help="messages to forward")
    parser.add_argument("--status", required=True, help="file the JSON status lines are appended to")
    parser.add_argument("--app-id", required=True, help="the app id: its consumer group and internal topics")
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args(argv)
    app = build(args, Settings())
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, override_logging=False)
    worker.execute_from_commandline()


if __name__ == "__main__":  # pragma: no cover
    main()
