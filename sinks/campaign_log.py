"""The campaign log (``campaign-log``) into PostgreSQL: what the admin API's delivery log and
dry-run preview read.  Each entry is written once by what it is about (``entry_key``), so the
records a crashed campaigns process logs again are skipped."""

from __future__ import annotations

from typing import Any

import orjson

from jackpot.sinks.ledger import PartitionedWriter

__all__ = ["CampaignLogWriter", "entry_key"]


def entry_key(entry: dict[str, Any]) -> str:
    kind = entry["kind"]
    if kind == "fire":
        return f"fire|{entry.get('fire_id') or entry['rule_id'] + '|' + str(entry.get('event_id'))}"
    if kind == "delivery":
        return f"delivery|{entry['action_id']}"
    # a decision or dry-run report per player, or a dry run's surface action
    return f"{kind}|{entry['fire_id']}|{entry.get('player_id') or entry.get('action_id')}"


class CampaignLogWriter(PartitionedWriter):
    async def write(self, entries: list[dict]) -> int:
        if not entries:
            return 0
        await self.start()
        assert self.pool is not None
        rows = [(entry_key(e), str(e["rule_id"]), str(e["kind"]), e.get("fire_id"), e.get("status"),
                 orjson.dumps(e).decode()) for e in entries]
        async with self.pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO campaign_log (entry_key, rule_id, kind, fire_id, status, doc) "
                "VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (entry_key) DO UPDATE "
                # logged again after a crash: the first outcome stands, unless the action was in the
                # end delivered (a replay sent what a killed or failed attempt had not)
                "SET status = EXCLUDED.status, doc = EXCLUDED.doc "
                "WHERE EXCLUDED.status = 'delivered' AND campaign_log.status IS DISTINCT FROM 'delivered'", rows)
        return len(rows)
