"""The engine-event sink: every engine event into PostgreSQL, in batches, exactly once.

A batch is COPYed into a staging table and inserted into the raw journal ``engine_events``
with ``ON CONFLICT DO NOTHING`` on the event id; only the events that were new (``RETURNING``)
are then projected into the typed tables (cycles, wins, prizes, reseeds, warn changes,
operator actions, approvals, pool snapshots, alerts) and, for the audit-relevant ones, appended
to the hash-chained audit trail, all in the same transaction. A replayed batch therefore adds
nothing anywhere, and a half-written batch cannot exist. The typed projections are themselves
idempotent (``ON CONFLICT`` on event ids, or forward-only status updates), so even a journal
that was pruned would not double a row.

Input: EngineEvent dicts (``EngineEvent.to_dict()``: money int micros, times epoch ms), or the
Avro records of the wire (``from_avro``). Money goes out as NUMERIC(20,6): micros / 10^6, exact.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from jackpot.engine.money import to_micros

from . import audit, metrics
from .ledger import PartitionedWriter

log = logging.getLogger(__name__)

__all__ = [
    "AUDITED",
    "EventSink",
    "Ev",
    "from_avro",
    "normalise",
    "project",
    "money",
]

# Events kept in the hash-chained audit trail (besides the journal): the provably-fair
# records, every operator action, every movement of money that is not a contribution, and
# every state change an inspector asks about.
AUDITED = frozenset({
    "CycleStarted", "CycleRevealed", "WinnerSelected", "WinRecorded", "JackpotWon", "JackpotReseeded",
    "WinVoided", "WinReversed", "PoolAdjusted", "ReserveReleased", "OperatorActionRecorded", "WinApprovalRequested", "WinApprovalDecided",
    "JackpotStateChanged", "PayoutAlert", "DropStarted", "DropAborted", "ContributionRejected",
    "ReconciliationMismatch", "SinkOutage", "ConfigVersionRecorded",
})
ALERT_TYPES = frozenset({
    "PayoutAlert", "WinApprovalEscalated", "PoolAtMax", "PoolApproachingMax", "ContributionRejected",
    "DropDeferred", "CascadeSkipped", "ReconciliationMismatch", "SinkOutage", "BudgetAlert",
})
SPEC_EVENTS = ("PoolUpdated", "JackpotWon", "JackpotReseeded", "WarnThresholdReached", "JackpotStateChanged",
               "PoolApproachingMax")

_STATUS_RANK = {"selected": 1, "won": 2, "returned": 3, "voided": 3, "reversed": 4}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def money(micros: int | None) -> Decimal | None:
    """int micros -> Decimal with exactly six decimals (NUMERIC(20,6))."""
    if micros is None:
        return None
    if type(micros) is not int:
        raise TypeError(f"money must be int micros, got {micros!r}")
    return Decimal(micros).scaleb(-6)


def ts(ms: int | None) -> dt.datetime | None:
    if ms is None:
        return None
    return _EPOCH + dt.timedelta(milliseconds=int(ms))


def _ms(value: Any) -> int:
    if isinstance(value, dt.datetime):
        return (value - _EPOCH) // dt.timedelta(milliseconds=1)
    return int(value)


# ------------------------------------------------------------------ input forms
def _avro_value(v: Any) -> Any:
    """Avro logical values -> the engine's JSON forms (Decimal -> micros, datetime -> ms, UUID -> str)."""
    if isinstance(v, Decimal):
        return to_micros(v)
    if isinstance(v, dt.datetime):
        return _ms(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, list):
        return [_avro_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _avro_value(x) for k, x in v.items()}
    return v


def from_avro(schema_name: str, record: dict) -> dict:
    """A decoded wire record (``catalog().decode()``) -> an EngineEvent dict.

    ``JackpotEvent`` envelopes (jackpot-events, audit-events) carry the engine payload as JSON;
    the spec events (PoolUpdated, JackpotWon...) are flat records whose fields are the payload.
    """
    if schema_name == "JackpotEvent":
        return {
            "event_id": str(record["event_id"]),
            # the envelope's own event_type is "JackpotEvent"; ``kind`` names the engine event
            "event_type": record.get("kind") or record["event_type"],
            "event_version": int(record.get("event_version", 1)),
            "timestamp": _ms(record["timestamp"]),
            "jackpot_id": record["jackpot_id"],
            "payload": json.loads(record["payload_json"]),
        }
    payload = {k: _avro_value(v) for k, v in record.items() if k not in ("event_id", "event_version")}
    return {
        "event_id": str(record["event_id"]),
        "event_type": schema_name,
        "event_version": int(record.get("event_version", 1) or 1),
        "timestamp": _ms(record["timestamp"]),
        "jackpot_id": record["jackpot_id"],
        "payload": payload,
    }


@dataclass(slots=True, frozen=True)
class Ev:
    event_id: str
    event_type: str
    event_version: int
    ms: int
    jackpot_id: str
    payload: dict[str, Any]

    @property
    def at(self) -> dt.datetime:
        return ts(self.ms)  # type: ignore[return-value]

    @property
    def level_id(self) -> str | None:
        return self.payload.get("level_id")

    @property
    def currency(self) -> str | None:
        return self.payload.get("currency")


def normalise(d: dict) -> Ev:
    """An EngineEvent dict (or an ``EngineEvent``) -> ``Ev``; rejects what cannot be recorded."""
    if hasattr(d, "to_dict"):
        d = d.to_dict()
    if "payload" not in d and "payload_json" in d:
        d = from_avro("JackpotEvent", d)
    payload = d["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    return Ev(str(uuid.UUID(str(d["event_id"]))), d["event_type"], int(d.get("event_version", 1) or 1),
              _ms(d["timestamp"]), d["jackpot_id"], payload)


# ------------------------------------------------------------------ projections
# table -> (INSERT statement with $n placeholders, number of params). Every statement is
# idempotent on its own.
SQL: dict[str, str] = {
    "pool_snapshots": """INSERT INTO pool_snapshots (event_id, snapshot_ts, jackpot_id, level_id, currency,
        cycle_number, current_amount, visible_amount, display_state, sequence)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING""",
    "cycle_started": """INSERT INTO cycles (jackpot_id, level_id, currency, cycle_number, commitment, seed_amount,
        seed_draw, carry_in, started_at, started_event_id)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
        ON CONFLICT (jackpot_id, level_id, currency, cycle_number) DO UPDATE SET
          commitment = EXCLUDED.commitment, started_at = EXCLUDED.started_at,
          started_event_id = EXCLUDED.started_event_id,
          seed_amount = COALESCE(cycles.seed_amount, EXCLUDED.seed_amount),
          seed_draw = COALESCE(cycles.seed_draw, EXCLUDED.seed_draw),
          carry_in = COALESCE(cycles.carry_in, EXCLUDED.carry_in)""",
    "cycle_revealed": """INSERT INTO cycles (jackpot_id, level_id, currency, cycle_number, commitment, seed_amount,
        seed_draw, carry_in, started_at, revealed_seed, win_target, final_win_target, warn_threshold,
        fire_threshold, evaluation_delay, ranges, retargets, drops, revealed_at, revealed_event_id)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)
        ON CONFLICT (jackpot_id, level_id, currency, cycle_number) DO UPDATE SET
          commitment = EXCLUDED.commitment, seed_amount = EXCLUDED.seed_amount,
          seed_draw = EXCLUDED.seed_draw, carry_in = EXCLUDED.carry_in,
          started_at = COALESCE(cycles.started_at, EXCLUDED.started_at),
          revealed_seed = EXCLUDED.revealed_seed, win_target = EXCLUDED.win_target,
          final_win_target = EXCLUDED.final_win_target, warn_threshold = EXCLUDED.warn_threshold,
          fire_threshold = EXCLUDED.fire_threshold, evaluation_delay = EXCLUDED.evaluation_delay,
          ranges = EXCLUDED.ranges, retargets = EXCLUDED.retargets, drops = EXCLUDED.drops,
          revealed_at = EXCLUDED.revealed_at, revealed_event_id = EXCLUDED.revealed_event_id""",
    "reseeds": """INSERT INTO reseeds (event_id, reseeded_at, jackpot_id, level_id, currency, cycle_number,
        new_seed_amount, commitment) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING""",
    "win_selected": """INSERT INTO wins (win_id, jackpot_id, level_id, currency, cycle_number, drop_number, drop_kind,
        selection_method, distribution_mode, trigger_bet_id, win_amount, winner_player_id, winner_game_id,
        winner_brand_id, status, status_rank, dropped_at, selected_event_id)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,'selected',1,$15,$16)
        ON CONFLICT (win_id) DO NOTHING""",
    "win_won": """INSERT INTO wins (win_id, jackpot_id, level_id, currency, cycle_number, drop_kind, selection_method,
        trigger_bet_id, win_amount, winner_player_id, winner_game_id, winner_brand_id, returned_amount,
        status, status_rank, dropped_at, won_at)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,'won',2,$14,$15)
        ON CONFLICT (win_id) DO UPDATE SET status = 'won', status_rank = 2, won_at = EXCLUDED.won_at,
          win_amount = EXCLUDED.win_amount, returned_amount = EXCLUDED.returned_amount,
          winner_player_id = EXCLUDED.winner_player_id, winner_game_id = EXCLUDED.winner_game_id,
          winner_brand_id = EXCLUDED.winner_brand_id
        WHERE wins.status_rank < 2""",
    "win_voided": """UPDATE wins SET status = CASE WHEN status_rank < 2 THEN 'voided' ELSE status END,
        status_rank = GREATEST(status_rank, 3), voided_at = COALESCE(voided_at, $2),
        void_reason = COALESCE(void_reason, $3) WHERE win_id = $1""",
    "hits": """INSERT INTO hits (event_id, hit_at, jackpot_id, level_id, currency, cycle_number, win_amount,
        winner_player_id, winner_game_id, winner_brand_id, trigger_bet_id)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING""",
    "prizes": """INSERT INTO prizes (win_id, kind, rank, jackpot_id, level_id, currency, player_id, brand_id, game_id,
        amount, tax_amount, net_amount)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
        ON CONFLICT (win_id, kind, rank) DO UPDATE SET
          amount = EXCLUDED.amount, player_id = EXCLUDED.player_id,
          tax_amount = COALESCE(EXCLUDED.tax_amount, prizes.tax_amount),
          net_amount = COALESCE(EXCLUDED.net_amount, prizes.net_amount),
          brand_id = COALESCE(EXCLUDED.brand_id, prizes.brand_id),
          game_id = COALESCE(EXCLUDED.game_id, prizes.game_id)""",
    # the payout state follows the latest CreditUpdated by time (ties: the later event in the
    # batch wins on first write; a replayed older event never overrides a newer one)
    "prize_status": """INSERT INTO prizes (win_id, kind, rank, jackpot_id, level_id, currency, player_id, amount,
        idempotency_key, payout_status, payout_attempt, status_at, status_event_id)
        VALUES ($1,$2,$3,$4,$5,$6,$7,0,$8,$9,$10,$11,$12)
        ON CONFLICT (win_id, kind, rank) DO UPDATE SET
          idempotency_key = EXCLUDED.idempotency_key, payout_status = EXCLUDED.payout_status,
          payout_attempt = EXCLUDED.payout_attempt, status_at = EXCLUDED.status_at,
          status_event_id = EXCLUDED.status_event_id
        WHERE prizes.status_at IS NULL OR prizes.status_at <= EXCLUDED.status_at""",
    "prize_payout_events": """INSERT INTO prize_payout_events (event_id, changed_at, win_id, kind, rank, player_id,
        idempotency_key, status, attempt) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING""",
    "warn_state_changes": """INSERT INTO warn_state_changes (event_id, changed_at, jackpot_id, level_id, currency,
        cycle_number, kind, old_state, new_state, current_amount)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING""",
    "jackpot_state_changes": """INSERT INTO jackpot_state_changes (event_id, changed_at, jackpot_id, level_id,
        old_state, new_state, changed_by, reason) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING""",
    "pool_adjustments": """INSERT INTO pool_adjustments (event_id, adjusted_at, jackpot_id, level_id, currency,
        cycle_number, amount, reason, actor, note, visible_amount)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING""",
    "win_reversals": """INSERT INTO win_reversals (win_id, event_id, reversed_at, jackpot_id, level_id, currency, amount,
        reason, actor, approvals) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING""",
    "win_reversed": """UPDATE wins SET status = 'reversed', status_rank = 4 WHERE win_id = $1 AND status_rank < 4""",
    "reserve_releases": """INSERT INTO reserve_releases (event_id, released_at, jackpot_id, level_id, currency,
        cycle_number, amount, hidden_amount, carry_amount, pending_amount, reason)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING""",
    "operator_actions": """INSERT INTO operator_actions (event_id, acted_at, jackpot_id, command_id, action, actor,
        approvals, reason, level_id, currency, amount, adjustment_reason, target_level_id, delay_seconds, win_id,
        outcome, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
        ON CONFLICT DO NOTHING""",
    "approval_requested": """INSERT INTO win_approvals (approval_id, win_id, jackpot_id, level_id, currency, kind,
        rank, player_id, amount, threshold, requested_at, expires_at)
        VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING""",
    "approval_decided": """UPDATE win_approvals SET decision = $2, decided_by = $3, decision_reason = $4,
        decided_at = $5 WHERE approval_id = $1 AND decision IS NULL""",
    "approval_escalated": """UPDATE win_approvals SET escalations = escalations + 1 WHERE approval_id = $1
        AND NOT EXISTS (SELECT 1 FROM win_approval_events WHERE event_id = $2)""",
    "win_approval_events": """INSERT INTO win_approval_events (event_id, at, approval_id, win_id, event_type, actor,
        decision, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT DO NOTHING""",
    "alerts": """INSERT INTO alerts (event_id, raised_at, jackpot_id, alert_type, level_id, currency, detail)
        VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING""",
}
# Order of application inside a batch's transaction: rows that others update come first.
ORDER = ("cycle_started", "cycle_revealed", "pool_adjustments", "reserve_releases", "reseeds", "win_selected",
         "prizes", "win_won", "win_voided", "win_reversals", "win_reversed", "hits", "prize_status", "prize_payout_events", "approval_requested",
         "approval_escalated", "win_approval_events", "approval_decided", "warn_state_changes",
         "jackpot_state_changes", "operator_actions", "alerts", "pool_snapshots")


def _uuid(s: str) -> uuid.UUID:
    return uuid.UUID(str(s))


def project(e: Ev) -> list[tuple[str, tuple]]:
    """The typed rows of one event: [(statement key, params)]."""
    p, at, j = e.payload, e.at, e.jackpot_id
    lv, cur = p.get("level_id"), p.get("currency")
    eid = _uuid(e.event_id)
    t = e.event_type
    out: list[tuple[str, tuple]] = []
    if t == "PoolUpdated":
        out.append(("pool_snapshots", (eid, at, j, lv, cur, p.get("cycle_number"), money(p["current_amount"]),
                                       money(p["visible_amount"]), p["state"], p.get("sequence"))))
    elif t == "CycleStarted":
        seed = p["seed_amount"]
        draw = p.get("seed_draw")
        carry = p.get("carry_in")
        if draw is None and carry is not None:
            draw = seed - carry
        out.append(("cycle_started", (j, lv, cur, p["cycle_number"], p["commitment"], money(seed), money(draw),
                                      money(carry), at, eid)))
    elif t == "CycleRevealed":
        out.append(("cycle_revealed", (
            j, lv, cur, p["cycle_number"], p["commitment"], money(p["seed_amount"]), money(p["seed_draw"]),
            money(p["carry_in"]), ts(p.get("started_at")), p["seed"], money(p["win_target"]),
            money(p.get("final_win_target", p["win_target"])), money(p.get("warn_threshold")),
            money(p.get("fire_threshold")), p.get("evaluation_delay"), json.dumps(p.get("ranges", {})),
            json.dumps(p.get("retargets", [])), p.get("drops"), at, eid)))
    elif t == "JackpotReseeded":
        out.append(("reseeds", (eid, at, j, lv, cur, p["cycle_number"], money(p["new_seed_amount"]),
                                p.get("commitment"))))
    elif t == "WinnerSelected":
        win_id = p["win_id"]
        main = p.get("winners") or []
        first = main[0] if main else [None, None, None, None, None]
        out.append(("win_selected", (win_id, j, lv, cur, p["cycle_number"], p.get("drop_number"), p.get("drop_kind"),
                                     p.get("selection_method"), p.get("distribution_mode"), p.get("trigger_bet_id"),
                                     money(p["win_amount"]), first[1], first[4] if len(first) > 4 else None,
                                     first[3] if len(first) > 3 else None, at, eid)))
        for w in main:
            rank, player, amount = w[0], w[1], w[2]
            brand = w[3] if len(w) > 3 else None
            game = w[4] if len(w) > 4 else None
            out.append(("prizes", (win_id, "main", rank, j, lv, cur, player, brand, game, money(amount), None, None)))
        for w in p.get("chain_winners") or []:
            out.append(("prizes", (win_id, "chain_reaction", w[0], j, lv, cur, w[1], None, None, money(w[2]),
                                   None, None)))
    elif t == "JackpotWon":
        win_id = p["win_id"]
        out.append(("win_won", (win_id, j, lv, cur, p["cycle_number"], p.get("drop_kind"), p.get("selection_method"),
                                p.get("trigger_bet_id"), money(p["win_amount"]), p.get("winner_player_id"),
                                p.get("winner_game_id"), p.get("winner_brand_id"), money(p.get("returned_amount")),
                                ts(p.get("dropped_at")), at)))
        for w in p.get("winners") or []:
            out.append(("prizes", (win_id, "main", w["rank"], j, lv, cur, w["player_id"], w.get("brand_id"),
                                   w.get("game_id"), money(w["amount"]), money(w.get("tax_amount")),
                                   money(w.get("net_amount")))))
        for w in p.get("chain_reaction_winners") or []:
            out.append(("prizes", (win_id, "chain_reaction", w["rank"], j, lv, cur, w["player_id"], w.get("brand_id"),
                                   w.get("game_id"), money(w["amount"]), money(w.get("tax_amount")),
                                   money(w.get("net_amount")))))
    elif t == "WinVoided":
        out.append(("win_voided", (p["win_id"], at, p.get("reason"))))
    elif t == "WinRecorded":
        out.append(("hits", (eid, at, j, lv, cur, p["cycle_number"], money(p["win_amount"]), p["winner_player_id"],
                             p.get("winner_game_id"), p.get("winner_brand_id"), p.get("trigger_bet_id"))))
    elif t == "CreditUpdated":
        out.append(("prize_status", (p["win_id"], p["kind"], p["rank"], j, lv, cur, p.get("player_id") or "",
                                     p.get("idempotency_key"), p["status"], p.get("attempt"), at, eid)))
        out.append(("prize_payout_events", (eid, at, p["win_id"], p["kind"], p["rank"], p.get("player_id"),
                                            p.get("idempotency_key"), p["status"], p.get("attempt"))))
    elif t in ("WarnStateChanged", "WarnThresholdReached"):
        kind = "state" if t == "WarnStateChanged" else "threshold"
        out.append(("warn_state_changes", (eid, at, j, lv, cur, p.get("cycle_number"), kind, p.get("old_state"),
                                           p.get("new_state", "warn" if kind == "threshold" else None),
                                           money(p.get("current_amount")))))
    elif t == "JackpotStateChanged":
        out.append(("jackpot_state_changes", (eid, at, j, lv, p.get("old_state"), p["new_state"],
                                              p.get("changed_by"), p.get("reason"))))
    elif t == "PoolAdjusted":
        out.append(("pool_adjustments", (eid, at, j, lv, cur, p.get("cycle_number"), money(p["amount"]),
                                         p["reason"], p.get("actor") or "", p.get("note"),
                                         money(p.get("visible_amount")))))
    elif t == "WinReversed":
        out.append(("win_reversals", (p["win_id"], eid, at, j, lv, cur, money(p["amount"]), p["reason"], p["actor"],
                                       list(p.get("approvals") or []))))
        out.append(("win_reversed", (p["win_id"],)))
    elif t == "ReserveReleased":
        out.append(("reserve_releases", (eid, at, j, lv, cur, p.get("cycle_number"), money(p["amount"]),
                                         money(p["hidden"]), money(p["carry"]), money(p["pending"]), p["reason"])))
    elif t == "OperatorActionRecorded":
        amount = p.get("amount")
        out.append(("operator_actions", (eid, at, j, p["command_id"], p["action"], p["actor"],
                                         list(p.get("approvals") or []), p.get("reason"), lv, cur,
                                         money(amount) if type(amount) is int else None, p.get("adjustment_reason"),
                                         p.get("target_level_id"), p.get("delay_seconds"), p.get("win_id"),
                                         p.get("outcome") or "applied", p.get("detail"))))
    elif t == "WinApprovalRequested":
        out.append(("approval_requested", (p["approval_id"], p["win_id"], j, lv, cur, p.get("kind"), p.get("rank"),
                                           p["player_id"], money(p["amount"]), money(p.get("threshold")),
                                           ts(p.get("requested_at", e.ms)), ts(p.get("expires_at")))))
        out.append(("win_approval_events", (eid, at, p["approval_id"], p["win_id"], t, None, None, json.dumps(p))))
    elif t == "WinApprovalDecided":
        out.append(("approval_decided", (p["approval_id"], p["decision"], p.get("actor"), p.get("reason"), at)))
        out.append(("win_approval_events", (eid, at, p["approval_id"], p.get("win_id"), t, p.get("actor"),
                                            p["decision"], json.dumps(p))))
    elif t == "WinApprovalEscalated":
        if p.get("approval_id"):
            out.append(("approval_escalated", (p["approval_id"], eid)))
        out.append(("win_approval_events", (eid, at, p.get("approval_id"), p.get("win_id"), t, None, None,
                                            json.dumps(p))))
    if t in ALERT_TYPES:
        out.append(("alerts", (eid, at, j, t, lv, cur, json.dumps(p))))
    return out


def _sorted(rows: Iterable[tuple[str, tuple]]) -> list[tuple[str, list[tuple]]]:
    by: dict[str, list[tuple]] = {}
    for key, params in rows:
        by.setdefault(key, []).append(params)
    return [(k, by[k]) for k in ORDER if k in by]


JOURNAL_COLUMNS = ("event_id", "event_ts", "event_type", "event_version", "jackpot_id", "level_id", "currency",
                   "payload")
PARTITIONED = ("engine_events", "pool_snapshots")


class EventSink(PartitionedWriter):
    """Writes batches of engine events idempotently. One instance per worker process.

    ``await sink.write(events)`` returns the number of events new to the journal. Use it with
    ``sinks.ledger.write_with_retry(sink, events, on_outage=..., on_recovery=...)`` so that a
    database outage holds the consumer's offsets instead of dropping events.
    """

    name = "events"

    partitioned = PARTITIONED

    def __init__(self, dsn: str, *, audit_key: bytes | str | None = None, audited: frozenset[str] = AUDITED) -> None:
        super().__init__(dsn)
        self.audit_key = audit.key_bytes(audit_key)
        self.audited = audited

    async def write(self, events: list[dict]) -> int:
        if not events:
            return 0
        t0 = time.monotonic()
        evs: list[Ev] = []
        seen: set[str] = set()
        for d in events:
            e = normalise(d)
            if e.event_id not in seen:  # a batch may hold the same event twice
                seen.add(e.event_id)
                evs.append(e)
        await self.start()
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await self._ensure_partitions(conn, [e.at for e in evs])
            async with conn.transaction():
                new = await self._journal(conn, evs)
                fresh = [e for e in evs if e.event_id in new]
                rows = [r for e in fresh for r in project(e)]
                for key, params in _sorted(rows):
                    await conn.executemany(SQL[key], params)
                audited = [e for e in fresh if e.event_type in self.audited]
                if audited:
                    await audit.append(conn, [audit.entry_from_event(e) for e in audited], key=self.audit_key,
                                       in_transaction=True)
        metrics.observe_batch(self.name, len(evs), len(fresh), max(e.ms for e in evs), time.monotonic() - t0)
        return len(fresh)

    async def _journal(self, conn: asyncpg.Connection, evs: list[Ev]) -> set[str]:
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_engine_events "
            "(LIKE engine_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table(
            "stage_engine_events",
            records=[(_uuid(e.event_id), e.at, e.event_type, e.event_version, e.jackpot_id, e.level_id, e.currency,
                      json.dumps(e.payload, sort_keys=True)) for e in evs],
            columns=JOURNAL_COLUMNS,
        )
        cols = ", ".join(JOURNAL_COLUMNS)
        rows = await conn.fetch(
            f"INSERT INTO engine_events ({cols}) SELECT {cols} FROM stage_engine_events "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )
        return {str(r["event_id"]) for r in rows}


# ------------------------------------------------------------------ configurations
def config_hash(doc: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
