"""The public ticker gateway: outbound jackpot events from Kafka, fanned out over WebSocket/SSE.

Every gateway process follows every partition of the outbound topics itself (no consumer
group), so any number of them can run side by side behind a load balancer and each sees every
update.  A client gets a snapshot (Redis live values merged with what this process has seen,
by sequence) on connect, then live frames through its bounded, coalescing outbox
(``connection.py``).  Only public views leave the process: visible amounts after the configured
smoothing (rounding here, a random 200-800 ms lag per connection), masked winners, warn badges;
never ``current_amount``, thresholds or win targets.

The public port serves the page, ``/ws``, ``/sse``, the public API, ``/health`` and ``/ready``;
``/metrics`` and ``/metrics.json`` are on an internal port (``JACKPOT_GATEWAY_METRICS_PORT``).
WebSockets are accepted only from the configured page origins, and the per-address limit counts
the client behind trusted proxies (``connection.client_address``).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import socket
import sys
import time
from decimal import Decimal
from pathlib import Path

from aiohttp import WSMsgType, web
from aiokafka import AIOKafkaConsumer, TopicPartition

from jackpot.metrics import (EVENTS_IN, EVENT_LATENCY_SECONDS, PROCESSING_SECONDS, WS_CONNECTIONS,
                             HealthServer)
from jackpot.settings import Settings
from jackpot.sinks.live import (LiveValues, public_pool_view, public_state_view, public_win_view,
                                warn_changes_from_event, WARN_RANK)
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.kafka import client_options

from .admin import problems
from .admin.problems import Problem
from .connection import (CLIENT_IP, Connection, SSEConnection, WSConnection, _rng, address_bucket, client_address,
                         origin_allowed)
from .player_views import PlayerViews
from .directory import Directory
from .mystery import MYSTERY_LEVEL, masked, unified_view
from .frame import Frame
from .options import GatewayOptions
from .subscription import BadSubscription, Subscription

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

EVENT_TOPICS = {
    "pool-updated": "PoolUpdated",
    "jackpot-won": "JackpotWon",
    "jackpot-reseeded": "JackpotReseeded",
    "warn-threshold-reached": "WarnThresholdReached",
    "jackpot-state-changed": "JackpotStateChanged",
}
CONFIGS_TOPIC = "jackpot-configs"
# campaign banners, takeovers and overlays (streams/campaigns.py): JSON, no player data
SURFACES_TOPIC = "campaign-surfaces"
SURFACE_CHANNELS = frozenset({"lobby_banner", "homepage_takeover", "in_game_overlay"})
RECENT_WINS = 50
SUBSCRIBE_EVERY_S = 1.0  # a client may change its subscription once a second (each change costs a snapshot)
TASK_DIED = 70  # exit code of a gateway whose Kafka follow task (or another of its tasks) died (EX_SOFTWARE)


def exit_process(code: int) -> None:
    """End the process at once, as the worker does when an agent dies: its supervisor restarts it."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _dumps(obj) -> Frame:
    return Frame.of(obj)


class Hub:
    """The process's live state (a cache over Redis plus the topics) and its connections."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.conns: set[Connection] = set()
        self.by_jackpot: dict[str, set[Connection]] = collections.defaultdict(set)
        self.wildcard: set[Connection] = set()
        self.pools: dict[tuple, dict] = {}  # (jid, level, ccy) -> raw public view (unrounded)
        self.warn: dict[tuple, dict] = {}
        self.states: dict[tuple, dict] = {}
        self.wins: collections.deque[dict] = collections.deque(maxlen=RECENT_WINS)
        self.win_ids: set[str] = set()
        self.players: dict[str, int] = {}
        self.leaders: dict[str, dict] = {}  # jackpot_id -> public top contributors (jp:leaders)
        self.today: dict = {"won_today": 0, "paid_today": {}}
        self.frames_out = 0
        self.dirty_pools: dict[tuple, dict] = {}
        self.per_ip: collections.Counter[str] = collections.Counter()
        self.campaign_ids: collections.deque[str] = collections.deque(maxlen=1000)  # shown already (replays)

    # ---------------------------------------------------------------- membership
    def add(self, c: Connection) -> None:
        if c not in self.conns:
            WS_CONNECTIONS.labels(c.kind).inc()
        self.conns.add(c)
        self.per_ip[c.ip] += 1
        self._index(c)

    def remove(self, c: Connection) -> None:
        if c in self.conns:
            WS_CONNECTIONS.labels(c.kind).dec()
            self.conns.discard(c)
            self.per_ip[c.ip] -= 1
            if self.per_ip[c.ip] <= 0:
                del self.per_ip[c.ip]
        self._unindex(c)

    def _index(self, c: Connection) -> None:
        if c.sub.jackpots:
            for j in c.sub.jackpots:
                self.by_jackpot[j].add(c)
        else:
            self.wildcard.add(c)

    def _unindex(self, c: Connection) -> None:
        self.wildcard.discard(c)
        for j in c.sub.jackpots:
            s = self.by_jackpot.get(j)
            if s is not None:
                s.discard(c)
                if not s:
                    del self.by_jackpot[j]

    def resubscribe(self, c: Connection, sub: Subscription) -> None:
        self._unindex(c)
        c.sub = sub
        self._index(c)

    def audience(self, jid: str) -> list[Connection]:
        s = self.by_jackpot.get(jid)
        return [*self.wildcard, *s] if s else list(self.wildcard)

    # -------------------------------------------------------------------- views
    def pool_frame_view(self, view: dict) -> dict:
        sm = self.directory.smoothing_for(view["jackpot_id"])
        return dict(view, visible_amount=sm.display(view["visible_amount"]),
                    slug=self.directory.slug(view["jackpot_id"]))

    def win_frame_view(self, w: dict) -> dict:
        pub = self.directory.public.get(w["jackpot_id"]) or {}
        return dict(w, slug=pub.get("slug"), jackpot_name=pub.get("name"),
                    level_name=self.directory.level_names.get(w["level_id"]))

    # ------------------------------------------------------------ event intake
    def on_pool(self, view: dict) -> None:
        """Remember the newest value per ticker; ``fanout`` sends it (once per pass, however many
        updates of that ticker arrived since the last pass)."""
        key = (view["jackpot_id"], view["level_id"], view["currency"])
        cur = self.pools.get(key)
        if cur is not None and cur["sequence"] >= view["sequence"]:
            return  # replay or older: a ticker never moves backwards
        self.pools[key] = view
        self.dirty_pools[key] = view

    def shown(self, jackpot_id: str) -> bool:
        """Only public jackpots reach the public: a draft's, an archived one's or an unknown id's
        pools, states and events stay in Redis and in the hub, never in a frame."""
        return jackpot_id in self.directory.public

    def fanout(self) -> int:
        """Offer every changed ticker to its audience, then flush the clients with frames due now."""
        pending, self.dirty_pools = self.dirty_pools, {}
        due: set[Connection] = set()
        for view in self.public_pools(pending.values()):
            if not self.shown(view["jackpot_id"]):
                continue
            audience = self.audience(view["jackpot_id"])
            if not audience:
                continue
            frame = _dumps({"type": "pool", "pool": self.pool_frame_view(view)})
            sm = self.directory.smoothing_for(view["jackpot_id"])
            jid, lid, ccy, seq = view["jackpot_id"], view["level_id"], view["currency"], view["sequence"]
            level_name = self.directory.level_names.get(lid)
            for c in audience:
                if c.sub.wants(jid, lid, ccy, level_name) and c.offer_ticker((jid, lid, ccy), seq, frame, sm.lag_s(_rng)):
                    due.add(c)
        for c in due:
            c.flush()
        return len(pending)

    def public_pools(self, views) -> list[dict]:
        """The tickers players see for these level values: each level's own, except that the levels
        of a mystery jackpot show as its one unified ticker per currency (gateway/mystery.py)."""
        out, unified = [], set()
        mystery = self.directory.mystery
        for view in views:
            jid = view["jackpot_id"]
            if jid in mystery:
                unified.add((jid, view["currency"]))
            else:
                out.append(view)
        for jid, ccy in sorted(unified):
            one = unified_view(jid, ccy, (v for v in (self.pools.get((jid, lid, ccy)) for lid in mystery[jid]) if v))
            if one is not None:
                out.append(one)
        return out

    def on_win(self, win: dict) -> None:
        if win["event_id"] in self.win_ids:
            return
        self.win_ids.add(win["event_id"])
        self.wins.appendleft(win)
        if len(self.win_ids) > 4 * RECENT_WINS:
            self.win_ids = {w["event_id"] for w in self.wins}
        self._event(win["jackpot_id"], win["level_id"], win["currency"], {"type": "win", "win": self.win_frame_view(win)})

    def on_warn(self, w: dict) -> None:
        key = (w["jackpot_id"], w["level_id"], w["currency"])
        cur = self.warn.get(key)
        rank = WARN_RANK.get(w["warn_state"], 0)
        if cur is not None and (w["cycle_number"], rank) <= (cur["cycle_number"], WARN_RANK.get(cur["warn_state"], 0)):
            return
        self.warn[key] = w
        if w["jackpot_id"] in self.directory.mystery:
            w = masked(w)
        self._event(w["jackpot_id"], w["level_id"], w["currency"], {"type": "warn", "warn": w})

    def on_state(self, s: dict) -> None:
        key = (s["jackpot_id"], s["level_id"] or "*")
        cur = self.states.get(key)
        if cur is not None and cur["timestamp"] > s["timestamp"]:
            return
        self.states[key] = s
        if s["level_id"] and s["jackpot_id"] in self.directory.mystery:
            return  # a mystery jackpot's levels are not shown, nor their states
        self._event(s["jackpot_id"], s["level_id"], None, {"type": "state", "state": s})

    def on_reseed(self, e: dict) -> None:
        level_id = MYSTERY_LEVEL if e["jackpot_id"] in self.directory.mystery else e["level_id"]
        self._event(e["jackpot_id"], level_id, e["currency"], {"type": "reseed", "reseed": {
            "jackpot_id": e["jackpot_id"], "level_id": level_id, "currency": e["currency"],
            "cycle_number": e["cycle_number"]}})

    def _event(self, jid: str, level_id, currency, msg: dict) -> None:
        if not self.shown(jid):
            return
        frame = _dumps(msg)
        level_name = self.directory.level_names.get(level_id or "")
        for c in self.audience(jid):
            if c.sub.wants(jid, level_id, currency, level_name):
                c.offer_event(frame)

    def on_campaign(self, doc: dict) -> None:
        """A campaign surface (banner, takeover, overlay) for the connections following its jackpot.
        An action id seen already (a replay after the campaigns process crashed) is not shown twice."""
        action_id, channel, jid = str(doc["action_id"]), str(doc["channel"]), str(doc["jackpot_id"])
        if channel not in SURFACE_CHANNELS or action_id in self.campaign_ids:
            return
        if not self.shown(jid):
            return  # a draft's or an archived jackpot's: nothing to show the public
        self.campaign_ids.append(action_id)
        frame = _dumps({"type": "campaign", "campaign": {"action_id": action_id, "channel": channel,
                                                         "template": str(doc["template"])[:200], "jackpot_id": jid,
                                                         "slug": self.directory.slug(jid)}})
        # the pages and widgets following the jackpot (the Universe page follows all public ones)
        for c in self.audience(jid):
            if c.sub.wants(jid):
                c.offer_event(frame)

    def broadcast(self, msg: dict) -> None:
        frame = _dumps(msg)
        for c in list(self.conns):
            c.offer_event(frame)

    # ------------------------------------------------------------------- stats
    def stats(self) -> dict:
        active = set(self.directory.public)
        totals: dict[str, Decimal] = collections.defaultdict(Decimal)
        for (jid, _, ccy), v in self.pools.items():
            if jid in active:  # only public jackpots count (none before the configs are read)
                totals[ccy] += Decimal(v["visible_amount"])
        today_ms = int(time.time() // 86400 * 86400 * 1000)
        local_wins = [w for w in self.wins if w["timestamp"] >= today_ms]
        won = max(self.today.get("won_today", 0), len(local_wins))
        paid = dict(self.today.get("paid_today") or {})
        if not paid and local_wins:
            acc: dict[str, Decimal] = collections.defaultdict(Decimal)
            for w in local_wins:
                acc[w["currency"]] += Decimal(w["amount"]) + sum(Decimal(c["amount"]) for c in w["chain"])
            paid = {k: str(v.quantize(Decimal("0.01"))) for k, v in acc.items()}
        return {
            "pools_total": {k: str(v.quantize(Decimal("1"))) for k, v in totals.items()},
            "players": {j: n for j, n in self.players.items() if j in active},
            "players_chasing": sum(self.players.get(j, 0) for j in active),
            "won_today": won,
            "paid_today": paid,
            "at": int(time.time() * 1000),
        }

    def snapshot(self, sub: Subscription) -> dict:
        names = self.directory.level_names
        shown = self.shown
        pools = [self.pool_frame_view(v) for v in self.public_pools(self.pools.values())
                 if shown(v["jackpot_id"]) and sub.wants(v["jackpot_id"], v["level_id"], v["currency"], names.get(v["level_id"]))]
        return {
            "type": "snapshot",
            "jackpots": [j for j in self.directory.listing() if not sub.jackpots or j["jackpot_id"] in sub.jackpots],
            "pools": pools,
            "warn": [w for w in self.public_warn() if shown(w["jackpot_id"]) and sub.wants(
                w["jackpot_id"], w["level_id"], w["currency"], names.get(w["level_id"]))],
            "states": [s for (j, lv), s in self.states.items()
                       if shown(j) and sub.wants(j) and not (lv != "*" and j in self.directory.mystery)],
            "winners": [self.win_frame_view(w) for w in self.wins if shown(w["jackpot_id"]) and sub.wants(
                w["jackpot_id"], w["level_id"], w["currency"], names.get(w["level_id"]))],
            "stats": self.stats(),
            "smoothing": {j: {"lag_min_ms": s.lag_min_ms, "lag_max_ms": s.lag_max_ms, "round_to": str(s.round_to)}
                          for j, s in self.directory.smoothing.items() if s.enabled},
        }


    def public_warn(self) -> list[dict]:
        """The warn states players see: each level's, or a mystery jackpot's most urgent per currency."""
        out, unified = [], {}
        for (jid, _, ccy), w in self.warn.items():
            if jid not in self.directory.mystery:
                out.append(w)
            elif (jid, ccy) not in unified or WARN_RANK.get(w["warn_state"], 0) > \
                    WARN_RANK.get(unified[(jid, ccy)]["warn_state"], 0):
                unified[(jid, ccy)] = masked(w)
        return out + list(unified.values())


class TickerGateway:
    def __init__(self, settings: Settings, options: GatewayOptions | None = None) -> None:
        self.settings = settings
        self.options = options or GatewayOptions.from_settings(settings)
        self.options.check(settings.production)
        self.directory = Directory(smoothing_enabled=self.options.smoothing)
        self.hub = Hub(self.directory)
        self.live = LiveValues(settings.redis_url, namespace=settings.topic_prefix)
        self.codec = catalog()
        self._consumer: AIOKafkaConsumer | None = None
        self._tasks: list[asyncio.Task] = []
        self.ready = asyncio.Event()
        self.closing = False
        self.started_at = time.time()
        self.dropped = collections.Counter()
        self._snapshot_refreshed = 0.0
        self._snapshot_lock = asyncio.Lock()
        self.failed = ""  # why a task of the gateway died: not ready, and the process goes down
        self.exit = exit_process
        # /metrics (and /health, /ready) for the scraper and probes on an internal port
        self.internal = HealthServer(self.is_ready, host=settings.gateway_host, port=self.options.metrics_port,
                                     live=lambda: not self.failed)
        self.internal.app.router.add_get("/metrics.json", self.metrics)

    # ------------------------------------------------------------ kafka side
    async def start(self, app: web.Application) -> None:
        await self.internal.start()
        await self._refresh_from_redis()
        self._consumer = AIOKafkaConsumer(
            **client_options(self.settings), group_id=None,
            enable_auto_commit=False, max_partition_fetch_bytes=1 << 20,
        )
        await self._consumer.start()
        topics = [self.settings.topic(t) for t in (*EVENT_TOPICS, CONFIGS_TOPIC, SURFACES_TOPIC)]
        parts = await self._partitions(topics)
        self._consumer.assign([tp for tps in parts.values() for tp in tps])
        cfg = parts[self.settings.topic(CONFIGS_TOPIC)]
        await self._consumer.seek_to_beginning(*cfg)
        events = [tp for t, tps in parts.items() if t != self.settings.topic(CONFIGS_TOPIC) for tp in tps]
        await self._consumer.seek_to_end(*events)
        for tp in events:  # resolve the end position now, before any client connects
            await self._consumer.position(tp)
        cfg_end = {tp: off for tp, off in (await self._consumer.end_offsets(cfg)).items() if off > 0}
        self._tasks = [
            asyncio.create_task(self._follow(cfg_end), name="gateway-follow"),
            asyncio.create_task(self._stats_loop(), name="gateway-stats"),
            asyncio.create_task(self._reaper(), name="gateway-reaper"),
        ]
        for task in self._tasks:
            self.watch(task)
        await asyncio.wait_for(self.ready.wait(), timeout=120)

    def watch(self, task: asyncio.Task) -> None:
        """A task of the gateway runs until shutdown; one that ends before (the follow task: a
        Kafka error, a bug) is never left silent: the gateway turns not ready at once, closes its
        clients (they reconnect to another replica) and exits with ``TASK_DIED`` to be restarted."""
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        if self.closing or task.cancelled():
            return
        exc = task.exception()
        self.failed = f"{task.get_name()} ended: {exc!r}"
        log.critical("%s; the gateway is not ready and exits so that it is restarted", self.failed,
                     exc_info=exc, extra={"task": task.get_name(), "exit_code": TASK_DIED})
        self._crash_task = asyncio.get_running_loop().create_task(self._go_down())

    async def _go_down(self) -> None:
        self.closing = True  # no new client meanwhile
        try:
            conns = list(self.hub.conns)
            if conns:
                await asyncio.wait([asyncio.create_task(self._close(c)) for c in conns],
                                   timeout=self.options.shutdown_timeout_s)
        finally:
            self.exit(TASK_DIED)

    def is_ready(self) -> bool:
        return self.ready.is_set() and not self.closing and not self.failed

    async def _partitions(self, topics: list[str], timeout: float = 30.0) -> dict[str, list[TopicPartition]]:
        assert self._consumer is not None
        deadline = time.monotonic() + timeout
        out: dict[str, list[TopicPartition]] = {}
        for t in topics:
            while True:
                parts = self._consumer.partitions_for_topic(t)
                if parts:
                    out[t] = [TopicPartition(t, p) for p in sorted(parts)]
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {t} has no partitions (does it exist?)")
                self._consumer._client.add_topic(t)
                await self._consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
        return out

    async def stop(self, app: web.Application) -> None:
        """Graceful shutdown: every socket gets a close frame (1001), then everything stops."""
        self.closing = True
        conns = list(self.hub.conns)
        if conns:
            tasks = {asyncio.create_task(self._close(c)): c for c in conns}
            _, pending = await asyncio.wait(tasks, timeout=self.options.shutdown_timeout_s)
            for t in pending:  # the client did not answer the close frame: FIN (flushes), not RST
                t.cancel()
                tr = tasks[t].request.transport
                if tr is not None:
                    tr.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()
        await self.live.close()
        await self.internal.stop()

    async def _close(self, c: Connection) -> None:
        try:
            await c.close()
        except Exception:
            c.abort("gateway shutting down", cause="shutdown")

    async def _follow(self, cfg_pending: dict) -> None:
        assert self._consumer is not None
        cfg_topic = self.settings.topic(CONFIGS_TOPIC)
        names = {self.settings.topic(t): n for t, n in EVENT_TOPICS.items()}
        logical = {self.settings.topic(t): t for t in (*EVENT_TOPICS, CONFIGS_TOPIC, SURFACES_TOPIC)}
        surfaces_topic = self.settings.topic(SURFACES_TOPIC)
        received = {t: EVENTS_IN.labels(t) for t in logical.values()}
        age = EVENT_LATENCY_SECONDS.labels("gateway_received")
        fanout_seconds = PROCESSING_SECONDS.labels("gateway_fanout")
        if not cfg_pending:
            self.ready.set()
        loop = asyncio.get_running_loop()
        interval = self.options.fanout_ms / 1000.0
        last_fanout = loop.time()
        while True:
            batches = await self._consumer.getmany(timeout_ms=max(10, int(self.options.fanout_ms)), max_records=5000)
            cfg_changed = False
            now_ms = time.time() * 1000
            for tp, msgs in batches.items():
                received[logical[tp.topic]].inc(len(msgs))
                if tp.topic == cfg_topic:
                    for msg in msgs:
                        if msg.key is None:
                            continue
                        try:
                            jackpot_id = msg.key.decode()
                            doc = json.loads(msg.value) if msg.value is not None else None
                        except ValueError:  # UnicodeDecodeError included
                            log.warning("ignoring unreadable config at offset %s", msg.offset)
                            continue
                        cfg_changed |= self.directory.apply(jackpot_id, doc)
                    continue
                if tp.topic == surfaces_topic:
                    for msg in msgs:
                        try:
                            self.hub.on_campaign(json.loads(msg.value))
                        except (ValueError, TypeError, KeyError, AttributeError):
                            log.warning("ignoring unreadable campaign surface at offset %s", msg.offset)
                    continue
                expect = names[tp.topic]
                for msg in msgs:
                    age.observe(max(0.0, (now_ms - msg.timestamp) / 1000.0))
                    try:
                        name, event = self.codec.decode(msg.value, expect=expect)
                    except DecodeError as exc:
                        self.dropped[expect] += 1
                        log.warning("skipping undecodable %s at %s/%s: %s", expect, tp.partition, msg.offset, exc)
                        continue
                    self._dispatch(name, event)
            if not self.ready.is_set():
                for tp in list(cfg_pending):
                    if await self._consumer.position(tp) >= cfg_pending[tp]:
                        del cfg_pending[tp]
                if not cfg_pending:
                    self.ready.set()
            elif cfg_changed:
                self.hub.broadcast({"type": "jackpots", "jackpots": self.directory.listing()})
            if self.hub.dirty_pools and loop.time() - last_fanout >= interval:
                last_fanout = loop.time()
                with fanout_seconds.time():
                    self.hub.fanout()

    def _dispatch(self, name: str, event: dict) -> None:
        if name == "PoolUpdated":
            self.hub.on_pool(public_pool_view(event))
        elif name == "JackpotWon":
            self.hub.on_win(public_win_view(event))
        elif name == "JackpotStateChanged":
            self.hub.on_state(public_state_view(event))
        else:
            if name == "JackpotReseeded":
                self.hub.on_reseed(event)
            for w in warn_changes_from_event(name, event):
                self.hub.on_warn(w)

    async def _refresh_from_redis(self) -> None:
        """Fold Redis live values into the hub (highest sequence / cycle / time wins)."""
        try:
            for v in await self.live.pools(None):
                key = (v["jackpot_id"], v["level_id"], v["currency"])
                cur = self.hub.pools.get(key)
                if cur is None or cur["sequence"] < v["sequence"]:
                    self.hub.pools[key] = v
            for w in await self.live.warn_states():
                self.hub.on_warn(w)
            for s in await self.live.states():
                self.hub.on_state(s)
            for w in reversed(await self.live.recent_wins(RECENT_WINS)):
                if w["event_id"] not in self.hub.win_ids:
                    self.hub.win_ids.add(w["event_id"])
                    self.hub.wins.appendleft(w)
            self.hub.players = await self.live.active_players()
            self.hub.leaders = await self.live.leaders()
            self.hub.today = await self.live.today(int(time.time() * 1000))
        except Exception as exc:  # Redis down: keep serving the last known values
            log.warning("redis refresh failed: %s", exc)
        self._snapshot_refreshed = time.monotonic()

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.stats_interval_s)
            await self._refresh_from_redis()
            self.hub.broadcast({"type": "stats", "stats": self.hub.stats()})

    async def _reaper(self) -> None:
        """Cut clients whose sends are stuck or whose buffers pass the cap."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.5)
            now = loop.time()
            for c in list(self.hub.conns):
                if c.closed:
                    continue
                if c.send_started is not None and now - c.send_started > self.options.send_timeout_s:
                    c.abort(f"send blocked for more than {self.options.send_timeout_s:.0f}s", cause="send_timeout")
                elif c.over_buffer(self.options.max_buffer_bytes):
                    c.abort("write buffer overflow", cause="buffer_overflow")

    # -------------------------------------------------------------- http side
    def _admit(self, request: web.Request) -> web.Response | None:
        if self.closing:
            return web.json_response({"error": "shutting down"}, status=503)
        if len(self.hub.conns) >= self.options.max_connections:
            return web.json_response({"error": "gateway full"}, status=503, headers={"Retry-After": "5"})
        ip = request[CLIENT_IP] = address_bucket(client_address(
            request.remote, request.headers.getall("X-Forwarded-For", []), self.options.trusted_proxies))
        if self.hub.per_ip[ip] >= self.options.max_per_ip:
            return web.json_response({"error": "too many connections from this address"}, status=429,
                                     headers={"Retry-After": "5"})
        return None

    def _subscription(self, doc: dict) -> Subscription:
        return Subscription.parse(doc, self.directory.resolve, self.directory.jackpots_for_brands)

    def _query_subscription(self, request: web.Request) -> Subscription | web.Response:
        """The subscription in a connection's query string, or the 400 problem that refuses it."""
        try:
            return self._subscription(dict(request.query))
        except BadSubscription as exc:
            return problems.response(Problem(400, "bad-subscription", str(exc)), request.path,
                                     request.headers.get("X-Request-Id", ""))

    def _tune_socket(self, request: web.Request) -> None:
        tr = request.transport
        sock = tr.get_extra_info("socket") if tr is not None else None
        if sock is not None and self.options.so_sndbuf:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.options.so_sndbuf)
            except OSError:
                pass
        if tr is not None:
            tr.set_write_buffer_limits(high=64 * 1024)

    async def _refresh_snapshot_source(self) -> None:
        if time.monotonic() - self._snapshot_refreshed > 1.0:  # Redis, at most once a second
            async with self._snapshot_lock:
                if time.monotonic() - self._snapshot_refreshed > 1.0:
                    await self._refresh_from_redis()

    def _join(self, conn: Connection) -> None:
        """Add a client with its snapshot as its first frame: built and added without an await
        between, so no event reaches the client before its snapshot and none falls between the
        two. (Callers refresh from Redis before admitting the client.)"""
        frame = _dumps(self.hub.snapshot(conn.sub))
        self.hub.add(conn)
        conn.offer_snapshot(frame)

    async def ws_handler(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, self.options.allowed_origins):
            p = Problem(403, "origin-not-allowed", f"WebSockets from pages of {origin!r} are not allowed")
            return problems.response(p, request.path, request.headers.get("X-Request-Id", ""))
        await self._refresh_snapshot_source()
        refused = self._admit(request)
        if refused is not None:
            return refused
        sub = self._query_subscription(request)
        if isinstance(sub, web.Response):
            return sub
        ws = web.WebSocketResponse(heartbeat=self.options.heartbeat_s, max_msg_size=self.options.max_msg_bytes,
                                   compress=False)
        await ws.prepare(request)
        self._tune_socket(request)
        conn = WSConnection(request, ws, sub, self.options.max_queue)
        try:
            self._join(conn)
            async for msg in ws:
                if conn.closed:
                    break
                if msg.type == WSMsgType.TEXT:
                    if not conn.inbound_allowed():
                        conn.abort("too many client messages", cause="rate_limited")
                        break
                    await self._on_client_message(conn, msg.data)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.BINARY):
                    break
        finally:
            self.hub.remove(conn)
            await conn.stop()
        return ws

    async def _on_client_message(self, conn: Connection, data: str) -> None:
        try:
            msg = json.loads(data)
            kind = msg.get("type")
        except (ValueError, AttributeError, RecursionError):
            conn.offer_event(_dumps({"type": "error", "reason": "message is not a JSON object"}))
            return
        if kind == "subscribe":
            now = asyncio.get_running_loop().time()
            if now - conn.last_subscribe < SUBSCRIBE_EVERY_S:  # each one costs a snapshot
                conn.offer_event(_dumps({"type": "error", "reason": "at most one subscribe a second"}))
                return
            try:
                sub = self._subscription(msg)
            except BadSubscription as exc:
                conn.offer_event(_dumps({"type": "error", "reason": f"bad subscription: {exc}"}))
                return
            conn.last_subscribe = now
            await self._refresh_snapshot_source()
            self.hub.resubscribe(conn, sub)  # then the snapshot, with no await between (see _join)
            if not conn.snapshot_queued:  # one pending snapshot at a time, built when it is sent
                conn.snapshot_queued = True
                conn.offer_snapshot(_dumps(self.hub.snapshot(conn.sub)))
        elif kind == "ping":
            conn.offer_event(_dumps({"type": "pong", "at": int(time.time() * 1000)}))
        else:
            conn.offer_event(_dumps({"type": "error", "reason": f"unknown message type {kind!r}"}))

    async def sse_handler(self, request: web.Request) -> web.StreamResponse:
        await self._refresh_snapshot_source()
        refused = self._admit(request)
        if refused is not None:
            return refused
        sub = self._query_subscription(request)
        if isinstance(sub, web.Response):
            return sub
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        self._tune_socket(request)
        conn = SSEConnection(request, resp, sub, self.options.max_queue)
        try:
            await resp.write(b"retry: 2000\n\n")
            self._join(conn)
            while not conn.done.is_set():
                try:
                    await asyncio.wait_for(conn.done.wait(), self.options.heartbeat_s)
                except asyncio.TimeoutError:
                    conn.offer_event(_dumps({"type": "heartbeat"}))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.hub.remove(conn)
            await conn.stop()
        return resp

    # ------------------------------------------------------------- plain http
    async def health(self, request: web.Request) -> web.Response:
        if self.failed:  # the cause is in the logs, not for the public
            return web.json_response({"status": "failed"}, status=503)
        return web.json_response({"status": "ok"})

    async def readiness(self, request: web.Request) -> web.Response:
        if not self.is_ready():
            status = "failed" if self.failed else "closing" if self.closing else "starting"
            return web.json_response({"status": status}, status=503)
        return web.json_response({"status": "ready"})

    async def metrics(self, request: web.Request) -> web.Response:
        import resource

        by_kind = collections.Counter(c.kind for c in self.hub.conns)
        return web.json_response({
            "connections": len(self.hub.conns), "ws": by_kind["ws"], "sse": by_kind["sse"],
            "frames_sent": sum(c.frames_sent for c in self.hub.conns),
            "tickers": len(self.hub.pools), "jackpots": len(self.directory.public),
            "rss_bytes": _rss_bytes(), "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "undecodable": dict(self.dropped),
        })

    async def jackpots(self, request: web.Request) -> web.Response:
        return web.json_response({"jackpots": self.directory.listing()})

    async def leaderboard(self, request: web.Request) -> web.Response:
        """Top contributors of a public jackpot (by id or slug), per currency, as of the engine's
        last count (every few seconds); refreshed from Redis with the stats."""
        jid = self.directory.resolve(request.match_info["jackpot"])
        if jid not in self.directory.public:
            p = Problem(404, "unknown-jackpot", f"no public jackpot {request.match_info['jackpot']!r}")
            return problems.response(p, request.path, request.headers.get("X-Request-Id", ""))
        board = self.hub.leaders.get(jid) or {"by_currency": {}, "as_of": None}
        return web.json_response({"jackpot_id": jid, **board})

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


@web.middleware
async def _cors_static(request: web.Request, handler):
    resp = await handler(request)
    if request.path.startswith(("/static/", "/widgets/")) and not isinstance(resp, web.WebSocketResponse):
        resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def create_gateway(settings: Settings, options: GatewayOptions | None = None) -> web.Application:
    gw = TickerGateway(settings, options)
    app = web.Application(middlewares=[_cors_static], client_max_size=64 * 1024)
    app["gateway"] = gw
    app.on_startup.append(gw.start)
    app.on_shutdown.append(gw.stop)
    app.router.add_get("/", gw.index)
    app.router.add_get("/ws", gw.ws_handler)
    app.router.add_get("/sse", gw.sse_handler)
    app.router.add_get("/health", gw.health)
    app.router.add_get("/ready", gw.readiness)
    # /metrics and /metrics.json: on the internal port only (``GatewayOptions.metrics_port``)
    app.router.add_get("/api/jackpots", gw.jackpots)
    app.router.add_get("/api/jackpots/{jackpot}/leaderboard", gw.leaderboard)
    PlayerViews(settings, gw.directory).routes(app)  # presentation, Best Odds, My Jackpot Journey
    app.router.add_static("/static/", STATIC)
    # the public rules document of each jackpot (regulatory item 14), as the admin API serves it
    from jackpot.gateway.admin.public_rules import create_rules_app

    app.add_subapp("/rules/", create_rules_app(settings))
    return app
