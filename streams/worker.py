"""The stream worker: router, jackpot agent and sinks wired into one Faust app.

Topology (see ARCHITECTURE.md section 3):

    bets (key player_id) --router--> jackpot-contributions (key jackpot_id)
    operator-commands --commands agent--> jackpot-contributions (clock ticks and wallet
        results go there too: one ordered log of every input of a jackpot)
    jackpot-contributions --jackpot agent--> pool-updated, ledger-contributions
    ledger-contributions --ledger sink--> PostgreSQL
    pool-updated --live sink--> Redis

(the sinks run here, or in `jackpot sinks` processes of their own: sinks/service.py).
Run N of these processes to scale: Kafka spreads the partitions over them and the
jackpot table follows its partitions (rebuilt from the changelogs on take-over, or kept
up to date by a standby replica when they are on: README "Scaling workers").
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import sys
import time
import weakref
from collections import Counter, defaultdict
from types import SimpleNamespace
from typing import Any

import aiohttp
import faust
from aiokafka.structs import TopicPartition
from faust.streams import _current_event
from faust.types import EventT

from jackpot import metrics as M
from jackpot.engine.events import event_id
from jackpot.settings import Settings
from jackpot.sinks.service import Sinks, send_dead_letter, unbatched
from jackpot.streams import topics as T
from jackpot.streams.app import create_app
from jackpot.streams.batches import CONTRIBUTIONS, LEDGER, Collector, Framing
from jackpot.streams.codec import DecodeError, catalog
from jackpot.streams.configs import ConfigView
from jackpot.tables.deliveries import Deliveries
from jackpot.streams import heap
from jackpot.streams.gaps import GapGuard
from jackpot.streams.observe import report_pools
from jackpot.streams.kafka import partition_for
from jackpot.streams.lease import MembershipLost
from jackpot.streams.outputs import encode as encode_event
from jackpot.streams.payout import call_wallet
from jackpot.streams.limits import check_player_record
from jackpot.streams.pipeline import Pipeline, RejectedBet
from jackpot.streams.progress import GroupOffsets, ProgressWatch
from jackpot.streams.received import flag_skew, received_ms
from jackpot.engine import balances, succession
from jackpot.engine.money import to_micros
from jackpot.streams.budget import check_and_alert
from jackpot.streams.reconciler import reconcile_and_act
from jackpot.streams.refill import HoleReader
from jackpot.streams.statecache import StateCache
from jackpot.streams import players as P
from jackpot.tables.activity import ActivityStore, activity_table
from jackpot.tables import betids
from jackpot.tables.changelog import Changelog
from jackpot.tables.jackpots import JackpotRecord, decode_record, encode_record, jackpot_table, use_sealer
from jackpot.tables.sealing import load_sealer
from jackpot.tables.players import players_table

log = logging.getLogger(__name__)


class ConflictingDuplicate(ValueError):
    """A bet id seen before with different content: neither copy is trusted over the first."""


CONTRIBUTION_SCHEMAS = ("ContributionBatch", "ContributionRequest")
INPUT_SCHEMAS = (*CONTRIBUTION_SCHEMAS, "OperatorCommand", "WalletCreditResult", "ClockTick")
PLAYER_SCHEMAS = ("PlayerProfile", "PlayerSessionStart", "PlayerSessionEnd")
PLAYERS_COUNT_EVERY_MS = 5000  # "players chasing" refresh (spec: Real-Time Gateway)
TICK_KEY = b"tick:"  # a clock tick's key: the partition it is for, not a jackpot


def is_tick(key: bytes | None) -> bool:
    return key is not None and key.startswith(TICK_KEY)


def bind_partition(event: EventT) -> None:
    """Make table reads and writes in this task use ``event``'s partition.

    Faust picks the RocksDB partition and the changelog partition of a table access
    from the task's "current event".  A ``take_events`` batch spans partitions, so the
    agent binds each jackpot's own event before touching its value.  Only the context
    variable is set: ``Stream._set_current_event`` would also overwrite the stream's
    shared ``current_event`` attribute, which the take buffer reads across an await,
    and a message would then be buffered under another message's event.
    """
    _current_event.set(weakref.ref(event))


class Worker:
    """Builds the app and its agents; holds the handles the agents share."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # the table's secrets are sealed with this key; production refuses to start without one
        use_sealer(load_sealer(settings))
        self.app = create_app(settings)
        self.codec = catalog()
        self.pipeline = Pipeline()
        self.configs = ConfigView(settings, settings.topic(T.CONFIGS.name),
                                  self.pipeline.compile)
        app = self.app
        # compaction leaves real holes in these inputs (the consumer may commit over them)
        app.compacted_topics = frozenset(settings.topic(t.name) for t in (T.PLAYERS,))

        def topic(spec: T.TopicSpec) -> faust.TopicT:
            return app.topic(settings.topic(spec.name), key_serializer="raw", value_serializer="raw",
                             partitions=spec.partitions or settings.partitions, internal=False)

        self.bets_topic = topic(T.BETS)
        # Everything the router joins, keyed by player_id: one agent, the players table's single writer.
        self.router_inputs = app.topic(*(settings.topic(t.name) for t in (T.BETS, T.PLAYERS, T.SESSIONS)),
                                       key_serializer="raw", value_serializer="raw")
        # Every input that changes a jackpot goes into one log per partition (contribution batches,
        # commands, wallet results, clock ticks), which one agent applies in order: a replay after
        # a crash then sees a jackpot's inputs in the order it first applied them.
        self.jackpot_inputs = topic(T.CONTRIBUTIONS)
        # the admin API's principal publishes commands only; they are copied into the log
        self.commands_topic = topic(T.COMMANDS)
        self.out_topics = {spec.name: topic(spec) for spec in T.ALL}
        self.pool_updated_topic = topic(T.POOL_UPDATED)
        self.ledger_topic = topic(T.LEDGER)
        self.table = jackpot_table(app, settings)
        # the agents' table writes go to the changelogs through these (tables/changelog.py)
        self.table_log = Changelog(self.table)
        self.activity_log = Changelog(activity_table(app, settings))
        self.activity = ActivityStore(self.activity_log.table, send=self.activity_log.queue)
        self.bet_ids_log = Changelog(betids.bet_ids_table(app, settings))
        self.bet_ids = betids.BetIds(self.bet_ids_log.table, settings.dedup_horizon_s * 1000, send=self.bet_ids_log.queue)
        self._expired_at: dict[int, float] = {}  # partition -> monotonic time of its last bet-id expiry
        self.players = players_table(app, settings)
        self.players_log = Changelog(self.players)
        # router and jackpot agent apply each input partition in order and complete (streams/gaps.py)
        self.holes = HoleReader(settings)
        self._assigned, self._assigned_in = frozenset(), None
        self.router_guard = self._gap_guard()
        self.jackpot_guard = self._gap_guard()
        self.commands_guard = self._gap_guard()
        # (record, state) of each jackpot as last applied by this process; emptied by rebalances
        self.states: StateCache[tuple[JackpotRecord, Any]] = StateCache(lambda: app.rebalancing_count)
        # Write-behind: what the agents applied since the last offset commit, saved before it
        # (``save``): the jackpots' last batches, the router's changed players, and the delivery
        # futures of the outputs they produced, which must be on the broker before those are saved.
        self.unsaved: dict[bytes, _JackpotBatch] = {}
        self.route_players = _Players(self.players, self.players_log)
        self.deliveries = Deliveries(on_failure=self._delivery_failed)
        self._unsaved_generation: Any = None  # the assignment the unsaved writes belong to
        self._refuse_commits_in: Any = object()  # the assignment whose unsaved writes were dropped
        self._saving: asyncio.Future[bool] | None = None  # the last save's writes (``save``)
        app.checkpoint = self.save

        # input partitions whose committed offset stops moving make the worker not ready
        self.progress = ProgressWatch(settings.stall_after_s)
        self.group_offsets = GroupOffsets(settings, settings.app_id)
        self._progress_in = None
        app.agent(self.router_inputs, name="router", concurrency=1)(self._supervised("router", self.router))
        app.agent(self.jackpot_inputs, name="jackpot", concurrency=1)(
            self._supervised("jackpot", self.jackpot_agent))
        app.agent(self.commands_topic, name="commands", concurrency=1)(
            self._supervised("commands", self.commands_agent))
        app.agent(self.out_topics[T.WALLET_COMMANDS.name], name="payout", concurrency=1)(
            self._supervised("payout", self.payout_agent))
        # the sinks run here unless they run in processes of their own (sinks/service.py)
        self.sinks = Sinks(settings, self.send, lambda: self.configs.compiled) if settings.worker_sinks else None
        app.task(self._start_config_view)
        heap.tune()
        app.task(self._keep_heap_frozen)
        app.timer(settings.clock_interval_s, on_leader=True)(self.clock)
        if settings.reconcile_interval_s > 0:
            app.timer(settings.reconcile_interval_s, on_leader=True)(self.reconcile)
        if settings.budget_interval_s > 0:
            app.timer(settings.budget_interval_s, on_leader=True)(self.budget_check)
        self._tick = 0
        app.timer(10.0)(self.report)
        self.health = M.HealthServer(ready=self.is_ready, host=settings.worker_web_host, port=settings.worker_web_port)
        app.service(_closer(self))

    # ----------------------------------------------------------- supervision
    def _supervised(self, name: str, agent: Any) -> Any:
        """``agent``, such that an exception takes the whole process down (exit code
        ``AGENT_CRASHED``) instead of leaving a worker that answers /health while it applies
        nothing: Faust does not restart a crashed agent.  The supervisor (Kubernetes, the demo)
        restarts the process, which resumes from the committed offsets, as after a SIGKILL."""

        async def supervised(stream: faust.StreamT) -> None:
            try:
                await agent(stream)
            except Exception as exc:  # CancelledError (a stop) is not an Exception
                if self.app.should_stop:  # torn down under it while the worker stops: the stop goes on
                    log.warning("agent ended with an error while stopping", extra={"agent": name,
                                                                                   "error": repr(exc)})
                    return
                agent_crashed(name, exc)

        supervised.__name__ = supervised.__qualname__ = name
        return supervised

    # ----------------------------------------------------------- observability
    def is_ready(self) -> bool:
        """Ready once the configs are read and this worker's tables are recovered, outside
        rebalances, and while every owned input partition moves (streams/progress.py)."""
        app = self.app
        ready = (self.configs.ready.is_set() and app.tables.recovery.completed.is_set()
                 and not app.rebalancing and not self.progress.stalled())
        M.TABLE_RECOVERED.set(1 if ready else 0)
        return ready

    def logical(self, topic: str) -> str:
        prefix = self.settings.topic_prefix
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    async def report(self) -> None:
        """Every 10 s: holes the seek did not refill, pools per state and at Win Max (from the
        states in memory), committed-offset progress and lag of every owned input partition."""
        self.router_guard.check_stuck()
        self.jackpot_guard.check_stuck()
        self.commands_guard.check_stuck()
        try:
            owned = [(self.configs.compiled.get(st.jackpot_id), st) for _, st in self.states.values()]
            report_pools(owned)
            await self.check_progress()
        except Exception as exc:  # e.g. the broker is unreachable: the next round tries again
            log.warning("progress report failed", extra={"error": repr(exc)})

    async def check_progress(self) -> None:
        """Committed (from the broker) against end offsets per owned partition: the lag metric,
        and the stall watch behind /ready and the stalled-partition alert."""
        app = self.app
        recovering = not app.tables.recovery.completed.is_set()  # nothing is applied until it ends
        if recovering or app.rebalancing or self._progress_in != app.rebalancing_count:
            self.progress.reset()
            M.PARTITION_STALLED.clear()
            self._progress_in = app.rebalancing_count
            if app.rebalancing or recovering:
                return
        consumer = app.consumer
        tps = [tp for tp in consumer.assignment() if not self._is_output(tp.topic)]
        committed = await self.group_offsets.committed([TopicPartition(tp.topic, tp.partition) for tp in tps])
        ends = {tp: consumer.highwater(tp) for tp in tps}
        offsets = {(tp.topic, tp.partition): (committed.get(TopicPartition(tp.topic, tp.partition)), ends[tp])
                   for tp in tps}
        self.progress.observe(offsets)
        M.set_consumer_lag(self.settings.app_id, {tp: c for tp, (c, _) in offsets.items()},
                           {tp: e for tp, (_, e) in offsets.items()})
        group = self.settings.app_id
        for (topic, partition), seconds in self.progress.unmoved_for().items():
            M.PARTITION_STALLED.labels(group, topic, str(partition)).set(seconds)
        for topic, partition in self.progress.stalled():
            log.error("input partition stalled: messages wait and its committed offset does not move",
                      extra={"topic": topic, "partition": partition, "committed": offsets[(topic, partition)][0],
                             "end": offsets[(topic, partition)][1]})

    def _is_output(self, topic: str) -> bool:
        """Changelog topics are assigned to the consumer too, but nothing commits them."""
        return topic.startswith(f"{self.settings.app_id}-") and topic.endswith("-changelog")

    def _gap_guard(self) -> GapGuard:
        app = self.app
        return GapGuard(lambda tp: app.consumer.committed_offset(tp), app.consumer.seek,
                        lambda: app.rebalancing_count, lambda tp: tp in self._assignment(),
                        on_stuck=restart_worker, earliest=self._earliest_offset,
                        exempt=lambda tp: tp.topic in app.compacted_topics, reader=self.holes.read)

    def _assignment(self) -> Any:
        """The consumer's assignment, rebuilt (a set of every partition) only after a rebalance:
        asked for every message, it was a tenth of the agents' time."""
        app = self.app
        if app.rebalancing:
            return app.consumer.assignment()
        if self._assigned_in != app.rebalancing_count:
            self._assigned = app.consumer.assignment()
            self._assigned_in = app.rebalancing_count
        return self._assigned

    def _settle_refilled(self, guard: GapGuard) -> None:
        """Ranges the guard read back are applied and persisted: let the commit pass them."""
        for tp, start, end in guard.take_refilled():
            self.app.consumer.mark_refilled(tp, start, end)

    async def _earliest_offset(self, tp: Any) -> int | None:
        """Where reading resumes when this member has no committed offset for ``tp`` in memory:
        the group's committed offset from the broker, else (never committed) the log start."""
        offset = await self.holes.resume_offset(self.settings.app_id, tp.topic, tp.partition)
        if offset is None:
            log.warning("resume offset unknown; trusting the first message", extra={"topic": tp.topic,
                                                                                    "partition": tp.partition})
        return offset

    async def _keep_heap_frozen(self) -> None:
        await heap.keep_frozen(self.is_ready, lambda: self.app.rebalancing_count, self.settings.heap_freeze_interval_s)

    async def _start_config_view(self) -> None:
        await self.configs.start()
        log.info("config view ready", extra={"jackpots": len(self.configs.compiled)})

    # ------------------------------------------------------------ dead letters
    async def send(self, name: str, key: bytes, value: bytes) -> Any:
        """Produce to one of our topics by its logical name (dead letters, sink alerts)."""
        return await self.out_topics[name].send(key=key, value=value)

    async def produce(self, topic: faust.TopicT, key: bytes, value: bytes) -> Any:
        """Hand one record of the hot path to the producer; the delivery future.

        Straight to the producer (the same one, so records keep their order per partition, and
        the same partitioner: by key), not through ``topic.send``: Faust's path costs several
        times the producer's own per record (a ``FutureMessage``, sensors, a callback), and the
        jackpot agent sends a PoolUpdated per touched pool per batch."""
        return await self.app.producer.send(topic.get_topic_name(), key, value, None, None, None)

    async def dead(self, stage: str, msg: Any, exc: Exception, value: bytes | None = None) -> None:
        """Dead-letter an agent's message, or, with ``value``, the one item of it that is bad."""
        await send_dead_letter(self.send, stage, msg, exc, value)

    async def unbatched(self, stage: str, msg: Any, framing: Framing, name: str, record: dict) -> list[dict]:
        return await unbatched(self.send, self.codec, stage, msg, framing, name, record)

    # ------------------------------------------------------------------ router
    async def router(self, stream: faust.StreamT) -> None:
        """Decode bets, join them with their player, match them against active jackpots, fan
        out by jackpot_id; keep the players table up to date from profiles and sessions.

        Bets are taken in batches and each batch's requests leave as one message per jackpot
        (streams/batches.py).  The players changed are written once each before the next offset
        commit (``save``), and only after those messages are on the broker: a player's value
        never counts a bet whose requests could still be lost (streams/players.py relies on it).
        """
        s = self.settings
        async for events in stream.take_events(s.batch_size, within=s.route_within_s):
            # Wait for the configs inside the loop, never before it: Faust discards what it fetches
            # for an agent whose stream is not being iterated yet, and that was a hole at every start.
            await self.configs.ready.wait()
            async with self.app.writes:
                if self._given_up(events):
                    continue
                try:
                    await self._route(events)
                except BaseException:
                    # players changed in place may count bets whose requests never left
                    self.forget_unsaved()
                    self.router_guard.take_refilled()
                    raise

    async def _route(self, events: list[EventT]) -> None:
        started = time.perf_counter()
        bets = self.settings.topic(T.BETS.name)
        outbox = Collector(CONTRIBUTIONS)
        players = self.route_players
        for ev in [x for ev in events for x in await self.router_guard.admit_all(ev)]:
            M.EVENTS_IN.labels(self.logical(ev.message.topic)).inc()
            try:
                if ev.message.topic == bets:
                    self._route_bet(ev, outbox, players)
                else:
                    self._apply_player_input(ev, players)
            except (DecodeError, RejectedBet) as exc:
                await self.dead("router", ev.message, exc)
        sent = []
        for key, value, _ in outbox.drain():
            sent.append(await self.produce(self.jackpot_inputs, key, value))
            M.EVENTS_OUT.labels(T.CONTRIBUTIONS.name).inc()
        self.deliveries.add(sent)
        if self.router_guard.refilled:
            self._settle_refilled(self.router_guard)
        M.PROCESSING_SECONDS.labels("router").observe(time.perf_counter() - started)

    def _route_bet(self, event: EventT, outbox: Collector, players: "_Players") -> None:
        msg = event.message
        _, bet = self.codec.decode(event.value, expect="BetPlaced")
        self.pipeline.validate_bet(bet)
        received = received_ms(msg)  # the engine's time for this bet (streams/received.py)
        flag_skew(P.ms(bet["timestamp"]), received, int(self.settings.clock_tolerance_s * 1000),
                  {"bet_id": str(bet["event_id"]), "topic": msg.topic, "partition": msg.partition})
        player = players.get(bet["player_id"].encode(), event)
        facts = P.enrich(player, bet, msg.partition, msg.offset, received)
        for jackpot_id in self.pipeline.match(self.configs, bet):
            outbox.add(self.pipeline.contribution_request(jackpot_id, bet, msg.partition, msg.offset, received)
                       | facts)

    def _apply_player_input(self, event: EventT, players: "_Players") -> None:
        """A profile or a session start/end: facts the next bets of this player carry."""
        name, rec = self.codec.decode(event.value, expect=PLAYER_SCHEMAS)
        check_player_record(name, rec)
        player = players.get(rec["player_id"].encode(), event)
        received = received_ms(event.message)
        if name == "PlayerProfile":
            P.apply_profile(player, rec, received)
        elif name == "PlayerSessionStart":
            P.start_session(player, rec["session_id"], received)
        else:
            P.end_session(player, rec["session_id"], received)

    # ----------------------------------------------------------- jackpot agent
    async def jackpot_agent(self, stream: faust.StreamT) -> None:
        """The single writer of each jackpot: applies contributions in partition order.

        A batch is applied to the in-memory state and its outputs go out at once (PoolUpdated
        coalesced to one event per touched pool per batch); each jackpot's table value is written
        once per offset commit, after those outputs are on the broker (``save``).
        """
        s = self.settings
        async for events in stream.take_events(s.batch_size, within=s.batch_within_s):
            await self.configs.ready.wait()  # inside the loop, as in the router
            async with self.app.writes:
                if self._given_up(events):
                    continue
                started = time.perf_counter()
                M.BATCH_SIZE.observe(len(events))
                by_jackpot: dict[bytes, list[EventT]] = defaultdict(list)
                for ev in [x for ev in events for x in await self.jackpot_guard.admit_all(ev)]:
                    M.EVENTS_IN.labels(self.logical(ev.message.topic)).inc()
                    if is_tick(ev.message.key) and self._is_clock_tick(ev):  # for every jackpot of its partition
                        for jackpot_id in self.jackpots_in_partition(ev.message.partition):
                            by_jackpot[jackpot_id.encode()].append(ev)
                    else:
                        by_jackpot[ev.message.key or b""].append(ev)
                pending = []
                try:
                    for key, evs in by_jackpot.items():
                        batch = await self._apply_jackpot_batch(stream, key, evs)
                        if batch is not None and batch.dirty:
                            pending.append(batch)
                    await self._publish(pending)
                    if self.jackpot_guard.refilled:
                        self._settle_refilled(self.jackpot_guard)
                    M.PROCESSING_SECONDS.labels("jackpot").observe(time.perf_counter() - started)
                except BaseException as exc:
                    # in-memory states may now hold changes that were never persisted, and so may
                    # ranges read back into this batch: the commit must not pass them
                    self.forget_unsaved()
                    self.jackpot_guard.take_refilled()
                    if isinstance(exc, MembershipLost):
                        # expelled while frozen: nothing of this batch was written; whoever owns the
                        # partitions after the rebalance applies it from the committed offsets
                        self.app.consumer.release(ev.message for ev in events)
                        log.warning("jackpot batch given up unwritten", extra={"events": len(events), "error": str(exc)})
                        continue
                    log.error("jackpot batch interrupted", extra={"events": len(events), "error": repr(exc)})
                    raise

    def _is_clock_tick(self, ev: EventT) -> bool:
        """Only a ClockTick fans out to a partition's jackpots; anything else under a tick's key
        is dead-lettered as an input for an unknown jackpot."""
        try:
            return self.codec.decode(ev.value)[0] == "ClockTick"
        except DecodeError:
            return False

    def _expire_bet_ids(self, batches: list["_JackpotBatch"]) -> None:
        """Now and then, drop bet ids older than the dedup horizon from the batches' partitions."""
        at = time.monotonic()
        for partition, now in {b.partition: b.now for b in batches}.items():
            if at - self._expired_at.get(partition, 0.0) >= 30.0:
                self._expired_at[partition] = at
                self.bet_ids.expire(partition, now)

    async def durable(self) -> None:
        """Wait until the values written so far (and any save's) are on the broker."""
        await self._after_save()
        await self.table_log.flush()

    async def write_window(self) -> None:
        """Send the window entries and bet ids written so far, and wait until the broker has them."""
        await asyncio.gather(self.activity_log.flush(), self.bet_ids_log.flush())

    def jackpots_in_partition(self, partition: int) -> list[str]:
        """The jackpots a clock tick of ``partition`` is for: the configured ones, and those whose
        config was withdrawn (the tick faults them, and pays out what they still owe)."""
        n = self.settings.partitions
        return [jid for jid in (*self.configs.compiled, *self.configs.withdrawn)
                if partition_for(jid.encode(), n) == partition]

    async def hold_membership(self) -> None:
        """Before any write: wait until the group certainly still counts this worker as the owner
        of its partitions (streams/lease.py); a worker thawed after being expelled gives up instead."""
        app = self.app
        seen = app.rebalancing_count
        await app.consumer.lease.hold(lambda: app.rebalancing or app.rebalancing_count != seen)

    async def _publish(self, batches: list["_JackpotBatch"]) -> None:
        """Hand the batches' outputs to the producer and keep their states, unsaved, for the next
        batch and for ``save``."""
        await self.hold_membership()
        for batch in batches:
            self.deliveries.add(await batch.publish())
            self.unsaved[batch.key] = batch
            self.states.put(batch.key, (batch.record, batch.state))
            for bet_ms in batch.bet_times:
                M.observe_event_age("jackpot", bet_ms)
        self._expire_bet_ids(batches)

    async def write(self, batches: list["_JackpotBatch"]) -> None:
        """Publish every batch's outputs and window entries, wait until the broker has them and
        every earlier output, then persist the values and wait for them too (tables/activity.py:
        entries never run two values ahead).  Every write waits for the membership lease first."""
        if self._refuse_commits_in == self.app.consumer_generation_id:
            raise MembershipLost("this assignment's unsaved writes were dropped: nothing more is written in it")
        await self.durable()
        await self.hold_membership()
        for batch in batches:
            self.deliveries.add(await batch.publish())
            batch.write_activity()
        # our own messages only: a global flush starves under load
        await asyncio.gather(self.deliveries.settle(), self.write_window())
        await self.hold_membership()
        for batch in batches:
            batch.persist()
            self.unsaved.pop(batch.key, None)
        await self.hold_membership()  # again: encoding many values takes a while
        # Wait for the values now, while the lease checked just above still holds, rather than at
        # the next batch: a value still queued in the producer when the worker is frozen past its
        # session goes out when it thaws, over the newer owner's value, and the recovery that
        # follows skips the newer writes (bets lost; the frozen-worker test).
        await self.durable()

    # ------------------------------------------------------------- write-behind
    async def save(self) -> "asyncio.Future[bool] | None":
        """Before every offset commit, with both agents between batches (``app.writes``, see
        streams/transport.py): take what they applied since the last save, the jackpots' values,
        window entries and bet ids, and the router's players, encoded now and written to the
        local stores; their changelog records go out in the background (``_write_saved``), once
        every output handed to the producer before now is on the broker.  The returned task says
        whether they did (True: the offsets taken with them may be committed).  Each key is so
        written once per commit instead of once per batch, and no batch waits for a produce round
        trip or for the save.  None, commit nothing: this assignment's writes were dropped."""
        generation = self.app.consumer_generation_id
        try:
            await self._after_save()  # a save whose commit was cancelled (a stop) may still be going
        except MembershipLost:
            return None
        self._check_unsaved()
        try:
            batches = list(self.unsaved.values())
            self.unsaved.clear()
            for batch in batches:
                batch.write_activity()  # entries ahead of the local value are harmless (tables/activity.py)
            entries = (self.activity_log.take(), self.bet_ids_log.take())
            for batch in batches:
                batch.persist(local=False)  # locally only once the outputs behind it are out (below)
            values = self.table_log.take()
            self.route_players.write()
            players = self.players_log.take()
            outputs = self.deliveries.take()
        except Exception as exc:
            agent_crashed("checkpoint", exc)  # as if it had happened in the agent that applied it
            raise
        if not (values or players or outputs or any(entries)):
            saved = asyncio.get_running_loop().create_future()
            saved.set_result(True)
            return saved
        self._saving = asyncio.ensure_future(self._write_saved(generation, outputs, entries, values, players))
        return self._saving

    async def _write_saved(self, generation: Any, outputs: list, entries: tuple[list, list], values: list,
                           players: list) -> bool:
        """A save's records, in the order replays rely on: the outputs are on the broker, then the
        window entries, bet ids and players, then the values (tables/activity.py), each step under
        the membership lease of the assignment they were applied in."""
        try:
            await Deliveries.settle_all(outputs)
            await self._hold_saved(generation)
            activity, bet_ids = entries
            self.players_log.store(players)
            self.route_players.saved()
            await asyncio.gather(self.activity_log.flush(activity), self.bet_ids_log.flush(bet_ids),
                                 self.players_log.flush(players))
            await self._hold_saved(generation)
            self.table_log.store(values)
            await self.table_log.flush(values)
            return True
        except MembershipLost as exc:
            log.warning("unsaved writes given up", extra={"values": len(values), "error": str(exc)})
            self._refuse(generation)
            return False
        except Exception as exc:
            if self.app.should_stop:  # the producer is stopping under it: the inputs come again
                log.warning("unsaved writes given up as the worker stops", extra={"error": repr(exc)})
                self._refuse(generation)
                return False
            agent_crashed("checkpoint", exc)  # as if it had happened in the agent that applied it
            raise

    def _refuse(self, generation: Any) -> None:
        """No more commits or writes in ``generation`` (if it is still the current one): the
        agents drop what they hold at their next batch (``_given_up``), under ``app.writes``."""
        if generation == self.app.consumer_generation_id:
            self._refuse_commits_in = generation

    async def _hold_saved(self, generation: Any) -> None:
        if self.app.consumer_generation_id != generation or self._refuse_commits_in == generation:
            raise MembershipLost("the assignment these writes were applied in is over")
        await self.hold_membership()

    async def _stored(self, key: bytes) -> Any:
        """The jackpot's value in the local store, once no save is writing it."""
        await self._after_save()
        return self.table.get(key)

    async def _after_save(self) -> None:
        """Writes of this worker's own go out after those of a save still under way: a later
        value of the same jackpot must not reach the changelog before the save's.  Raises
        ``MembershipLost`` once a save failed: what the local store holds then lacks its writes."""
        saving = self._saving
        if saving is not None and not saving.done():
            await asyncio.wait([saving])
        if self._refuse_commits_in == self.app.consumer_generation_id:
            raise MembershipLost("this assignment's unsaved writes were dropped: nothing more is written in it")

    def _delivery_failed(self, exc: BaseException) -> None:
        """A hot-path record the broker never got: stop at once, before a later record of the same
        partition is delivered past it (a jackpot's offset marks would then skip its bets on the
        replay).  The restarted worker produces it again from the committed offsets."""
        if self.app.should_stop:
            log.warning("output not delivered while the worker stops", extra={"error": repr(exc)})
            return
        agent_crashed("producer", exc)

    def _given_up(self, events: list[EventT]) -> bool:
        """At the start of a batch: True, and the batch released unapplied, while this assignment's
        unsaved writes have been dropped (``forget_unsaved``): applied over the table values that
        lack them, later inputs would raise the offset marks past the dropped ones.  The next
        assignment delivers them all again from the committed offsets."""
        self._check_unsaved()
        if self._refuse_commits_in != self.app.consumer_generation_id:
            return False
        self.forget_unsaved()
        self.app.consumer.release(ev.message for ev in events)
        return True

    def _check_unsaved(self) -> None:
        """Unsaved writes applied under an earlier assignment are never written: the revocation's
        commit saved them if the worker was still a member, and else they may belong to another
        worker now (the inputs behind them are delivered again from the committed offsets)."""
        generation = self.app.consumer_generation_id
        if generation == self._unsaved_generation:
            return
        if self.unsaved or self.route_players.changed or self.route_players.saving:
            log.warning("unsaved writes of an earlier assignment dropped", extra={"jackpots": len(self.unsaved)})
            self.forget_unsaved(refuse_commits=False)
        self._unsaved_generation = generation

    def forget_unsaved(self, refuse_commits: bool = True) -> None:
        """Drop every write not saved yet (and the states that hold them).  Their inputs are acked,
        so until the next assignment (which delivers them again from the committed offsets) no
        commit may pass them: commits are refused for the rest of this assignment."""
        self.unsaved.clear()
        self.route_players.forget()
        self.deliveries.forget()
        self.states.clear()
        for changelog in (self.table_log, self.activity_log, self.bet_ids_log, self.players_log):
            changelog.discard()
        if refuse_commits:
            self._refuse_commits_in = self.app.consumer_generation_id

    async def _apply_jackpot_batch(self, stream: faust.StreamT, key: bytes,
                                   evs: list[EventT]) -> "_JackpotBatch | None":
        """Apply one jackpot's share of a batch, publishing outputs before persisting state.

        Order per checkpoint: publish outputs -> flush -> write the table value.  A crash
        before the write replays the inputs from the persisted state, which reproduces
        the same outputs (same ids: consumers drop the copies); a crash after it skips
        them by their offset marks, and their outputs are already out.  Randomness is
        the one thing a replay would not reproduce, so cycle seeds are drawn a cycle
        ahead and persisted (and flushed) before anything derived from them is published.
        """
        jackpot_id = key.decode(errors="replace")
        compiled = self.configs.compiled.get(jackpot_id)
        if compiled is None and jackpot_id in self.configs.withdrawn:
            bind_partition(evs[-1])
            if key in self.unsaved or self.states.get(key) is not None or await self._stored(key) is not None:
                compiled = self.configs.withdrawn[jackpot_id]  # it runs on, faulted (below)
        if compiled is None:
            for ev in evs:
                if not await self._bounce_balance(jackpot_id, ev):
                    await self.dead("jackpot", ev.message, LookupError(f"no configuration for jackpot {jackpot_id!r}"))
            return None
        # Table reads and writes go to the RocksDB partition (and changelog partition) of
        # the stream's "current event". A batch can span partitions, so point it at this
        # jackpot's own events before touching its value.
        bind_partition(evs[-1])
        batch = _JackpotBatch(self, key, compiled, evs[-1])
        # the newest state is the unsaved one, whatever rebalance has begun since (until the
        # revocation's commit saves it, this worker still owns the partition)
        unsaved = self.unsaved.get(key)
        if unsaved is not None:
            batch.seen = unsaved.seen  # bet ids seen since the last save, not written yet
            cached = (unsaved.record, unsaved.state)
        else:
            cached = self.states.get(key)
        if cached is not None:
            batch.resume(*cached, now=self._first_timestamp(evs))
        else:
            await batch.open(await self._stored(key), self._first_timestamp(evs))
        p = self.pipeline
        if jackpot_id not in self.configs.compiled:
            await batch.fault(p.fault_lost_config(compiled, batch.state, batch.now), "jackpot config withdrawn")
        elif batch.state.successor and (took := batch.taken_version(fresh=cached is None)) is not None:
            batch.compiled = compiled = took
            if batch.record.config_version != took.fingerprint:  # taken, and a crash came before adopting it
                await batch.adopt_config()
        elif batch.record.config_version != compiled.fingerprint:
            await batch.adopt_config()
        batch.base = batch.compiled
        if batch.state.successor:  # pools that began their next cycle under a pending change use its amounts
            batch.compiled = compiled = succession.running(batch.base, batch.state)
        rejected = self.configs.errors.get(jackpot_id)
        if rejected is not None and jackpot_id in self.configs.compiled:
            await batch.fault(p.fault_rejected_config(compiled, batch.state, rejected, batch.now, batch.record.sequence),
                              "jackpot config version rejected")
        for ev in evs:
            msg = ev.message
            try:
                name, rec = CONTRIBUTIONS.decode(self.codec, ev.value, expect=INPUT_SCHEMAS)
            except DecodeError as exc:
                await self.dead("jackpot", ev.message, exc)
                continue
            if name in CONTRIBUTION_SCHEMAS:
                for req in await self.unbatched("jackpot", msg, CONTRIBUTIONS, name, rec):
                    if batch.record.already_applied_bet(req["source_partition"], req["source_offset"]):
                        continue  # replay after a crash: this bet is already in the state
                    if not await self._first_sight(batch, msg, req):
                        continue
                    batch.contribute(req)
                    if batch.state.successor:
                        await batch.succeed()
                    if batch.record.seeds_consumed:
                        await batch.checkpoint()
            else:
                if batch.record.already_applied_input(msg.topic, msg.offset):
                    continue
                if name == "OperatorCommand" and not self._first_command(batch, msg, ev.value, rec):
                    continue
                batch.apply_input(name, rec, msg.topic, msg.offset)
                if batch.state.successor:
                    await batch.succeed()
                if batch.record.seeds_consumed:
                    await batch.checkpoint()
        compiled = batch.compiled
        if batch.dirty:  # regulatory item 11: the meters of every pool reconcile, else the jackpot is faulted
            await batch.fault(p.self_check(compiled, batch.state, batch.now, batch.record.sequence),
                              "jackpot self-check failed")
        return batch

    async def _bounce_balance(self, jackpot_id: str, ev: EventT) -> bool:
        """A balance another jackpot sent to a jackpot this system has no configuration for goes
        back to its sender (engine/balances.py) instead of into the dead letters: the sender keeps
        waiting for an answer, and the money must not stay on the commands topic."""
        try:
            name, rec = self.codec.decode(ev.value)
        except DecodeError:
            return False
        if name != "OperatorCommand" or rec.get("action") != balances.RECEIVE or rec.get("actor") != balances.ACTOR:
            return False
        back = balances.bounce(to_jackpot=str(rec["other_jackpot_id"]), from_jackpot=jackpot_id,
                               command_id=str(rec["event_id"]), level_id=str(rec.get("source_level_id") or ""),
                               level_order=int(rec.get("source_level_order") or 0), currency=str(rec["currency"]),
                               amount=to_micros(rec["amount"]), why=f"no jackpot {jackpot_id} in this system",
                               now=P.ms(rec["timestamp"]))
        for wire in encode_event(back):
            await (await self.produce(self.out_topics[wire.topic.name], wire.key or jackpot_id.encode(), wire.value))
        log.warning("balance sent to an unknown jackpot returned", extra={"jackpot_id": jackpot_id,
                                                                         "sender": back.jackpot_id})
        return True

    async def _first_sight(self, batch: "_JackpotBatch", msg: Any, req: dict) -> bool:
        """Idempotency by bet id (tables/betids.py): False for a provider's resend of a bet this
        jackpot has seen, which is counted, and dead-lettered when its content differs."""
        seen = batch.seen.check(req, P.ms(req["timestamp"]))
        if seen in (betids.NEW, betids.REPLAY):
            return True
        M.DUPLICATE_BETS.labels(seen).inc()
        if seen == betids.CONFLICT:
            bets = SimpleNamespace(topic=self.settings.topic(T.BETS.name), partition=req["source_partition"],
                                   offset=req["source_offset"], key=req["player_id"].encode(), headers=None)
            await self.dead("dedup", bets, ConflictingDuplicate(
                f"conflicting duplicate: bet {req['bet_id']} was first seen with other content at bets "
                f"{self._first_coordinates(batch, req)}; this copy is not applied"),
                value=self.codec.encode("ContributionRequest", req))
        return False

    @staticmethod
    def _first_command(batch: "_JackpotBatch", msg: Any, value: bytes, rec: dict) -> bool:
        """Idempotency by command id: the admin API's outbox may deliver a command twice (sent, then
        a crash before it was marked sent); the copy at another offset is not applied again."""
        seen = batch.seen.check_id(betids.command_key(str(rec["event_id"])), (msg.partition, msg.offset),
                                   hashlib.blake2b(value, digest_size=16).digest(), P.ms(rec["timestamp"]))
        if seen in (betids.NEW, betids.REPLAY):
            return True
        log.warning("operator command delivered again; not applied twice",
                    extra={"command_id": str(rec["event_id"]), "jackpot_id": str(rec.get("jackpot_id")),
                           "offset": msg.offset, "verdict": seen})
        return False

    @staticmethod
    def _first_coordinates(batch: "_JackpotBatch", req: dict) -> str:
        where = batch.seen.first_seen(str(req["bet_id"]), P.ms(req["timestamp"]))
        return f"partition {where[0]} offset {where[1]}" if where else "an earlier offset"

    def _first_timestamp(self, evs: list[EventT]) -> int:
        """Time of the first input, so a jackpot's creation is stamped by its cause."""
        return int(evs[0].message.timestamp * 1000)

    # -------------------------------------------------------------------- time
    async def clock(self) -> None:
        """Leader only: one tick to every partition, so time-driven work (deadlines,
        retries, approvals, cascades) runs inside the partitions, in order with the rest."""
        now = dt.datetime.now(dt.timezone.utc)
        self._tick += 1
        interval = int(self.settings.clock_interval_s * 1000)
        for p in range(self.settings.partitions):
            tick = {"event_id": event_id("ClockTick", "", None, None, f"{p}:{int(now.timestamp() * 1000)}"),
                    "timestamp": now, "partition": p, "sequence": self._tick, "interval_ms": interval}
            try:
                await self.jackpot_inputs.send(key=TICK_KEY + str(p).encode(), partition=p,
                                               value=self.codec.encode("ClockTick", tick))
            except Exception as exc:  # a timer that raises stops for good; the next tick catches up
                log.error("clock tick not sent", extra={"partition": p, "error": repr(exc)})

    async def reconcile(self) -> None:
        """Leader only: the scheduled ledger-versus-table reconciliation (streams/reconciler.py)."""
        try:
            await reconcile_and_act(self.settings)
        except Exception as exc:  # the next run retries; the alert is the missing result event
            log.error("reconciliation run failed", extra={"error": repr(exc)})

    async def budget_check(self) -> None:
        """Leader only: the budget alerts and constraint limits (streams/budget.py)."""
        try:
            await check_and_alert(self.settings)
        except Exception as exc:  # the next run retries
            log.error("budget check failed", extra={"error": repr(exc)})

    # --------------------------------------------------------------- commands
    async def commands_agent(self, stream: faust.StreamT) -> None:
        """Operator commands -> the jackpot's input log, unchanged and on the same partition.

        The admin API's principal may publish commands but not contributions, so commands keep a
        topic of their own, and this copies each into the log the jackpot agent applies in order.
        A command is acknowledged once its copy is on the broker; a crash before that copies it
        again, and the jackpot applies a command id once (``_first_command``)."""
        guard = self.commands_guard
        async for event in stream.events():
            try:
                for ev in await guard.admit_all(event):
                    await self._copy_command(ev)
                if guard.refilled:
                    self._settle_refilled(guard)
            except BaseException:
                # not copied: Faust acks an event its agent leaves, even with an error while the
                # worker stops, and the commit must not pass a command that never reached the log
                guard.take_refilled()
                self.app.consumer.release([event.message])
                raise

    async def _copy_command(self, ev: EventT) -> None:
        msg = ev.message
        M.EVENTS_IN.labels(self.logical(msg.topic)).inc()
        if msg.key is None or is_tick(msg.key):  # a clock tick's key is for every jackpot of a partition
            await self.dead("commands", msg, ValueError(f"an operator command needs a jackpot id key, not {msg.key!r}"))
            return
        try:  # only commands: the admin principal must not get contributions, ticks or wallet results in
            self.codec.decode(ev.value, expect="OperatorCommand")
        except DecodeError as exc:
            await self.dead("commands", msg, exc)
            return
        partition = partition_for(msg.key, self.settings.partitions)  # the jackpot's, whatever it came on
        await (await self.jackpot_inputs.send(key=msg.key, value=ev.value, partition=partition))

    async def payout_agent(self, stream: faust.StreamT) -> None:
        """Wallet credit commands -> one idempotent wallet call each -> results on the
        jackpot's partition. Retries are the engine's (by attempt number, on clock ticks)."""
        async with aiohttp.ClientSession() as session:
            async for event in stream.events():
                try:
                    _, cmd = self.codec.decode(event.value, expect="WalletCreditCommand")
                except DecodeError as exc:
                    await self.dead("payout", event.message, exc)
                    continue
                with M.WALLET_CALL_SECONDS.time():
                    result = await call_wallet(session, self.settings.wallet_url, cmd)
                M.WALLET_CALLS.labels(M.wallet_outcome(result)).inc()
                await self.jackpot_inputs.send(
                    key=event.message.key, value=self.codec.encode("WalletCreditResult", result))

class _Players:
    """The players the router changed since the last save: each read once from the table, each
    written back once by the save, after the requests of the bets it counts are delivered."""

    def __init__(self, table: faust.Table, changelog: Changelog) -> None:
        self.table = table
        self.changelog = changelog
        self.changed: dict[bytes, tuple[int, dict]] = {}  # player key -> (partition, value)
        self.saving: dict[bytes, bytes] = {}  # taken by a save, not in the local store yet

    def get(self, key: bytes, event: EventT) -> dict:
        """The player's value, to change in place, from the store of ``event``'s partition (the
        bets, profiles and sessions topics and the table share their partitioning)."""
        found = self.changed.get(key)
        if found is None:
            partition = event.message.partition
            raw = self.saving.get(key) or self.changelog.db(partition).get(key)
            found = self.changed[key] = (partition, P.new_player() if raw is None else self.table.data._decode_value(raw))
        return found[1]

    def write(self) -> None:
        """Queue each changed player's record (encoded once); the save writes it in the local store
        once the requests of the bets it counts are out (``saved``), and reads see it here until then."""
        encode = self.table.data._encode_value
        for key, (partition, player) in self.changed.items():
            value = encode(player)
            self.changelog.queue(partition, key, value)
            self.saving[key] = value
        self.changed.clear()

    def saved(self) -> None:
        self.saving.clear()

    def forget(self) -> None:
        self.changed.clear()
        self.saving.clear()


class _JackpotBatch:
    """One jackpot's state while a batch is applied, and the outputs waiting to go out."""

    def __init__(self, worker: Worker, key: bytes, compiled, last_event: EventT) -> None:
        self.w = worker
        self.key = key
        self.compiled = compiled
        self.base = compiled  # the version itself (``compiled`` may also carry a pending change's amounts)
        self.last_event = last_event
        self.record: JackpotRecord
        self.state = None
        self.outputs: list[tuple[faust.TopicT, bytes, bytes | None]] = []  # (topic, value, key or None: ours)
        self.touched: set[tuple[str, str]] = set()
        self.now = 0
        self.dirty = False
        self.bet_times: list[int] = []  # bet timestamps of the contributions applied (event-age metric)
        self.ledger = Collector(LEDGER)  # this batch's ContributionApplied entries
        self.seen = worker.bet_ids.batch(last_event.message.partition, key)  # bet ids (tables/betids.py)

    def resume(self, record: JackpotRecord, state, now: int) -> None:
        """Continue from the objects this process applied last (see streams/statecache.py), at
        the time of its last input (``now``, the first input's time, for a value without one)."""
        self.record, self.state, self.now = record, state, record.clock or now

    async def open(self, stored: dict | None, now: int) -> None:
        p = self.w.pipeline
        self.now = now
        if stored:
            self.record = decode_record(stored, jackpot_id=self.key.decode())  # a value copied under another key fails
            self.now = self.record.clock or now
            self.state = p.load_state(self.record.state)
            self.load_window()
            return
        # First sight of this jackpot: persist its pools and pre-drawn seeds before any
        # output exists, then activate from those seeds.
        state = p.draft_state(self.compiled)
        self.record = JackpotRecord(p.dump_state(state), config_version=self.compiled.fingerprint)
        self.record.predraw_seeds([(pool.level_id, pool.currency) for pool in state.iter_pools()])
        self.state = state
        await self.w.hold_membership()
        self.persist()
        await self.w.durable()
        self.emit_engine_events(p.activate_if_active(self.compiled, state, self.record.take_seed, now))
        self.dirty = True
        await self.checkpoint()

    async def adopt_config(self) -> None:
        """Before the first input applied under a config version this state has not seen: pools
        the version adds start at once, a limit below a pool's amount faults the jackpot.  It runs
        at the start of a batch, where a replay from the persisted value runs it too.  The seeds of
        new pools are persisted before any output derived from them exists (as in :meth:`open`)."""
        w, p = self.w, self.w.pipeline
        new = p.new_pools(self.compiled, self.state)
        if new:
            # the state holds earlier batches whose outputs may still be in flight: they go
            # out, and their window entries and bet ids are written, before this value
            await self.checkpoint()
            self.record.predraw_seeds(new)
            await w.hold_membership()
            self.persist()
            await w.durable()
        self.emit_engine_events(p.adopt_config(self.compiled, self.state, self.record.take_seed, self.now))
        log.info("jackpot adopted a new config version", extra={
            "jackpot_id": self.key.decode(errors="replace"), "from": self.record.config_version,
            "to": self.compiled.fingerprint, "new_pools": len(new), "faulted": bool(self.state.fault)})
        self.record.config_version = self.compiled.fingerprint
        self.dirty = True
        await self.checkpoint()

    def taken_version(self, fresh: bool):
        """The next_cycle version this jackpot took at a reseed, while its live config record is
        still the version it replaced (the admin API publishes it a moment later), else None. A
        value fresh from the table sends the take's record again (same event id): a crash may
        have come between persisting the take and publishing its record."""
        if succession.superseded(self.state, self.compiled.fingerprint):
            self.dirty = True
            return None
        if fresh:
            self.emit_engine_events([succession.take_record(self.state, self.compiled.jackpot_id, self.now)])
            self.dirty = True
        return succession.taken(self.state)

    async def succeed(self) -> None:
        """After each input while a next_cycle change waits (before the seed checkpoint, so the take
        is written with the input that caused it). Pools that began their next cycle under it
        run under its amounts; once the last waited-for pool has, it is taken (engine/succession.py)
        and runs the jackpot from the next input on. The take is durable before its record leaves,
        so no one hears of a take a replay could miss."""
        state = self.state
        if not succession.due(state):
            self.compiled = succession.running(self.base, state)
            return
        await self.checkpoint()  # what came before it: out, then persisted
        succession.take(state, self.base.fingerprint)
        w = self.w
        await w.hold_membership()
        self.persist()
        await w.durable()
        self.emit_engine_events([succession.take_record(state, self.base.jackpot_id, self.now)])
        self.compiled = self.base = succession.taken(state)
        await self.adopt_config()  # publishes the record, persists again

    async def fault(self, events: list, why: str) -> None:
        """A fault the system raised (config withdrawn or rejected, a failed self-check): its
        contributions are held instead of applied or dead-lettered and the operator is alerted;
        checkpointed at once, like any input that changes the state."""
        if events:
            log.error(f"{why}: jackpot faulted", extra={"jackpot_id": self.key.decode(errors="replace"),
                                                         "reason": events[0].payload.get("reason")})
            self.emit_engine_events(events)
            self.dirty = True
            await self.checkpoint()

    def load_window(self) -> None:
        """The active-player window this value includes, from its per-player entries; a value
        from before they existed holds the window inline, and its next checkpoint writes them."""
        state, record = self.state, self.record
        if state.activity:
            for currency, by_player in state.activity.items():
                state.activity_changes.update(dict.fromkeys((currency, pid) for pid in by_player))
            return
        window = self.w.activity.load(self.partition, self.key, record.durable)
        state.activity = window.activity
        record.activity_gone, record.activity_ahead = window.gone, window.ahead

    @property
    def partition(self) -> int:
        return self.last_event.message.partition

    def write_activity(self) -> None:
        """Write the window entries and bet ids this batch changed, locally, and queue their
        changelog records (``Worker.write_window`` sends them)."""
        self.w.activity.write(self.partition, self.key, self.state, self.record)
        self.seen.write()

    def contribute(self, req: dict) -> None:
        outcome = self.w.pipeline.contribute(self.compiled, self.state, req)
        self.record.mark_bet(req["source_partition"], req["source_offset"])
        self.record.sequence += 1
        self.dirty = True
        self.now = self.record.clock = max(self.now, outcome.timestamp)
        self.bet_times.append(outcome.timestamp)
        if outcome.ledger is not None:
            self.ledger.add(outcome.ledger)
        self.touched.update(outcome.touched)
        # pipeline step 8: triggers, and the drop they may start
        out = self.w.pipeline.evaluate(self.compiled, self.state, req, outcome, self.record.take_seed)
        self.emit_engine_events(out.events)
        self.emit_engine_events(out.commands)

    def apply_input(self, name: str, rec: dict, topic: str, offset: int) -> None:
        """An operator command, a wallet result or a clock tick, applied in partition order."""
        out = self.w.pipeline.apply_input(self.compiled, self.state, name, rec, self.record.take_seed)
        self.record.mark_input(topic, offset)
        self.record.sequence += 1
        self.dirty = True
        self.now = self.record.clock = max(self.now, out.now)
        self.emit_engine_events(out.events)
        self.emit_engine_events(out.commands)
        if name == "ClockTick":
            self.count_players(out.now, int(rec.get("interval_ms") or 1000))

    def count_players(self, now: int, interval_ms: int) -> None:
        """Every few seconds of tick time: how many players chase this jackpot (deterministic
        from the state and the tick, so a replay publishes the same event)."""
        if now // PLAYERS_COUNT_EVERY_MS == (now - interval_ms) // PLAYERS_COUNT_EVERY_MS:
            return
        w = self.w
        counts = w.pipeline.active_players(self.compiled, self.state, now)
        self.outputs.append((w.out_topics[T.ACTIVE_PLAYERS.name], w.codec.encode("ActivePlayers", counts), None))

    def emit_engine_events(self, events) -> None:
        for e in events:
            if e.event_type == "PoolUpdated":
                self.touched.add((e.payload["level_id"], e.payload["currency"]))
            else:
                for wire in encode_event(e):
                    self.outputs.append((self.w.out_topics[wire.topic.name], wire.value, wire.key))

    async def publish(self) -> list:
        """Send the pending outputs (PoolUpdated coalesced to one per touched pool); return
        the delivery futures."""
        w = self.w
        for level_id, currency in sorted(self.touched):
            update = w.pipeline.pool_updated(self.compiled, self.state, level_id, currency,
                                            self.record.sequence, self.now)
            self.outputs.append((w.pool_updated_topic, w.codec.encode("PoolUpdated", update), None))
        self.touched.clear()
        for _, value, _ in self.ledger.drain():
            self.outputs.append((w.ledger_topic, value, None))
        sent = [await w.produce(topic, key or self.key, value) for topic, value, key in self.outputs]
        for topic, n in Counter(topic for topic, _, _ in self.outputs).items():
            M.EVENTS_OUT.labels(w.logical(topic.get_topic_name())).inc(n)
        self.outputs.clear()
        return sent

    def persist(self, local: bool = True) -> None:
        """Write the table value locally and queue its changelog record (``Worker.durable``
        sends it and waits for it); ``local=False``: the caller writes it locally later."""
        self.record.state = self.w.pipeline.dump_state(self.state, share=True, activity=False)
        self.record.durable = self.record.sequence
        value = encode_record(self.record)  # now, before the shared records change
        if local:
            self.w.table_log.write(self.partition, self.key, value)
        else:
            self.w.table_log.queue(self.partition, self.key, value)
        self.record.seeds_consumed = False
        self.dirty = False

    async def checkpoint(self) -> None:
        """Mid-batch ``Worker.write`` of this jackpot alone: used after a seed was consumed, so
        the replacement seed is durable before a later input of this batch can use it."""
        await self.w.write([self])


def _closer(worker: Worker) -> Any:
    """A service that closes the worker's own connections when the app stops."""
    import mode

    class Closer(mode.Service):
        async def on_started(self) -> None:
            await worker.health.start()
            if worker.sinks is not None:
                await worker.sinks.start()

        async def on_stop(self) -> None:
            if worker.sinks is not None:
                await worker.sinks.stop()
            await worker.configs.stop()
            await worker.holes.close()
            await worker.group_offsets.close()
            await worker.health.stop()

    return Closer


AGENT_CRASHED = 70  # exit code of a worker whose agent raised (EX_SOFTWARE)


def agent_crashed(name: str, exc: BaseException) -> None:
    """Log why, and end the process at once, as a SIGKILL would: whatever the agent had not
    committed is applied again by the restarted worker (the tables and sinks are built for it)."""
    M.AGENT_CRASHES.labels(name).inc()
    log.critical("agent crashed; exiting so that the worker is restarted", exc_info=exc,
                 extra={"agent": name, "exit_code": AGENT_CRASHED})
    for handler in logging.getLogger().handlers:
        handler.flush()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(AGENT_CRASHED)


def restart_worker(tp: Any, offset: int) -> None:
    """Start this worker afresh in the same process (same pid, so a supervisor sees no crash).

    Like a SIGKILL followed by a restart, which the tables and sinks are built to survive: the new
    consumer resumes from the committed offsets, and those never pass a hole.
    """
    log.critical("input hole not refilled by seeking back: restarting the worker",
                 extra={"topic": tp.topic, "partition": tp.partition, "expected": offset})
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def build_worker(settings: Settings) -> Worker:
    return Worker(settings)


def run_worker(settings: Settings, log_level: str = "info") -> None:
    """Create topics and schema if needed, then run until SIGTERM/SIGINT."""
    from jackpot.sinks.migrate import migrate
    from jackpot.streams.topics import ensure_changelogs, ensure_topics

    worker = build_worker(settings)

    async def prepare() -> None:
        await ensure_topics(settings)
        await ensure_changelogs(settings, worker.app.tables.values())
        await migrate(settings.database_url)

    # on the loop the app was built on and will run on (asyncio.run would close it)
    asyncio.get_event_loop().run_until_complete(prepare())
    faust_worker = faust.Worker(worker.app, loglevel=log_level.upper(), quiet=True,
                                override_logging=False)
    faust_worker.execute_from_commandline()
