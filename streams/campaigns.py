"""Campaign automation as a stream process of its own (``jackpot campaigns``): three Faust agents
around the pure stages of ``jackpot.campaigns``, apart from the engine's worker so that marketing
never takes CPU from the hot path and holds none of the engine's secrets or state.

1. **jackpot stage** (partitioned by jackpot id): the engine's events (warn states, wins,
   reseeds, lifecycle changes on ``jackpot-events``; ``pool-updated``; ``active-players``) and its
   ledger (who is playing, how fast) become signals, planned against every rule
   (``evaluate.on_signal``).  A live fire's share for each player goes to ``campaign-candidates``,
   its surface actions (banners, webhooks...) straight to ``campaign-actions``.
2. **player stage** (partitioned by player id, with ``player-profiles``): each candidate is
   admitted or refused by the player's single writer, against their consent, opt-out, segments,
   push quota and cooldown (``admission.admit``); admitted actions go to ``campaign-actions``.
3. **delivery**: each action is sent once per id (the receiver's idempotency key), unless the
   kill switch is on; banners, takeovers and overlays go to ``campaign-surfaces`` for the public
   gateway to show.

Every stage writes its outputs, waits until the broker has them, and only then writes its table
(whose changelog Faust flushes before it commits the input offsets).  A crash therefore replays
inputs whose outputs may be out already, and replays produce the same records: fire and action
ids derive from the causing event, the player stage keeps each decision by fire id, and the
receivers apply an idempotency key once.  Dry-run rules go through both stages and end in the
log (``campaign-log``), never in ``campaign-actions``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Iterable

import aiohttp
import faust
import orjson
from aiokafka import TopicPartition
from faust.types import EventT

from jackpot import metrics as M
from jackpot.campaigns.admission import Candidate, PlayerLedger, admit
from jackpot.campaigns.audience import Audience, Velocity, member_of
from jackpot.campaigns.delivery import Deliverer, Endpoint, Receipt
from jackpot.campaigns.evaluate import JackpotCampaignState, Position, handled, on_signal
from jackpot.campaigns.plan import FirePlan, Member, Planned
from jackpot.campaigns.rules import (KILL_SWITCH, SURFACE_CHANNELS, Channel, Limits, Rule, allowed_webhook_hosts,
                                     kill_switch_entry, parse_rule_entry, rule_entry)
from jackpot.campaigns.signals import Signal, deadline_signal, from_event, velocity_signal
from jackpot.engine.privacy import mask_player
from jackpot.engine.timing import has_deadlines, schedule_deadline
from jackpot.settings import Settings
from jackpot.sinks.service import send_dead_letter
from jackpot.streams import topics as T
from jackpot.streams.app import create_app
from jackpot.streams.batches import LEDGER
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.compact import epoch_ms
from jackpot.streams.configs import ConfigView
from jackpot.streams.gaps import GapGuard
from jackpot.streams.kafka import partition_for
from jackpot.streams.pipeline import Pipeline
from jackpot.streams.progress import GroupOffsets, ProgressWatch
from jackpot.streams.refill import HoleReader
from jackpot.streams.worker import agent_crashed, bind_partition, restart_worker
from jackpot.tables.store import bytes_table

log = logging.getLogger(__name__)

# engine events carried in the JackpotEvent envelope that a trigger looks at
ENVELOPE_KINDS = frozenset({"WarnStateChanged", "JackpotWon", "JackpotReseeded", "JackpotStateChanged"})
DELIVERY_CONCURRENCY = 32
DELIVERY_RETRY_S = 300.0  # a delivery's retries stop after this (logged failed): under Kafka's poll interval
# a trigger kind -> the kind of signal it looks at
TICK_S = 10.0  # the campaigns clock: a deadline trigger fires within this of its moment
TRIGGER_SIGNALS = {"warn_state": "warn_state", "pool_threshold": "pool", "deadline": "deadline",
                   "player_count": "player_count", "jackpot_won": "jackpot_won", "jackpot_reseeded": "jackpot_reseeded",
                   "lifecycle": "lifecycle", "velocity": "velocity"}
WHOLE_INPUT = 1 << 30  # a mark's index once every signal of its input is handled


def campaigns_app_id(settings: Settings) -> str:
    return f"{settings.app_id}.campaigns"


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class Campaigns:
    """Builds the campaigns app and its agents."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app_settings = settings.model_copy(update={
            # "<app id>.campaigns": not under the worker's "<app id>-" ACL prefix, so the worker's
            # principal reaches neither its changelogs (players' consent and contacts) nor its group
            "app_id": campaigns_app_id(settings), "data_dir": settings.campaign_data_dir,
            "group_instance_id": "", "standby_replicas": 0})
        self.app = app = create_app(self.app_settings)
        self.codec = catalog()
        self.limits = Limits(pushes_per_player_day=settings.campaign_pushes_per_day,
                             approval_threshold=settings.campaign_approval_threshold)
        self.rules = ConfigView(settings, settings.topic(T.CAMPAIGN_RULES.name), parse_rule_entry)
        self.control = ConfigView(settings, settings.topic(T.CAMPAIGN_CONTROL.name), dict)
        # the jackpots' configurations: their brands (brand conditions) and must-drop schedules (deadlines)
        self.configs = ConfigView(settings, settings.topic(T.CONFIGS.name), Pipeline.compile)

        def topics(*specs: T.TopicSpec) -> faust.TopicT:
            return app.topic(*(settings.topic(s.name) for s in specs), key_serializer="raw", value_serializer="raw")

        self.out = {s.name: topics(s) for s in (T.CAMPAIGN_CANDIDATES, T.CAMPAIGN_ACTIONS, T.CAMPAIGN_LOG,
                                                T.CAMPAIGN_TICKS, T.CAMPAIGN_SURFACES, T.DEAD_LETTERS)}
        self.jackpots = bytes_table(app, self.app_settings, "campaign-jackpots",
                                    "Per jackpot: the rules' crossings and cooldowns, its active players, its velocity.")
        self.players = bytes_table(app, self.app_settings, "campaign-players",
                                   "Per player: profile (consent), contacts (quota, cooldown) and decisions by fire.")
        # compaction leaves real holes in these inputs (the consumer may commit over them)
        app.compacted_topics = frozenset(settings.topic(t.name) for t in (T.PLAYERS, T.ACTIVE_PLAYERS))
        self.holes = HoleReader(self.app_settings)
        self.jackpot_guard = self._gap_guard()
        self.player_guard = self._gap_guard()
        self.progress = ProgressWatch(settings.stall_after_s)
        self.group_offsets = GroupOffsets(self.app_settings, self.app_settings.app_id)
        self._progress_in: Any = None
        self.session: aiohttp.ClientSession | None = None
        self.deliverer: Deliverer | None = None

        app.agent(topics(T.ENGINE_EVENTS, T.POOL_UPDATED, T.ACTIVE_PLAYERS, T.LEDGER, T.CAMPAIGN_TICKS),
                  name="campaign-jackpots",
                  concurrency=1)(self._supervised("campaign-jackpots", self.jackpot_stage))
        app.agent(topics(T.CAMPAIGN_CANDIDATES, T.PLAYERS), name="campaign-players",
                  concurrency=1)(self._supervised("campaign-players", self.player_stage))
        app.agent(topics(T.CAMPAIGN_ACTIONS), name="campaign-delivery",
                  concurrency=1)(self._supervised("campaign-delivery", self.delivery_stage))
        app.timer(10.0)(self.check_progress)
        app.timer(TICK_S, on_leader=True)(self.tick)
        # a view whose reader died would hide a kill switch thrown later: not live, so it is restarted
        self.health = M.HealthServer(ready=self.is_ready, host=settings.worker_web_host, port=settings.campaign_web_port,
                                     live=lambda: not any(v.failed for v in (self.rules, self.control, self.configs)))
        app.service(_closer(self))

    # ----------------------------------------------------------- plumbing
    def _supervised(self, name: str, agent: Any) -> Any:
        """An agent whose exception ends the process (a supervisor restarts it from the committed
        offsets), never a process that answers /health while a stage is dead."""

        async def supervised(stream: faust.StreamT) -> None:
            try:
                await agent(stream)
            except Exception as exc:
                if self.app.should_stop:
                    return
                agent_crashed(name, exc)

        supervised.__name__ = supervised.__qualname__ = name.replace("-", "_")
        return supervised

    def _gap_guard(self) -> GapGuard:
        app = self.app

        async def earliest(tp: Any) -> int | None:
            return await self.holes.resume_offset(self.app_settings.app_id, tp.topic, tp.partition)

        return GapGuard(lambda tp: app.consumer.committed_offset(tp), app.consumer.seek,
                        lambda: app.rebalancing_count, lambda tp: tp in app.consumer.assignment(),
                        on_stuck=restart_worker, earliest=earliest,
                        exempt=lambda tp: tp.topic in app.compacted_topics, reader=self.holes.read)

    async def _admitted(self, guard: GapGuard, events: list[EventT]) -> list[EventT]:
        return [x for ev in events for x in await guard.admit_all(ev)]

    def _settle(self, guard: GapGuard) -> None:
        for tp, start, end in guard.take_refilled():
            self.app.consumer.mark_refilled(tp, start, end)

    @staticmethod
    def _load(table: Any, key: bytes) -> dict:
        raw = table.get(key)
        return orjson.loads(raw) if raw else {}

    def _value(self, ev: EventT, writes: dict[bytes, tuple[dict, EventT]], table: Any) -> tuple[bytes, dict]:
        """The key of ``ev`` and its value as this batch left it (else as the table holds it)."""
        key = bytes(ev.message.key)
        bind_partition(ev)  # the table is read in the partition of the event at hand
        return key, writes[key][0] if key in writes else self._load(table, key)

    @property
    def kill_switch(self) -> bool:
        return bool(self.control.compiled.get(KILL_SWITCH, {}).get("on", False))

    def current_rules(self) -> list[tuple[Rule, bool]]:
        return [(rule, rule.version in approved) for rule, approved in self.rules.compiled.values()]

    def logical(self, topic: str) -> str:
        prefix = self.settings.topic_prefix
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    async def _send(self, outputs: list[tuple[str, bytes, bytes]]) -> None:
        """Hand ``outputs`` (logical topic, key, value) to the producer and wait until the broker has
        all of them (what the stage then writes to its table relies on it)."""
        partitions = self.settings.partitions
        pending = []
        for name, key, value in outputs:
            topic = self.out[name]
            partition = partition_for(key, partitions) if name in (T.CAMPAIGN_CANDIDATES.name,
                                                                   T.CAMPAIGN_ACTIONS.name) else None
            pending.append(await topic.send(key=key, value=value, partition=partition))
        if pending:
            await asyncio.gather(*pending)

    async def _dead(self, stage: str, msg: Any, exc: Exception) -> None:
        await send_dead_letter(lambda name, key, value: self.out[name].send(key=key, value=value), stage, msg, exc)

    # ----------------------------------------------------------- jackpot stage
    def _signals(self, topic: str, value: bytes, doc: dict) -> list[Signal]:
        """The signals one input carries; the ledger also moves the jackpot's audience and velocity."""
        if topic == T.LEDGER.name:
            audience, velocity = Audience.from_json(doc.get("audience")), Velocity.from_json(doc.get("velocity"))
            window = self.settings.campaign_velocity_window_s * 1000
            out, at = [], 0
            for entry in LEDGER.items_in(self.codec, value):
                ts = epoch_ms(entry["timestamp"])
                at = max(at, ts)
                audience.seen(str(entry["player_id"]), entry.get("brand_id"), ts)
                for end, before, now in velocity.count(ts, window):
                    signal = velocity_signal(str(entry["jackpot_id"]), end, before or 0, now)
                    if signal is not None:
                        out.append(signal)
            audience.prune(at, self.settings.campaign_active_window_s * 1000)
            doc["audience"], doc["velocity"] = audience.to_json(), velocity.to_json()
            return out
        if topic == T.ENGINE_EVENTS.name:
            _, rec = self.codec.decode(value, expect="JackpotEvent")
            if rec["kind"] not in ENVELOPE_KINDS:
                return []
            payload = json.loads(rec["payload_json"])
            payload.update(event_id=rec["event_id"], jackpot_id=rec["jackpot_id"], timestamp=rec["timestamp"])
            signal = from_event(rec["kind"], payload)
        elif topic == T.POOL_UPDATED.name:
            _, rec = self.codec.decode(value, expect="PoolUpdated")
            signal = from_event("PoolUpdated", rec)
        else:
            _, rec = self.codec.decode(value, expect="ActivePlayers")
            signal = from_event("ActivePlayers", rec)
        return [] if signal is None else [signal]

    async def jackpot_stage(self, stream: faust.StreamT) -> None:
        await self._stage(stream, self.jackpot_guard, self.jackpots, self._on_jackpot_input, within=0.05,
                          views=(self.rules, self.control, self.configs))

    async def _stage(self, stream: faust.StreamT, guard: GapGuard, table: Any, handle: Any, *, within: float,
                     views: tuple[ConfigView, ...]) -> None:
        """A stateful stage's loop: each batch's inputs handled in order, its outputs on the broker,
        then its table values written (once per key per batch), then the batch acknowledged."""
        async for events in stream.take_events(500, within=within):
            for view in views:  # inside the loop: Faust drops what it fetched for a stream not iterated
                await view.ready.wait()
            try:
                outputs: list[tuple[str, bytes, bytes]] = []
                writes: dict[bytes, tuple[dict, EventT]] = {}
                for ev in await self._admitted(guard, events):
                    await handle(ev, writes, outputs)
                await self._send(outputs)
                for key, (doc, ev) in writes.items():
                    bind_partition(ev)  # Faust writes a key to the partition of the event it is handling
                    table[key] = _json(doc)
                if guard.refilled:
                    self._settle(guard)
            except BaseException:
                guard.take_refilled()
                self.app.consumer.release(e.message for e in events)
                raise

    async def tick(self) -> None:
        """One clock tick per partition of the jackpot stage, for the deadline triggers (the leader's)."""
        now = int(time.time() * 1000)
        value = orjson.dumps({"at_ms": now})
        for partition in range(self.settings.partitions):
            await self.out[T.CAMPAIGN_TICKS.name].send(key=f"tick:{partition}".encode(), value=value,
                                                       partition=partition)

    def _deadline_signals(self, jackpot_id: str, cj: Any, at_ms: int) -> list[Signal]:
        """The time left before each level's next must-drop or time-drop deadline, at a tick."""
        if not has_deadlines(cj):
            return []
        window = schedule_deadline(cj, at_ms)
        if window is None:
            return []
        return [deadline_signal(jackpot_id, cl.level_id, window[1], at_ms) for cl in cj.levels]

    async def _on_tick(self, ev: EventT, writes: dict[bytes, tuple[dict, EventT]], outputs: list) -> None:
        msg = ev.message
        try:
            at_ms = int(orjson.loads(ev.value)["at_ms"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            await self._dead("campaign-jackpots", msg, exc)
            return
        rules = self.current_rules()
        if not any(rule.trigger.kind == "deadline" for rule, _ in rules):
            return  # nothing watches deadlines: no state to move
        partitions = self.settings.partitions
        for jackpot_id, cj in list(self.configs.compiled.items()):
            key = jackpot_id.encode()
            if partition_for(key, partitions) != msg.partition:
                continue
            signals = self._deadline_signals(jackpot_id, cj, at_ms)
            if signals:
                self._apply(ev, key, signals, T.CAMPAIGN_TICKS.name, writes, outputs, rules)

    def _apply(self, ev: EventT, key: bytes, signals: list[Signal], topic: str,
               writes: dict[bytes, tuple[dict, EventT]], outputs: list, rules: list[tuple[Rule, bool]],
               doc: dict | None = None) -> None:
        """Plan ``signals`` (one input's) for the jackpot ``key`` against ``rules``; its state moves
        past the whole input, in ``writes``."""
        msg = ev.message
        bind_partition(ev)
        if doc is None:
            doc = writes[key][0] if key in writes else self._load(self.jackpots, key)
        state = JackpotCampaignState.from_json(doc.get("stage"))
        whole = Position(topic, msg.partition, msg.offset, WHOLE_INPUT)
        if handled(state, Position(topic, msg.partition, msg.offset)):
            return  # handled before a crash (a table value holds a whole batch): its outputs are out
        window = self.settings.campaign_active_window_s * 1000
        watched = {TRIGGER_SIGNALS[rule.trigger.kind] for rule, _ in rules}
        cj = self.configs.compiled.get(key.decode())
        brands = frozenset(cj.config.brands) if cj is not None else None
        audience = None
        for index, signal in enumerate(signals):
            members: list[Member] = []
            if signal.kind in watched:  # the audience only where a rule may fire (a large one costs)
                audience = audience or Audience.from_json(doc.get("audience"))
                members = audience.active(signal.at_ms, window)
            state, plans = on_signal(state, signal, Position(topic, msg.partition, msg.offset, index), rules,
                                     members, self.limits, kill_switch=self.kill_switch, jackpot_brands=brands)
            for rule, plan in plans:
                outputs.extend(self._fire_outputs(rule, plan, signal))
        state.marks = {**state.marks, whole.key: whole.at}  # the input's other effects (audience, velocity) too
        doc["stage"] = state.to_json()
        writes[key] = doc, ev

    async def _on_jackpot_input(self, ev: EventT, writes: dict[bytes, tuple[dict, EventT]], outputs: list) -> None:
        msg = ev.message
        topic = self.logical(msg.topic)
        if topic == T.CAMPAIGN_TICKS.name:
            await self._on_tick(ev, writes, outputs)
            return
        if not msg.key:
            await self._dead("campaign-jackpots", msg, ValueError("an engine event needs its jackpot id as key"))
            return
        key, doc = self._value(ev, writes, self.jackpots)
        if handled(JackpotCampaignState.from_json(doc.get("stage")), Position(topic, msg.partition, msg.offset)):
            return  # handled before a crash: its outputs are out (and the ledger's audience counted)
        try:
            signals = self._signals(topic, ev.value, doc)
        except (DecodeError, ValueError, KeyError, TypeError) as exc:
            await self._dead("campaign-jackpots", msg, exc)
            return
        self._apply(ev, key, signals, topic, writes, outputs, self.current_rules(), doc)

    def _fire_outputs(self, rule: Rule, plan: FirePlan, signal: Signal) -> list[tuple[str, bytes, bytes]]:
        rule_key = str(rule.rule_id).encode()
        log_record = {"kind": "fire", "rule_id": str(rule.rule_id), "rule_version": rule.version, "status": plan.status,
                      "fire_id": plan.fire_id, "reason": plan.reason, "audience": plan.audience,
                      "skipped": plan.skipped, "jackpot_id": signal.jackpot_id, "signal": signal.kind,
                      "event_id": signal.event_id, "event_at_ms": signal.at_ms, "dry_run": rule.dry_run,
                      "by_channel": plan.report(0)["by_channel"]}
        out = [(T.CAMPAIGN_LOG.name, rule_key, _json(log_record))]
        if plan.status not in ("send", "dry_run"):
            return out
        by_player: dict[str, list[Planned]] = {}
        for action in plan.actions:
            if action.player_id is None:
                if rule.dry_run:
                    out.append((T.CAMPAIGN_LOG.name, rule_key, _json(
                        {"kind": "dry_run", "fire_id": plan.fire_id, "rule_id": str(rule.rule_id),
                         "action_id": action.action_id, "channel": action.channel.value, "player": None})))
                else:
                    out.append((T.CAMPAIGN_ACTIONS.name, action.fire_id.encode(),
                                _json({"action": action.to_json(), "event_at_ms": signal.at_ms})))
            else:
                by_player.setdefault(action.player_id, []).append(action)
        c = rule.conditions
        for player_id, actions in by_player.items():
            candidate = Candidate(plan.fire_id, player_id, signal.at_ms, tuple(actions), segments=c.segments,
                                  brands=c.brands, dry_run=rule.dry_run)
            out.append((T.CAMPAIGN_CANDIDATES.name, player_id.encode(), _json(candidate.to_json())))
        return out

    # ----------------------------------------------------------- player stage
    async def player_stage(self, stream: faust.StreamT) -> None:
        await self._stage(stream, self.player_guard, self.players, self._on_player_input, within=0.02,
                          views=(self.control,))

    async def _on_player_input(self, ev: EventT, writes: dict[bytes, tuple[dict, EventT]], outputs: list) -> None:
        msg = ev.message
        topic = self.logical(msg.topic)
        if not msg.key:
            await self._dead("campaign-players", msg, ValueError("a player record needs its player id as key"))
            return
        key, doc = self._value(ev, writes, self.players)
        try:
            if topic == T.PLAYERS.name:
                _, profile = self.codec.decode(ev.value, expect="PlayerProfile")
                member = member_of(profile)
                doc["profile"] = {"brand": member.brand, "segments": sorted(member.segments),
                                  "opted_out": member.opted_out, "consent": sorted(c.value for c in member.consent)}
                writes[key] = doc, ev
                return
            candidate = Candidate.from_json(orjson.loads(ev.value), received_ms=int(msg.timestamp * 1000))
        except (DecodeError, orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            await self._dead("campaign-players", msg, exc)
            return
        p = doc.get("profile")
        member = None if p is None else Member(candidate.player_id, p.get("brand"), frozenset(p.get("segments", ())),
                                               bool(p.get("opted_out")), frozenset(Channel(c) for c in p.get("consent", ())))
        ledger = PlayerLedger.from_json(doc.get("ledger"))
        ledger, decision = admit(ledger, candidate, self.limits, kill_switch=self.kill_switch, member=member)
        rule_id = candidate.actions[0].rule_id if candidate.actions else ""
        admitted = [a for a in candidate.actions if a.action_id in set(decision.action_ids)]
        outputs.append((T.CAMPAIGN_LOG.name, rule_id.encode(), _json(
            {"kind": "dry_run" if candidate.dry_run else "decision", "fire_id": candidate.fire_id, "rule_id": rule_id,
             "player": mask_player(candidate.player_id), "player_id": candidate.player_id,
             "channels": sorted(a.channel.value for a in admitted), "reason": decision.reason,
             "event_at_ms": candidate.at_ms})))
        if not candidate.dry_run:
            for action in admitted:
                outputs.append((T.CAMPAIGN_ACTIONS.name, key,
                                _json({"action": action.to_json(), "event_at_ms": candidate.at_ms})))
            doc["ledger"] = ledger.to_json()
            writes[key] = doc, ev

    # ----------------------------------------------------------- delivery
    async def delivery_stage(self, stream: faust.StreamT) -> None:
        async for events in stream.take_events(200, within=0.01):
            await self.control.ready.wait()
            try:
                gate = asyncio.Semaphore(DELIVERY_CONCURRENCY)
                results = await asyncio.gather(*(self._deliver(ev, gate) for ev in events))
                await self._send([r for records in results for r in records])
            except BaseException:
                self.app.consumer.release(ev.message for ev in events)
                raise

    async def _deliver(self, ev: EventT, gate: asyncio.Semaphore) -> list[tuple[str, bytes, bytes]]:
        """Deliver one action: its log record (and for a surface, the record the gateway shows)."""
        try:
            doc = orjson.loads(ev.value)
            action = Planned.from_json(doc["action"])
            event_at = int(doc.get("event_at_ms", 0))
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            await self._dead("campaign-delivery", ev.message, exc)
            return []
        record = {"kind": "delivery", "action_id": action.action_id, "fire_id": action.fire_id,
                  "rule_id": action.rule_id, "channel": action.channel.value, "jackpot_id": action.jackpot_id,
                  "player": mask_player(action.player_id) if action.player_id else None,
                  "player_id": action.player_id, "event_at_ms": event_at}
        out = []
        stale = event_at and time.time() * 1000 - event_at > self.limits.stale_after_s * 1000
        if self.kill_switch:  # checked before every send: a switch thrown stops what is queued too
            record.update(status="killed", attempts=0)
        elif stale:  # a campaign about a state long gone misleads (a backlog, a replay of old history)
            record.update(status="stale", attempts=0)
        elif action.channel in SURFACE_CHANNELS:  # the gateway shows it (and ignores a replayed id)
            out.append((T.CAMPAIGN_SURFACES.name, action.jackpot_id.encode(), _json(
                {"action_id": action.action_id, "rule_id": action.rule_id, "channel": action.channel.value,
                 "template": action.template, "jackpot_id": action.jackpot_id, "event_at_ms": event_at})))
            record.update(status="delivered", attempts=1, via="gateway")
            M.CAMPAIGN_DELIVERIES.labels(action.channel.value, "delivered").inc()
        else:
            async with gate:  # checked again in the delivery: waiting here, the switch may be thrown
                # transient failures are retried until the action goes stale, for at most
                # DELIVERY_RETRY_S (a batch waiting on one dead receiver holds its partitions)
                give_up_at = min((event_at or time.time() * 1000) / 1000 + self.limits.stale_after_s,
                                 time.time() + DELIVERY_RETRY_S)
                try:
                    receipt = await self._deliverer().deliver(action, {"event_at_ms": event_at},
                                                              give_up_at=give_up_at, abort=lambda: self.kill_switch)
                except Exception as exc:  # one bad action must never stop every campaign: logged as failed
                    log.exception("campaign delivery failed unexpectedly", extra={"action_id": action.action_id})
                    receipt = Receipt(action.action_id, "failed", 0, error=f"{type(exc).__name__}: {exc}"[:500])
            status = "killed" if receipt.status == "aborted" else receipt.status  # the switch stopped it
            record.update(status=status, attempts=receipt.attempts, http_status=receipt.http_status,
                          error=receipt.error, duplicate=receipt.duplicate)
            M.CAMPAIGN_DELIVERIES.labels(action.channel.value, status).inc()
            if receipt.status == "delivered" and event_at:
                M.CAMPAIGN_LATENCY.observe(max(0.0, time.time() - event_at / 1000))
        record["at_ms"] = int(time.time() * 1000)
        return [*out, (T.CAMPAIGN_LOG.name, action.rule_id.encode(), _json(record))]

    def _deliverer(self) -> Deliverer:
        if self.deliverer is None:
            self.session = aiohttp.ClientSession()
            base = self.settings.campaign_endpoint.rstrip("/")
            secret = self.settings.campaign_secret.encode()
            endpoints = {ch: Endpoint(f"{base}/{ch.value}", secret) for ch in Channel} if base else {}
            hosts = allowed_webhook_hosts(self.settings.campaign_webhook_hosts)
            self.deliverer = Deliverer(endpoints, self.session, webhook_hosts=hosts)
        return self.deliverer

    # ----------------------------------------------------------- health
    def is_ready(self) -> bool:
        app = self.app
        views = (self.rules, self.control, self.configs)  # a dead reader would miss the kill switch
        return (all(v.ready.is_set() and v.following for v in views) and app.tables.recovery.completed.is_set()
                and not app.rebalancing and not self.progress.stalled())

    async def check_progress(self) -> None:
        """Committed against end offsets of every owned input: a partition whose messages wait
        while its committed offset stays put makes the process not ready."""
        app = self.app
        try:
            if app.rebalancing or not app.tables.recovery.completed.is_set() or self._progress_in != app.rebalancing_count:
                self.progress.reset()
                self._progress_in = app.rebalancing_count
                return
            tps = [tp for tp in app.consumer.assignment() if not tp.topic.endswith("-changelog")]
            committed = await self.group_offsets.committed([TopicPartition(tp.topic, tp.partition) for tp in tps])
            self.progress.observe({(tp.topic, tp.partition): (committed.get(TopicPartition(tp.topic, tp.partition)),
                                                              app.consumer.highwater(tp)) for tp in tps})
            for topic, partition in self.progress.stalled():
                log.error("campaign input partition stalled", extra={"topic": topic, "partition": partition})
        except Exception as exc:  # the broker unreachable: the next round tries again
            log.warning("campaign progress check failed", extra={"error": repr(exc)})


def _closer(campaigns: Campaigns) -> Any:
    import mode

    class Closer(mode.Service):
        async def on_started(self) -> None:
            await campaigns.health.start()
            await campaigns.rules.start()
            await campaigns.control.start()
            await campaigns.configs.start()

        async def on_stop(self) -> None:
            await campaigns.rules.stop()
            await campaigns.control.stop()
            await campaigns.configs.stop()
            if campaigns.session is not None:
                await campaigns.session.close()
            await campaigns.holes.close()
            await campaigns.group_offsets.close()
            await campaigns.health.stop()

    return Closer


def run_campaigns(settings: Settings, log_level: str = "info") -> None:
    """Create the topics if needed, then run until SIGTERM/SIGINT."""
    from jackpot.streams.topics import ensure_changelogs, ensure_topics

    if len(settings.campaign_secret.encode()) < 16 and settings.campaign_endpoint:
        raise SystemExit("JACKPOT_CAMPAIGN_SECRET must have at least 16 bytes: every delivery is signed with it")
    campaigns = Campaigns(settings)

    async def prepare() -> None:
        await ensure_topics(settings)
        await ensure_changelogs(campaigns.app_settings, campaigns.app.tables.values())

    asyncio.get_event_loop().run_until_complete(prepare())
    faust.Worker(campaigns.app, loglevel=log_level.upper(), quiet=True, override_logging=False).execute_from_commandline()


# ----------------------------------------------------------------- publication
async def publish_control(settings: Settings, records: list[tuple[str, bytes, bytes | None]]) -> None:
    """Write (logical topic, key, value) records to the campaign rules or control topic, confirmed."""
    from aiokafka import AIOKafkaProducer

    from jackpot.streams.kafka import client_options
    from jackpot.streams.topics import ensure_topics

    await ensure_topics(settings, [T.CAMPAIGN_RULES, T.CAMPAIGN_CONTROL])
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for name, key, value in records:
            await producer.send_and_wait(settings.topic(name), key=key, value=value)
    finally:
        await producer.stop()


async def publish_rule(settings: Settings, rule: Rule, approved_versions: Iterable[int] = ()) -> None:
    await publish_control(settings, [(T.CAMPAIGN_RULES.name, str(rule.rule_id).encode(),
                                      rule_entry(rule, approved_versions))])


async def set_kill_switch(settings: Settings, on: bool, actor: str) -> None:
    await publish_control(settings, [(T.CAMPAIGN_CONTROL.name, KILL_SWITCH.encode(),
                                      kill_switch_entry(on, actor, int(time.time() * 1000)))])
