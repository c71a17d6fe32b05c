"""What a player sees of a jackpot besides its tickers (spec: Jackpot Detail Page, Content Manager).

- ``GET /api/jackpots/{jackpot}/presentation?lang=ro``: the theme and the texts of one language
  (the default language when it has none), static variables filled in ({jackpot_name},
  {min_bet}, {max_amount}); live ones ({current_amount}, {time_remaining}, {player_name},
  {win_amount}) are left for the page, which has them.
- ``GET /api/jackpots/{jackpot}/games?currency=EUR``: "Best Odds" sort, the participating games
  ranked by contribution coefficient x average bet x active players over the last hour (the
  spec's formula), with the figures behind it; games that cannot trigger a drop come last.
- ``GET /api/jackpots/{jackpot}/journey?currency=EUR`` with ``Authorization: Bearer <player
  token>``: "My Jackpot Journey": the player's contribution, qualifying spins, time chasing,
  rank among the jackpot's players and the levels their last bet is eligible for. The token is
  an HS256 JWT the operator's platform signs for the logged-in player (``sub`` = player id, an
  ``exp`` required) with ``JACKPOT_PLAYER_TOKEN_SECRET``; without that secret the journey is off.

Ledger figures come from two SECURITY DEFINER functions (migration 0016), so the gateway's
read-only database role gets aggregates for one jackpot or one player, never the ledger itself.
Answers are cached a few seconds per jackpot and currency (per player for the journey).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from decimal import Decimal
from typing import Any

import asyncpg
import jwt
from aiohttp import web

from jackpot.settings import Settings

from .admin import problems
from .admin.problems import Problem
from .directory import Directory

log = logging.getLogger(__name__)
CACHE_S = 5.0
ODDS_WINDOW = dt.timedelta(hours=1)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
STATIC_VARIABLES = ("jackpot_name", "min_bet", "max_amount")
Q = Decimal("0.01")


def _money(v: Any) -> str:
    return format(Decimal(v or 0).quantize(Decimal("0.000001")), "f")


def fill(text: str | None, values: dict[str, str]) -> str | None:
    """Replace the static {variables} the spec lists; unknown ones stay for the page."""
    if text is None:
        return None
    for k, v in values.items():
        text = text.replace("{" + k + "}", v)
    return text


def best_odds(doc: dict, rows: list[dict]) -> list[dict]:
    """The games of a jackpot config ranked by coefficient x average bet x active players."""
    seen = {r["game_id"]: r for r in rows}
    out = []
    for g in doc.get("games") or []:
        r = seen.get(g["game_id"], {})
        coefficient = Decimal(str(g.get("coefficient", "1")))
        avg_bet = Decimal(r.get("avg_bet") or 0)
        players = int(r.get("players") or 0)
        eligible = bool(g.get("trigger_eligible", True))
        out.append({"game_id": g["game_id"], "name": g.get("name") or g["game_id"], "trigger_eligible": eligible,
                    "coefficient": format(coefficient, "f"), "avg_bet": _money(avg_bet), "active_players": players,
                    "score": format((coefficient * avg_bet * players).quantize(Q), "f") if eligible else "0.00"})
    out.sort(key=lambda x: (not x["trigger_eligible"], -Decimal(x["score"]), x["game_id"]))
    return out


def eligible_levels(doc: dict, currency: str, last_bet: Decimal | None) -> list[dict]:
    """Per level (display order), whether a bet of ``last_bet`` is within its bet limits."""
    out = []
    for lv in sorted(doc.get("levels") or [], key=lambda x: x.get("display_order", 0)):
        amounts = (lv.get("currency_amounts") or {}).get(currency) or lv
        lo, hi = Decimal(str(amounts.get("min_bet") or 0)), Decimal(str(amounts.get("max_bet") or 0))
        ok = last_bet is not None and last_bet >= lo and (hi == 0 or last_bet <= hi)
        name = "?" if doc.get("type") == "MYSTERY" else lv.get("name")
        out.append({"level": name, "eligible": ok})
    return out


class PlayerViews:
    def __init__(self, settings: Settings, directory: Directory) -> None:
        self.dsn = settings.database_url
        self.secret = settings.player_token_secret
        if self.secret and len(self.secret.encode()) < 32:  # RFC 7518 3.2: at least the hash's size
            if settings.production:
                raise ValueError("JACKPOT_PLAYER_TOKEN_SECRET must be at least 32 bytes")
            log.warning("JACKPOT_PLAYER_TOKEN_SECRET is shorter than 32 bytes: a production gateway refuses it")
        self.directory = directory
        self.pool: asyncpg.Pool | None = None
        self._cache: dict[tuple, tuple[float, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/jackpots/{jackpot}/presentation", self.presentation)
        app.router.add_get("/api/jackpots/{jackpot}/games", self.games)
        app.router.add_get("/api/jackpots/{jackpot}/journey", self.journey)
        app.on_cleanup.append(self._close)

    async def _close(self, _: web.Application) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def _pool(self) -> asyncpg.Pool:
        """Connect on first use: the gateway keeps serving tickers while PostgreSQL is down."""
        if self.pool is None:
            pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=4)
            if self.pool is None:
                self.pool = pool
            else:
                await pool.close()
        return self.pool

    async def _cached(self, key: tuple, load) -> Any:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        if len(self._cache) > 10_000:  # keys come from requests: bound them
            self._cache.clear()
        try:
            value = await load(await self._pool())
        except (OSError, asyncpg.PostgresError) as exc:
            raise Problem(503, "unavailable", f"not readable right now ({type(exc).__name__})",
                          headers={"Retry-After": "5"}) from None
        self._cache[key] = (now, value)
        return value

    def _jackpot(self, request: web.Request) -> tuple[str, dict]:
        jid = self.directory.resolve(request.match_info["jackpot"])
        if jid not in self.directory.public:
            raise Problem(404, "unknown-jackpot", f"no public jackpot {request.match_info['jackpot']!r}")
        return jid, self.directory.raw[jid]

    @staticmethod
    def _currency(request: web.Request, doc: dict) -> str:
        currencies = list(doc.get("currencies") or [])
        cur = request.query.get("currency") or (currencies[0] if currencies else "")
        if not CURRENCY_RE.match(cur) or cur not in currencies:
            raise Problem(400, "bad-currency", f"currency must be one of {', '.join(currencies)}")
        return cur

    async def _answer(self, request: web.Request, handler) -> web.Response:
        try:
            return await handler()
        except Problem as p:
            return problems.response(p, request.path, request.headers.get("X-Request-Id", "-"))

    # ------------------------------------------------------------------ presentation
    async def presentation(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            jid, doc = self._jackpot(request)
            lang = request.query.get("lang")
            if lang is not None and not LANG_RE.match(lang):
                raise Problem(400, "bad-language", "lang must be a language code such as en or ro")
            row = await self._cached(("presentation", jid), lambda pool: pool.fetchval(
                "SELECT presentation FROM admin_jackpots WHERE jackpot_id = $1", jid))
            pres = _json(row) or {}
            content = pres.get("content") or {}
            default = pres.get("default_language") or "en"
            chosen = lang if lang in content else default
            texts = dict(content.get(chosen) or {"title": doc.get("name")})
            levels = doc.get("levels") or []
            top = max(levels, key=lambda lv: Decimal(str(lv.get("win_max", 0))), default={})
            min_bet = min((Decimal(str(lv.get("min_bet") or 0)) for lv in levels), default=Decimal(0))
            values = {"jackpot_name": str(doc.get("name", "")), "min_bet": format(min_bet, "f"),
                      "max_amount": str(top.get("win_max", ""))}
            theme = dict(pres.get("theme") or {})
            if doc.get("type") == "MYSTERY":
                theme.pop("level_visuals", None)  # a mystery jackpot names no level (gateway/mystery.py)
            body = {"jackpot_id": jid, "language": chosen, "languages": sorted(content) or [default],
                    "theme": theme, "texts": {k: fill(v, values) for k, v in texts.items()},
                    "variables": {"filled": list(STATIC_VARIABLES),
                                  "for_the_page": ["current_amount", "time_remaining", "player_name", "win_amount",
                                                   "level_name"]}}
            return web.json_response(body, headers={"Cache-Control": "public, max-age=30", "Content-Language": chosen})
        return await self._answer(request, handle)

    # ------------------------------------------------------------------ best odds
    async def games(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            jid, doc = self._jackpot(request)
            cur = self._currency(request, doc)
            since = dt.datetime.now(dt.timezone.utc) - ODDS_WINDOW
            rows = await self._cached(("games", jid, cur), lambda pool: pool.fetch(
                "SELECT * FROM game_odds($1, $2, $3)", jid, cur, since))
            return web.json_response({"jackpot_id": jid, "currency": cur, "window_minutes": 60,
                                      "sort": "coefficient x average bet x active players",
                                      "games": best_odds(doc, [dict(r) for r in rows])},
                                     headers={"Cache-Control": "public, max-age=5"})
        return await self._answer(request, handle)

    # ------------------------------------------------------------------ journey
    def player(self, request: web.Request) -> str:
        if not self.secret:
            raise Problem(404, "journey-disabled", "player journeys are not enabled on this gateway")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise Problem(401, "unauthorized", "a player token is required (Authorization: Bearer ...)",
                          headers={"WWW-Authenticate": 'Bearer realm="jackpot-player"'})
        try:
            claims = jwt.decode(auth[7:].strip(), self.secret, algorithms=["HS256"],
                                options={"require": ["sub", "exp"]}, leeway=5)
        except jwt.PyJWTError as exc:
            raise Problem(401, "unauthorized", f"the player token is not valid ({type(exc).__name__})",
                          headers={"WWW-Authenticate": 'Bearer realm="jackpot-player"'}) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 0 < len(sub) <= 128:
            raise Problem(401, "unauthorized", "the player token names no player")
        return sub

    async def journey(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            player = self.player(request)
            jid, doc = self._jackpot(request)
            cur = self._currency(request, doc)
            row = await self._cached(("journey", jid, cur, player), lambda pool: pool.fetchrow(
                "SELECT * FROM player_journey($1, $2, $3)", jid, player, cur))
            spins = int(row["spins"] or 0)
            seconds = int(row["chasing_seconds"] or 0)
            last = Decimal(row["last_bet_amount"]) if row["last_bet_amount"] is not None else None
            body = {"jackpot_id": jid, "currency": cur, "participated": spins > 0,
                    "contribution": _money(row["contributed"]), "qualifying_spins": spins,
                    "time_chasing_seconds": seconds, "time_chasing": f"{seconds // 3600}h {seconds % 3600 // 60}m",
                    "rank": int(row["rank"]) if spins else None, "players": int(row["players"] or 0),
                    "eligible": eligible_levels(doc, cur, last)}
            return web.json_response(body, headers={"Cache-Control": "private, max-age=5"})
        return await self._answer(request, handle)


def _json(v: Any) -> Any:
    import json

    return json.loads(v) if isinstance(v, str) else v


def player_token(secret: str, player_id: str, ttl_s: int = 3600) -> str:
    """A player token as the operator's platform would sign it (tests, the demo, ``jackpot player-token``)."""
    now = int(time.time())
    return jwt.encode({"sub": player_id, "iat": now, "exp": now + ttl_s}, secret, algorithm="HS256")
