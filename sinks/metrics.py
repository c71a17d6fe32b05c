"""Prometheus metrics of the PostgreSQL sinks.

``jackpot_sink_lag_seconds{sink}`` is the age of the newest event in the last committed batch
(wall clock minus event time): it grows while the database is down or the sink falls behind,
and drops back when it catches up. Consumer-group offset lag is the streams layer's metric;
this one is what the database holds versus now.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

LAG = Gauge("jackpot_sink_lag_seconds", "Age of the newest event in the last committed sink batch", ["sink"])
BATCHES = Counter("jackpot_sink_batches_total", "Batches committed by a sink", ["sink"])
EVENTS = Counter("jackpot_sink_events_total", "Events received by a sink", ["sink"])
NEW = Counter("jackpot_sink_new_rows_total", "Events new to the database (not replays)", ["sink"])
LATENCY = Histogram("jackpot_sink_batch_seconds", "Time to commit one sink batch", ["sink"])
DOWN = Gauge("jackpot_sink_database_down", "1 while a sink cannot reach PostgreSQL", ["sink"])
RECON_DIFF = Gauge("jackpot_reconciliation_differences", "Differences found by the last reconciliation run")


def observe_batch(sink: str, received: int, new: int, newest_event_ms: int, seconds: float) -> None:
    BATCHES.labels(sink).inc()
    EVENTS.labels(sink).inc(received)
    NEW.labels(sink).inc(new)
    LATENCY.labels(sink).observe(seconds)
    LAG.labels(sink).set(max(0.0, time.time() - newest_event_ms / 1000))
    DOWN.labels(sink).set(0)


def database_down(sink: str, down: bool) -> None:
    DOWN.labels(sink).set(1 if down else 0)
