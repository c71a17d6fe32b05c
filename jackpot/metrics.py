"""Prometheus metrics shared by every process, and the small HTTP server that exposes them.

One set of names for the whole system, so the dashboard (``ops/grafana``) and the alert rules
(``ops/prometheus``) can rely on them whichever process reports.  Labels stay low-cardinality:
``topic`` is the logical topic name (``pool-updated``, without the deployment's topic prefix),
``stage`` a fixed set of processing steps, ``kind`` ``ws`` or ``sse``.  Per-pool labels
(``jackpot_id``, ``level_id``, ``currency``) appear only on the Win Max gauge, which has one
series per pool.

The sink metrics live with the sinks (``jackpot.sinks.metrics``) and are re-exported here.

Every process serves ``/metrics``, ``/health`` and ``/ready``: the gateway on an internal port
(``JACKPOT_GATEWAY_METRICS_PORT``, never the public one),
a worker on ``JACKPOT_WORKER_WEB_PORT`` through :class:`HealthServer`, which answers ``/ready``
with 200 only while its ``ready`` callable says so (a worker: after its tables are recovered).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import choose_encoder

from jackpot.sinks.metrics import BATCHES as SINK_BATCHES
from jackpot.sinks.metrics import DOWN as SINK_DATABASE_DOWN
from jackpot.sinks.metrics import EVENTS as SINK_EVENTS
from jackpot.sinks.metrics import LAG as SINK_LAG
from jackpot.sinks.metrics import LATENCY as SINK_BATCH_SECONDS
from jackpot.sinks.metrics import NEW as SINK_NEW_ROWS
from jackpot.sinks.metrics import RECON_DIFF as RECONCILIATION_DIFFERENCES

log = logging.getLogger(__name__)

# Latency buckets from a millisecond to half a minute: the hot path's target is p99 < 50 ms,
# a recovery or a stalled sink shows at the top end.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# ------------------------------------------------------------------ stream flow
EVENTS_IN = Counter("jackpot_events_in_total", "Events consumed, per logical topic", ["topic"])
EVENTS_OUT = Counter("jackpot_events_out_total", "Events produced, per logical topic", ["topic"])
DEAD_LETTERS = Counter("jackpot_dead_letters_total", "Events sent to the dead-letter topic, per stage", ["stage"])
DEAD_LETTERS_FAILED = Counter("jackpot_dead_letters_failed_total",
                              "Dead letters that could not be produced after retries (each logged with its "
                              "source topic, partition and offset), per stage", ["stage"])
DUPLICATE_BETS = Counter("jackpot_duplicate_bets_total",
                         "Bets seen again by event_id within the dedup horizon and not applied again, "
                         "per kind (resend: same content; conflict: different content, dead-lettered)", ["kind"])
CLOCK_SKEWED = Counter("jackpot_clock_skewed_total",
                       "Provider messages whose timestamp is further than the tolerance from the received time",
                       ["direction"])
PARTITION_STALLED = Gauge("jackpot_input_partition_stalled_seconds",
                          "Seconds an owned input partition has had messages waiting with its committed "
                          "offset unmoved (0: moving or caught up)", ["group", "topic", "partition"])
AGENT_CRASHES = Counter("jackpot_agent_crashes_total", "Agents that raised; the process exits to be restarted",
                        ["agent"])
PROCESSING_SECONDS = Histogram(
    "jackpot_processing_seconds", "Time to process one unit of work (an event or a batch), per stage",
    ["stage"], buckets=LATENCY_BUCKETS)
EVENT_LATENCY_SECONDS = Histogram(
    "jackpot_event_latency_seconds",
    "Age of an event when a stage is done with it (wall clock minus the event's timestamp)",
    ["stage"], buckets=LATENCY_BUCKETS)
BATCH_SIZE = Histogram("jackpot_batch_events", "Events per jackpot-agent batch",
                       buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500))
CONSUMER_LAG = Gauge("jackpot_consumer_lag_messages",
                     "Messages of an owned input partition not committed yet (end offset - committed offset)",
                     ["group", "topic", "partition"])

# ---------------------------------------------------------------------- payout
WALLET_CALLS = Counter("jackpot_wallet_calls_total",
                       "Wallet credit calls by outcome: confirmed, retryable (failed, will be retried), "
                       "rejected (failed, not retryable)", ["outcome"])
WALLET_CALL_SECONDS = Histogram("jackpot_wallet_call_seconds", "Duration of one wallet credit call",
                                buckets=LATENCY_BUCKETS)
WALLET_OUTCOMES = ("confirmed", "retryable", "rejected")

# -------------------------------------------------------------------- campaigns
CAMPAIGN_DELIVERIES = Counter("jackpot_campaign_deliveries_total",
                              "Campaign actions sent by channel and outcome (delivered, failed)", ["channel", "status"])
CAMPAIGN_LATENCY = Histogram("jackpot_campaign_latency_seconds",
                             "From the engine event that fired a campaign to its action's delivery",
                             buckets=LATENCY_BUCKETS)

# ------------------------------------------------------------------------ pools
POOL_STATES = ("active", "dropping", "paused", "pending_manual_resolution", "closed", "draft")
POOLS = Gauge("jackpot_pools", "Pools (level x currency) owned by this process, per state", ["state"])
POOL_AT_WIN_MAX = Gauge("jackpot_pool_at_win_max",
                        "1 while a pool's current amount has reached its Win Max (contributions overflow)",
                        ["jackpot_id", "level_id", "currency"])
TABLE_RECOVERED = Gauge("jackpot_tables_recovered", "1 once this worker's tables are recovered and it is ready")

# --------------------------------------------------------------------- gateway
WS_CONNECTIONS = Gauge("jackpot_ws_connections", "Open client connections, per kind (ws, sse)", ["kind"])
WS_FRAMES_SENT = Counter("jackpot_ws_frames_sent_total", "Frames written to clients, per kind", ["kind"])
WS_QUEUE_OVERFLOWS = Counter("jackpot_ws_queue_overflows_total",
                             "Clients whose bounded send queue overflowed, per kind", ["kind"])
WS_DISCONNECTS = Counter("jackpot_ws_disconnects_total",
                         "Clients the gateway disconnected, per kind and cause "
                         "(queue_overflow, send_timeout, buffer_overflow, write_failed, rate_limited, shutdown, other)",
                         ["kind", "cause"])
WS_KINDS = ("ws", "sse")
DISCONNECT_CAUSES = ("queue_overflow", "send_timeout", "buffer_overflow", "write_failed", "rate_limited",
                     "shutdown", "other")

BUILD_INFO = Info("jackpot_build", "Version of the jackpot engine this process runs")

__all__ = [
    "BATCH_SIZE", "BUILD_INFO", "CONSUMER_LAG", "DEAD_LETTERS", "EVENTS_IN", "EVENTS_OUT",
    "EVENT_LATENCY_SECONDS", "HealthServer", "POOLS", "POOL_AT_WIN_MAX", "POOL_STATES",
    "PROCESSING_SECONDS", "RECONCILIATION_DIFFERENCES", "SINK_BATCHES", "SINK_BATCH_SECONDS",
    "SINK_DATABASE_DOWN", "SINK_EVENTS", "SINK_LAG", "SINK_NEW_ROWS", "TABLE_RECOVERED",
    "WALLET_CALLS", "WALLET_CALL_SECONDS", "WS_CONNECTIONS", "WS_DISCONNECTS", "WS_FRAMES_SENT",
    "WS_QUEUE_OVERFLOWS", "health_app", "metric_names", "metrics_response", "observe_event_age",
    "set_consumer_lag", "set_pool_states", "set_pools_at_win_max", "wallet_outcome",
]


def _init_label_sets() -> None:
    """Create the fixed label sets up front, so a series reads 0 rather than being absent
    (``rate()`` and alert expressions then work from the first scrape)."""
    for kind in WS_KINDS:
        WS_CONNECTIONS.labels(kind)
        WS_FRAMES_SENT.labels(kind)
        WS_QUEUE_OVERFLOWS.labels(kind)
        for cause in DISCONNECT_CAUSES:
            WS_DISCONNECTS.labels(kind, cause)
    for outcome in WALLET_OUTCOMES:
        WALLET_CALLS.labels(outcome)
    for state in POOL_STATES:
        POOLS.labels(state)
    try:
        from importlib.metadata import version

        BUILD_INFO.info({"version": version("jackpot")})
    except Exception:  # not installed as a distribution (e.g. a source checkout on sys.path)
        BUILD_INFO.info({"version": "unknown"})


_init_label_sets()


# ------------------------------------------------------------------- helpers
def wallet_outcome(result: dict) -> str:
    """The outcome label of a WalletCreditResult record."""
    if result.get("status") == "confirmed":
        return "confirmed"
    return "retryable" if result.get("retryable") else "rejected"


def observe_event_age(stage: str, event_ms: int | float, now: float | None = None) -> float:
    """Record how old an event (timestamp in epoch milliseconds) is when ``stage`` finishes it."""
    age = max(0.0, (time.time() if now is None else now) - event_ms / 1000.0)
    EVENT_LATENCY_SECONDS.labels(stage).observe(age)
    return age


def set_consumer_lag(group: str, positions: Mapping, highwaters: Mapping) -> int:
    """Set the lag of every partition a consumer owns; return the total.

    ``positions`` and ``highwaters`` map ``TopicPartition``-like objects (``.topic``,
    ``.partition``) or ``(topic, partition)`` tuples to offsets.  Partitions the consumer no
    longer owns are removed, so a rebalance does not leave stale series behind.
    """
    total = 0
    seen = set()
    for tp, pos in positions.items():
        topic, partition = (tp.topic, tp.partition) if hasattr(tp, "topic") else tp
        high = highwaters.get(tp)
        if high is None:
            continue
        pos = 0 if pos is None else pos  # never committed: everything is waiting
        lag = max(0, int(high) - int(pos))
        total += lag
        labels = (group, topic, str(partition))
        seen.add(labels)
        CONSUMER_LAG.labels(*labels).set(lag)
    for labels in _series(CONSUMER_LAG):
        if labels[0] == group and labels not in seen:
            CONSUMER_LAG.remove(*labels)
    return total


def set_pool_states(counts: Mapping[str, int]) -> None:
    """Set the pools-per-state gauge from a full count (states not given read 0)."""
    unknown = set(counts) - set(POOL_STATES)
    if unknown:
        raise ValueError(f"unknown pool state(s) {sorted(unknown)}; known: {POOL_STATES}")
    for state in POOL_STATES:
        POOLS.labels(state).set(counts.get(state, 0))


def set_pools_at_win_max(at_max: Iterable[tuple[str, str, str]], owned: Iterable[tuple[str, str, str]]) -> None:
    """Mark the pools at Win Max (1) among the pools this process owns (0); forget the rest."""
    at_max = set(at_max)
    owned = set(owned) | at_max
    for key in owned:
        POOL_AT_WIN_MAX.labels(*key).set(1 if key in at_max else 0)
    for labels in _series(POOL_AT_WIN_MAX):
        if labels not in owned:
            POOL_AT_WIN_MAX.remove(*labels)


def _series(metric) -> list[tuple[str, ...]]:
    with metric._lock:  # prometheus_client keeps children in a dict guarded by this lock
        return list(metric._metrics)


def metric_names(registry: CollectorRegistry = REGISTRY) -> set[str]:
    """Every metric family name the registry exposes (counters without their ``_total``)."""
    return {m.name for m in registry.collect()}


# ------------------------------------------------------------------ http side
def metrics_response(request: web.Request | None = None, registry: CollectorRegistry = REGISTRY) -> web.Response:
    """The registry in the text format the scraper asked for (Prometheus text or OpenMetrics)."""
    accept = request.headers.get("Accept", "") if request is not None else ""
    encoder, content_type = choose_encoder(accept)
    return web.Response(body=encoder(registry), headers={"Content-Type": content_type})


Check = Callable[[], "bool | Awaitable[bool]"]


async def _call(check: Check | None) -> bool:
    if check is None:
        return True
    result = check()
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


def health_app(ready: Check, live: Check | None = None, registry: CollectorRegistry = REGISTRY) -> web.Application:
    """``/metrics``; ``/health`` (200 while the process is alive, or while ``live`` says so);
    ``/ready`` (200 only while ``ready`` returns true, else 503)."""

    async def metrics(request: web.Request) -> web.Response:
        return metrics_response(request, registry)

    async def health(request: web.Request) -> web.Response:
        try:
            ok = await _call(live)
        except Exception as exc:  # a failing check is an unhealthy answer, not a 500
            return web.json_response({"status": "unhealthy", "error": repr(exc)}, status=503)
        return web.json_response({"status": "ok" if ok else "unhealthy"}, status=200 if ok else 503)

    async def readiness(request: web.Request) -> web.Response:
        try:
            ok = await _call(ready)
        except Exception as exc:
            return web.json_response({"status": "not ready", "error": repr(exc)}, status=503)
        return web.json_response({"status": "ready" if ok else "not ready"}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", readiness)
    return app


class HealthServer:
    """``/metrics``, ``/health`` and ``/ready`` on their own port, inside a running event loop.

    A worker starts it early (so ``/health`` answers during table recovery) and passes a
    ``ready`` callable that turns true once recovery is done::

        server = HealthServer(ready=lambda: app.rebalancing is False, port=settings.worker_web_port)
        await server.start()
        ...
        await server.stop()

    ``port=0`` binds a free port (see :attr:`port` after ``start``).
    """

    def __init__(self, ready: Check, *, host: str = "0.0.0.0", port: int = 6066, live: Check | None = None,
                 registry: CollectorRegistry = REGISTRY) -> None:
        self.app = health_app(ready, live, registry)
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        if self._site is not None and self._site._server is not None and self._site._server.sockets:
            return self._site._server.sockets[0].getsockname()[1]
        return self._port

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self._port, reuse_address=True)
        await self._site.start()
        log.info("metrics and health endpoints listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = self._site = None
