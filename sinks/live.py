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

import redis.asyncio as aioredis

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


class LiveValues:
    def __init__(self, url: str) -> None:
        self.redis = aioredis.from_url(url, decode_responses=True)
        self._cas = self.redis.register_script(_CAS_SCRIPT)

    async def close(self) -> None:
        await self.redis.aclose()

    async def apply_pool_updates(self, events: list[dict]) -> int:
        by_key: dict[str, list[str]] = {}
        for e in events:
            view = public_pool_view(e)
            args = by_key.setdefault(POOLS_KEY.format(jackpot_id=e["jackpot_id"]), [])
            args += [f"{e['level_id']}:{e['currency']}", str(view["sequence"]), json.dumps(view)]
        written = 0
        for key, args in by_key.items():
            written += await self._cas(keys=[key], args=args)
        return written

    async def pools(self, jackpot_id: str | None = None) -> list[dict]:
        if jackpot_id is not None:
            keys = [POOLS_KEY.format(jackpot_id=jackpot_id)]
        else:
            keys = [k async for k in self.redis.scan_iter(match=POOLS_KEY.format(jackpot_id="*"))]
        out = []
        for key in sorted(keys):
            for doc in (await self.redis.hgetall(key)).values():
                out.append(json.loads(doc))
        return out
