"""The public rules document for players (regulatory item 14), as a small aiohttp sub-application
the public ticker gateway mounts: ``app.add_subapp("/rules/", create_rules_app(settings))`` serves
``GET /rules/{jackpot_id}?lang=ro``.

No authentication (players read it before they bet); only jackpots that were activated (a
published configuration version) are served, never drafts. Errors are problem+json like the
admin API's.
"""

from __future__ import annotations

import json
import re
import uuid

import asyncpg
from aiohttp import web

from jackpot.settings import Settings

from . import problems, rules_document
from .problems import Problem

POOLS: web.AppKey[dict] = web.AppKey("rules_pools", dict)  # {"pool": asyncpg.Pool}, filled on first use
DSN: web.AppKey[str] = web.AppKey("rules_dsn", str)
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


async def rules(request: web.Request) -> web.Response:
    try:
        try:
            jackpot_id = str(uuid.UUID(request.match_info["jackpot_id"]))
        except ValueError:
            raise Problem(404, "not-found", "no such jackpot") from None
        lang = request.query.get("lang")
        if lang is not None and not LANG_RE.match(lang):
            raise Problem(400, "bad-language", "lang must be a language code such as en or ro")
        try:  # the pool connects on its first query: both are where PostgreSQL may be down
            pool = await _pool(request.app)
            row = await pool.fetchrow(
                "SELECT v.config, v.status, a.presentation FROM jackpot_configs c "
                "JOIN jackpot_config_versions v ON v.jackpot_id = c.jackpot_id AND v.version = c.current_version "
                "LEFT JOIN admin_jackpots a ON a.jackpot_id = c.jackpot_id WHERE c.jackpot_id = $1", jackpot_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise Problem(503, "unavailable", f"the rules are not readable right now ({type(exc).__name__})",
                          headers={"Retry-After": "5"}) from None
        if row is None or row["status"] in ("DRAFT", "ARCHIVED"):
            raise Problem(404, "not-found", "no such jackpot")
        config = json.loads(row["config"]) if isinstance(row["config"], str) else row["config"]
        presentation = json.loads(row["presentation"]) if row["presentation"] else {}
        langs = rules_document.languages(presentation)
        lang = lang or presentation.get("default_language") or "en"
        if lang not in langs:
            lang = presentation.get("default_language") or "en"  # players get the default, not an error
        doc = rules_document.build(config, presentation, lang)
        return web.json_response(doc, headers={"Cache-Control": "public, max-age=60", "Content-Language": lang})
    except Problem as p:
        return problems.response(p, request.path, request.headers.get("X-Request-Id", "-"))


async def _pool(app: web.Application) -> asyncpg.Pool:
    """Connect on first use: the ticker gateway that mounts this must start (and keep serving
    tickers from Redis) while PostgreSQL is down."""
    holder = app[POOLS]
    pool = holder.get("pool")
    if pool is None:
        pool = await asyncpg.create_pool(app[DSN], min_size=0, max_size=4)
        if holder.get("pool") is None:
            holder["pool"] = pool
        else:
            await pool.close()
            pool = holder["pool"]
    return pool


def create_rules_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[DSN] = settings.database_url
    app[POOLS] = {}

    async def stop(_: web.Application) -> None:
        if app[POOLS].get("pool") is not None:
            await app[POOLS]["pool"].close()

    app.on_cleanup.append(stop)
    app.router.add_get("/{jackpot_id}", rules)
    return app
