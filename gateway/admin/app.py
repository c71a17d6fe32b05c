"""The admin aiohttp application: routes, the OpenAPI document, health and readiness."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from jackpot.settings import Settings
from jackpot.sinks.audit import require_key

from . import access, approvals, budget, campaigns, configuration, controls, monitoring, payouts, reporting, simulations  # noqa: F401  (register routes)
from . import models as m
from .api import SERVICES, Ctx, problem_middleware
from .registry import api
from .services import Services

_OPENAPI_CACHE: dict[str, bytes] = {}


@api.op("GET", "/v1/me", summary="Who the token belongs to: actor, role, brands, permissions", tag="identity",
        response=m.Me)
async def me(ctx: Ctx) -> dict[str, Any]:
    p = ctx.principal
    return {"actor": p.actor, "role": p.role.value, "brands": sorted(p.brands), "all_brands": p.all_brands,
            "permissions": sorted(x.value for x in p.permissions)}


@api.op("GET", "/health", summary="Liveness", tag="health", public=True, response=m.Health)
async def health(ctx: Ctx) -> dict[str, Any]:
    return {"status": "ok"}


@api.op("GET", "/ready", summary="Readiness: database, Kafka and the receipts consumer", tag="health",
        public=True, response=m.Health, extra_statuses={503: m.Health})
async def ready(ctx: Ctx) -> dict[str, Any]:
    checks = await ctx.services.ready()
    ok = all(checks.values())
    if not ok:
        ctx.status = 503
    return {"status": "ok" if ok else "unavailable", "checks": checks}


def openapi_document() -> dict[str, Any]:
    return api.openapi()


async def _openapi(request: web.Request) -> web.Response:
    if "doc" not in _OPENAPI_CACHE:
        _OPENAPI_CACHE["doc"] = json.dumps(openapi_document()).encode()
    return web.Response(body=_OPENAPI_CACHE["doc"], content_type="application/json")


def create_admin_app(settings: Settings, services: Services | None = None) -> web.Application:
    require_key(settings)  # the admin API appends to the audit chain: production needs a strong key
    app = web.Application(middlewares=[problem_middleware], client_max_size=2 * 1024 * 1024)
    services = services or Services(settings)
    app[SERVICES] = services

    async def start(_: web.Application) -> None:
        await services.start()

    async def stop(_: web.Application) -> None:
        await services.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_get("/openapi.json", _openapi)
    api.install(app)
    return app
