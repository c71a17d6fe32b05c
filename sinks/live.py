"""Live values in Redis: what a ticker shows on connect, derived only from events.

Layout (all derived, all rebuildable from the topics):
  ``jp:pools:{jackpot_id}``  hash  ``{level_id}:{currency}`` -> JSON of the public pool view
Only public fields are stored (visible amount, display state); the internal amount
and the win target never reach Redis, which the player-facing gateway reads.

Writes are compare-and-set on the pool's sequence number, so a replayed, older
PoolUpdated can never move a ticker backwards.
"""

from __future__ import annotations

import json
from typing import Callable

import redis.asyncio as aioredis

from jackpot.engine.privacy import mask_player

POOLS_KEY = "jp:pools:{jackpot_id}"

# KEYS[1] = hash, ARGV = field, sequence, json ... (triples)
_CAS_SCRIPT = """
local n = 0
for i = 1, #ARGV, 3 do
  local field, seq, doc = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local cur = redis.call('HGET', KEYS[1], field)
  local cur_seq = -1
  if cur then cur_seq = tonumber(cjson.decode(cur)['sequence']) end
  if seq > cur_seq then
    redis.call('HSET', KEYS[1], field, doc)
    n = n + 1
  end
end
return n
"""


def public_pool_view(event: dict) -> dict:
    """The fields of a PoolUpdated a player may see."""
    return {
        "jackpot_id": event["jackpot_id"],
        "level_id": event["level_id"],
        "currency": event["currency"],
        "visible_amount": str(event["visible_amount"]),
        "state": event["state"],
        "sequence": event["sequence"],
        "timestamp": int(event["timestamp"].timestamp() * 1000),
    }


class _LivePools:
    """Pool tickers (the walking skeleton's part)."""

    def __init__(self, url: str, namespace: str = "") -> None:
        """``namespace`` prefixes every key (pass the topic prefix, so deployments or test
        sessions sharing one Redis never see each other's values)."""
        self.redis = aioredis.from_url(url, decode_responses=True)
        self._cas = self.redis.register_script(_CAS_SCRIPT)
        self.ns = namespace

    def k(self, key: str) -> str:
        return f"{self.ns}{key}"

    async def close(self) -> None:
        await self.redis.aclose()

    async def apply_pool_updates(self, events: list[dict]) -> int:
        by_key: dict[str, list[str]] = {}
        for e in events:
            view = public_pool_view(e)
            args = by_key.setdefault(self.k(POOLS_KEY.format(jackpot_id=e["jackpot_id"])), [])
            args += [f"{e['level_id']}:{e['currency']}", str(view["sequence"]), json.dumps(view)]
        written = 0
        for key, args in by_key.items():
            written += await self._cas(keys=[key], args=args)
        return written

    async def pools(self, jackpot_id: str | None = None) -> list[dict]:
        if jackpot_id is not None:
            keys = [self.k(POOLS_KEY.format(jackpot_id=jackpot_id))]
        else:
            keys = [k async for k in self.redis.scan_iter(match=self.k(POOLS_KEY.format(jackpot_id="*")))]
        out = []
        for key in sorted(keys):
            for doc in (await self.redis.hgetall(key)).values():
                out.append(json.loads(doc))
        return out


# ----------------------------------------------------------------------------- wins, warn, state
# Layout (continued; all public, all derived from the outbound topics):
#   ``jp:wins:recent``           list   newest first, JSON of the public win view (capped)
#   ``jp:wins:seen:{day}``       set    event ids already applied that UTC day (replays are no-ops; expires)
#   ``jp:day:{YYYY-MM-DD}``      hash   ``wins`` -> count, ``paid:{currency}`` -> micros (UTC day)
#   ``jp:warn:{jackpot_id}``     hash   ``{level_id}:{currency}`` -> JSON {warn_state, cycle_number}
#   ``jp:state:{jackpot_id}``    hash   ``{level_id or '*'}`` -> JSON {state, timestamp}
#   ``jp:players``               hash   ``{jackpot_id}`` -> JSON {count, as_of}
WINS_RECENT = "jp:wins:recent"
WINS_SEEN = "jp:wins:seen:{day}"
DAY_KEY = "jp:day:{day}"
WARN_KEY = "jp:warn:{jackpot_id}"
STATE_KEY = "jp:state:{jackpot_id}"
PLAYERS_KEY = "jp:players"
LEADERS_KEY = "jp:leaders"
EPOCH_KEY = "jp:epoch"  # set once Redis holds the rebuilt values; gone after a restart without data
RECENT_WINS_KEPT = 100
WARN_RANK = {"calm": 0, "heating": 1, "on_fire": 2, "must_drop": 3}

# KEYS[1] seen set, KEYS[2] recent list, KEYS[3] day hash; ARGV event_id, doc, currency, micros, keep
_WIN_SCRIPT = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('HINCRBY', KEYS[3], 'wins', 1)
redis.call('HINCRBY', KEYS[3], 'paid:' .. ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[3], 3 * 86400)
redis.call('EXPIRE', KEYS[1], 3 * 86400)
return 1
"""

# KEYS[1] warn hash; ARGV field, cycle, rank, doc. A later cycle always wins; within a cycle the
# state only moves up (a replayed, older event can never lower a badge).
_WARN_SCRIPT = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local c = cjson.decode(cur)
  local cyc, rank = tonumber(ARGV[2]), tonumber(ARGV[3])
  if cyc < c['cycle_number'] or (cyc == c['cycle_number'] and rank <= c['rank']) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
return 1
"""


def _ms(ts) -> int:
    return int(ts.timestamp() * 1000) if hasattr(ts, "timestamp") else int(ts)


def public_win_view(event: dict) -> dict:
    """The fields of a JackpotWon a player may see (masked winners, no player ids)."""
    return {
        "event_id": str(event["event_id"]),
        "jackpot_id": event["jackpot_id"],
        "level_id": event["level_id"],
        "currency": event["currency"],
        "amount": str(event["win_amount"]),
        "winner": mask_player(event["winner_player_id"]),
        "game_id": event["winner_game_id"],
        "cycle_number": event.get("cycle_number"),
        "chain": [{"rank": c["rank"], "winner": mask_player(c["player_id"]), "amount": str(c["amount"])}
                  for c in event.get("chain_reaction_winners") or []],
        "timestamp": _ms(event["timestamp"]),
    }


def public_leaders_view(leaders: dict) -> dict:
    """The top contributors a player may see: rank, masked name, bets, amount (no player ids)."""
    return {"by_currency": {cur: [{"rank": i, "player": mask_player(c["player_id"]), "bets": int(c["bets"]),
                                   "contributed": str(c["contributed"])} for i, c in enumerate(board, 1)]
                            for cur, board in leaders.items()}}


def public_warn_view(jackpot_id: str, level_id: str, currency: str, warn_state: str, cycle: int) -> dict:
    return {"jackpot_id": jackpot_id, "level_id": level_id, "currency": currency,
            "warn_state": warn_state, "cycle_number": int(cycle)}


def public_state_view(event: dict) -> dict:
    """JackpotStateChanged without the operator id or reason (internal)."""
    return {"jackpot_id": event["jackpot_id"], "level_id": event.get("level_id"),
            "state": event["new_state"], "timestamp": _ms(event["timestamp"])}


def _micros(amount) -> int:
    from decimal import Decimal

    return int((Decimal(str(amount)) * 1_000_000).to_integral_value())


class _LiveExtras:
    """Mixed into LiveValues: the writes the worker's live sink makes per event type."""

    redis: aioredis.Redis
    k: "Callable[[str], str]"

    async def apply_wins(self, events: list[dict]) -> int:
        """JackpotWon events: recent-winners feed and today's counters, once per event id."""
        script = self.redis.register_script(_WIN_SCRIPT)
        n = 0
        for e in events:
            view = public_win_view(e)
            day = _day(view["timestamp"])
            total = _micros(e["win_amount"]) + sum(_micros(c["amount"]) for c in e.get("chain_reaction_winners") or [])
            n += await script(keys=[self.k(WINS_SEEN.format(day=day)), self.k(WINS_RECENT), self.k(DAY_KEY.format(day=day))],
                              args=[view["event_id"], json.dumps(view), e["currency"], str(total), str(RECENT_WINS_KEPT)])
        return n

    async def apply_warn_states(self, changes: list[dict]) -> int:
        """Warn badges. Each item: jackpot_id, level_id, currency, warn_state (calm, heating,
        on_fire, must_drop), cycle_number. WarnThresholdReached means ``heating``; a
        JackpotReseeded means ``calm`` for its new cycle (see ``warn_changes_from_event``)."""
        script = self.redis.register_script(_WARN_SCRIPT)
        n = 0
        for c in changes:
            view = public_warn_view(c["jackpot_id"], c["level_id"], c["currency"], c["warn_state"], c["cycle_number"])
            doc = dict(view, rank=WARN_RANK.get(view["warn_state"], 0))
            n += await script(keys=[self.k(WARN_KEY.format(jackpot_id=c["jackpot_id"]))],
                              args=[f"{c['level_id']}:{c['currency']}", str(view["cycle_number"]),
                                    str(doc["rank"]), json.dumps(doc)])
        return n

    async def apply_state_changes(self, events: list[dict]) -> int:
        """JackpotStateChanged events: the latest state per jackpot (field ``*``) and per level."""
        n = 0
        for e in events:
            view = public_state_view(e)
            key = self.k(STATE_KEY.format(jackpot_id=e["jackpot_id"]))
            field = view["level_id"] or "*"
            cur = await self.redis.hget(key, field)
            if cur is None or json.loads(cur)["timestamp"] <= view["timestamp"]:
                await self.redis.hset(key, field, json.dumps(view))
                n += 1
        return n

    async def apply_active_players(self, events: list[dict]) -> int:
        """ActivePlayers events -> the players-chasing counts and the leaderboards (newest per jackpot)."""
        newest: dict[str, dict] = {}
        for ev in events:
            at = _ms(ev["timestamp"])
            if ev["jackpot_id"] not in newest or _ms(newest[ev["jackpot_id"]]["timestamp"]) <= at:
                newest[ev["jackpot_id"]] = ev
        for jid, ev in newest.items():
            at = _ms(ev["timestamp"])
            await self.set_active_players({jid: int(ev["total"])}, at)
            await self._set_newest(LEADERS_KEY, {jid: public_leaders_view(ev.get("leaders") or {})}, at)
        return len(newest)

    async def set_active_players(self, counts: dict[str, int], as_of_ms: int) -> None:
        """Players chasing each jackpot (the engine's active-player window), newest wins."""
        await self._set_newest(PLAYERS_KEY, {jid: {"count": int(n)} for jid, n in counts.items()}, as_of_ms)

    async def _set_newest(self, key: str, docs: dict[str, dict], as_of_ms: int) -> None:
        """Hash fields that hold the latest reading only: an older one (a replay) never overwrites."""
        if not docs:
            return
        current = await self.redis.hmget(self.k(key), list(docs))
        mapping = {}
        for (field, doc), cur in zip(docs.items(), current):
            if cur is None or json.loads(cur)["as_of"] <= as_of_ms:
                mapping[field] = json.dumps(dict(doc, as_of=int(as_of_ms)))
        if mapping:
            await self.redis.hset(self.k(key), mapping=mapping)

    # -------------------------------------------------------------------- reads (gateway)
    async def recent_wins(self, limit: int = 50) -> list[dict]:
        return [json.loads(d) for d in await self.redis.lrange(self.k(WINS_RECENT), 0, limit - 1)]

    async def warn_states(self) -> list[dict]:
        out = []
        async for key in self.redis.scan_iter(match=self.k(WARN_KEY.format(jackpot_id="*"))):
            for doc in (await self.redis.hgetall(key)).values():
                d = json.loads(doc)
                d.pop("rank", None)
                out.append(d)
        return out

    async def states(self) -> list[dict]:
        out = []
        async for key in self.redis.scan_iter(match=self.k(STATE_KEY.format(jackpot_id="*"))):
            out.extend(json.loads(d) for d in (await self.redis.hgetall(key)).values())
        return out

    async def active_players(self) -> dict[str, int]:
        return {k: json.loads(v)["count"] for k, v in (await self.redis.hgetall(self.k(PLAYERS_KEY))).items()}

    async def leaders(self) -> dict[str, dict]:
        """Per jackpot: ``{"by_currency": {currency: [public contributor view]}, "as_of": ms}``."""
        return {k: json.loads(v) for k, v in (await self.redis.hgetall(self.k(LEADERS_KEY))).items()}

    async def today(self, now_ms: int) -> dict:
        raw = await self.redis.hgetall(self.k(DAY_KEY.format(day=_day(now_ms))))
        paid = {k.split(":", 1)[1]: str(_from_micros(int(v))) for k, v in raw.items() if k.startswith("paid:")}
        return {"won_today": int(raw.get("wins", 0)), "paid_today": paid}


def _day(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d")


def _from_micros(m: int):
    from decimal import Decimal

    return (Decimal(m) / 1_000_000).quantize(Decimal("0.01"))


def warn_changes_from_event(name: str, event: dict) -> list[dict]:
    """The warn-badge changes an outbound event implies (for the worker's sink and the gateway)."""
    if name == "WarnThresholdReached":
        state = "heating"
    elif name == "JackpotReseeded":
        state = "calm"
    elif name == "WarnStateChanged":
        state = event["new_state"]
    else:
        return []
    return [{"jackpot_id": event["jackpot_id"], "level_id": event["level_id"], "currency": event["currency"],
             "warn_state": state, "cycle_number": event["cycle_number"]}]


class LiveValues(_LivePools, _LiveExtras):
    """Every live value the gateway reads; the worker's live sink is the only writer."""

    async def needs_rebuild(self) -> bool:
        """True when this Redis has lost (or never had) the values: the rebuild marker is missing."""
        return not await self.redis.exists(self.k(EPOCH_KEY))

    async def rebuild(self, events: dict[str, list[dict]], at_ms: int) -> int:
        """Write values derived from PostgreSQL (``sinks.rebuild.as_events``), then the marker."""
        n = await self.apply_pool_updates(events["pools"])
        n += await self.apply_warn_states(events["warns"])
        n += await self.apply_wins(events["wins"])
        n += await self.apply_state_changes(events["states"])
        await self.redis.set(self.k(EPOCH_KEY), str(at_ms))
        return n
