"""The public ticker gateway: PoolUpdated from Kafka, fanned out over WebSockets.

Every gateway process follows every partition of ``pool-updated`` itself (no
consumer group), so any number of them can run side by side behind a load balancer
and each sees every update.  A client gets a snapshot from Redis on connect, then
live updates.  Each connection keeps only the latest value per ticker until it is
sent, so a slow client costs one entry per ticker, never a growing queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from aiohttp import WSMsgType, web
from aiokafka import AIOKafkaConsumer

from jackpot.settings import Settings
from jackpot.sinks.live import LiveValues, public_pool_view
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.kafka import assign_all

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


class Client:
    """One WebSocket connection with a coalescing outbox."""

    def __init__(self, ws: web.WebSocketResponse, jackpots: set[str] | None) -> None:
        self.ws = ws
        self.jackpots = jackpots
        self.latest: dict[tuple, dict] = {}
        self.wake = asyncio.Event()

    def wants(self, view: dict) -> bool:
        return self.jackpots is None or view["jackpot_id"] in self.jackpots

    def offer(self, view: dict) -> None:
        key = (view["jackpot_id"], view["level_id"], view["currency"])
        cur = self.latest.get(key)
        if cur is None or cur["sequence"] < view["sequence"]:
            self.latest[key] = view
            self.wake.set()

    async def pump(self) -> None:
        while not self.ws.closed:
            await self.wake.wait()
            self.wake.clear()
            batch, self.latest = list(self.latest.values()), {}
            for view in batch:
                await self.ws.send_str(json.dumps({"type": "pool", "pool": view}))


class TickerGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients: set[Client] = set()
        self.live = LiveValues(settings.redis_url)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    # ------------------------------------------------------------ kafka side
    async def start(self, app: web.Application) -> None:
        topic = self.settings.topic("pool-updated")
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers, group_id=None,
            enable_auto_commit=False,
        )
        await self._consumer.start()
        tps = await assign_all(self._consumer, topic)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end position now, before any client connects
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._follow(), name="ticker-follow")
        self.ready.set()

    async def stop(self, app: web.Application) -> None:
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"gateway shutting down")
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()
        await self.live.close()

    async def _follow(self) -> None:
        assert self._consumer is not None
        codec = catalog()
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for msgs in batches.values():
                for msg in msgs:
                    try:
                        _, event = codec.decode(msg.value, expect="PoolUpdated")
                    except DecodeError as exc:
                        log.warning("skipping undecodable pool update at %s: %s", msg.offset, exc)
                        continue
                    view = public_pool_view(event)
                    for client in self.clients:
                        if client.wants(view):
                            client.offer(view)

    # -------------------------------------------------------------- http side
    async def ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=64 * 1024)
        await ws.prepare(request)
        wanted = request.query.get("jackpot")
        client = Client(ws, set(wanted.split(",")) if wanted else None)
        self.clients.add(client)
        pump = asyncio.create_task(client.pump())
        try:
            pools = await self.live.pools(None)
            snapshot = [p for p in pools if client.wants(p)]
            await ws.send_str(json.dumps({"type": "snapshot", "pools": snapshot}))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_client_message(client, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.clients.discard(client)
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        return ws

    async def _on_client_message(self, client: Client, data: str) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            await client.ws.send_str(json.dumps({"type": "error", "reason": "message is not JSON"}))
            return
        if msg.get("type") == "subscribe":
            jackpots = msg.get("jackpots")
            client.jackpots = set(jackpots) if jackpots else None
            pools = [p for p in await self.live.pools(None) if client.wants(p)]
            await client.ws.send_str(json.dumps({"type": "snapshot", "pools": pools}))

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "clients": len(self.clients)})

    async def readiness(self, request: web.Request) -> web.Response:
        if not self.ready.is_set():
            return web.json_response({"status": "starting"}, status=503)
        return web.json_response({"status": "ready"})

    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")


def create_gateway(settings: Settings) -> web.Application:
    gw = TickerGateway(settings)
    app = web.Application()
    app["gateway"] = gw
    app.on_startup.append(gw.start)
    app.on_shutdown.append(gw.stop)
    app.router.add_get("/", gw.index)
    app.router.add_get("/ws", gw.ws_handler)
    app.router.add_get("/health", gw.health)
    app.router.add_get("/ready", gw.readiness)
    app.router.add_static("/static/", STATIC)
    return app
