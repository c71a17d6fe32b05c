"""``python -m jackpot.bench.openloop``: an open-loop bet sender for the latency benchmarks.

It sends pre-encoded bets (a pickle of ``(topic, key, value, bet_id)`` tuples written by the
bench) on a fixed schedule, bet ``i`` at ``start + i / rate``, whatever the system does: a send
that is late (the producer or this process fell behind) is still timed from its scheduled
instant, so a stall shows in the latencies instead of being hidden by a sender that waited for
the system (no coordinated omission).  It runs in a process of its own, so the bench's event
loop (which receives the PoolUpdated events and WebSocket frames) cannot delay the sends.

``--out`` receives JSON: ``scheduled`` (bet id to scheduled wall-clock time, seconds), the
offered and achieved rates, and how late the sends were against their schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import time
from pathlib import Path

from jackpot.settings import Settings
from jackpot.streams.kafka import producer


def schedule(start: float, rate: float, count: int) -> list[float]:
    """The instant each of ``count`` sends is due at ``rate`` per second from ``start``."""
    return [start + i / rate for i in range(count)]


async def send_on_schedule(settings: Settings, records: list, rate: float, lead_s: float = 0.5) -> dict:
    scheduled: dict[str, float] = {}
    lateness: list[float] = []
    async with producer(settings, linger_ms=0) as prod:
        for topic in {r[0] for r in records}:
            await prod.partitions_for(topic)  # metadata before the clock starts
        due = schedule(time.time() + lead_s, rate, len(records))
        pending = []
        for (topic, key, value, bet_id), at in zip(records, due):
            ahead = at - time.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            scheduled[bet_id] = at
            sent_at = time.time()
            lateness.append(sent_at - at)
            pending.append(await prod.send(topic, key=key, value=value))
        last_sent = sent_at if records else 0.0
        await asyncio.gather(*pending)
    lateness.sort()
    return {"scheduled": scheduled, "offered_rate": rate, "sent": len(records),
            # sends per second from the first bet's scheduled instant to the last send
            "achieved_rate": (len(records) - 1) / (last_sent - due[0]) if len(records) > 1 and last_sent > due[0] else 0.0,
            "late_p99_ms": round(lateness[int(0.99 * (len(lateness) - 1))] * 1000, 2) if lateness else 0.0,
            "late_max_ms": round(lateness[-1] * 1000, 2) if lateness else 0.0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jackpot.bench.openloop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", required=True, help="pickle of (topic, key, value, bet_id) tuples")
    parser.add_argument("--rate", type=float, required=True, help="bets per second")
    parser.add_argument("--out", required=True, help="JSON file for the scheduled send times")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be positive")
    records = pickle.loads(Path(args.records).read_bytes())
    result = asyncio.run(send_on_schedule(Settings(), records, args.rate))
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":  # pragma: no cover
    main()
