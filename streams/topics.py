"""The topic catalogue: every topic this system reads or writes, with its partitioning.

Source topics are created up front with the partition count we mean, because an
auto-created one-partition topic would silently break co-partitioning between the
jackpot inputs and the changelog of the table keyed by ``jackpot_id``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from jackpot.settings import Settings
from jackpot.streams.kafka import client_options

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str  # what the key is; documents the partitioning
    compacted: bool = False
    partitions: int | None = None  # None: the app's partition count
    config: dict[str, str] = field(default_factory=dict)


# Inputs from providers and the platform.  The broker stamps each message with the time it
# appended it (LogAppendTime): that is the engine's time for the message, which no provider can
# set (docs/providers.md).  The provider's own timestamp stays in the record, for reporting.
RECEIVED_TIME = {"message.timestamp.type": "LogAppendTime"}
BETS = TopicSpec("bets", key="player_id", config=RECEIVED_TIME)
SESSIONS = TopicSpec("player-sessions", key="player_id", config=RECEIVED_TIME)  # PlayerSessionStart / End
PLAYERS = TopicSpec("player-profiles", key="player_id", compacted=True, config=RECEIVED_TIME)  # PlayerProfile
# Internal, keyed by jackpot_id and co-partitioned with the jackpot table.  The single writer of a
# jackpot reads every input that changes it from one log, so that a replay after a crash meets
# them in the order they were first applied: the router's contribution batches, the operator
# commands copied from their own topic, wallet credit results and clock ticks (key "tick:<p>",
# one per partition per tick).
CONTRIBUTIONS = TopicSpec("jackpot-contributions", key="jackpot_id")
COMMANDS = TopicSpec("operator-commands", key="jackpot_id")  # OperatorCommand, from the admin API
# Jackpot configuration (latest per jackpot), read by every worker.
CONFIGS = TopicSpec("jackpot-configs", key="jackpot_id", compacted=True)
# Outbound events of the specification (CRM, gateway, reporting consume these).
POOL_UPDATED = TopicSpec("pool-updated", key="jackpot_id")
JACKPOT_WON = TopicSpec("jackpot-won", key="jackpot_id")
JACKPOT_RESEEDED = TopicSpec("jackpot-reseeded", key="jackpot_id")
WARN_THRESHOLD = TopicSpec("warn-threshold-reached", key="jackpot_id")
STATE_CHANGED = TopicSpec("jackpot-state-changed", key="jackpot_id")
APPROACHING_MAX = TopicSpec("pool-approaching-max", key="jackpot_id")
# Players chasing each jackpot (ActivePlayers, latest per jackpot), for the tickers.
ACTIVE_PLAYERS = TopicSpec("active-players", key="jackpot_id", compacted=True)
# Every other engine event (warn states, approvals, payout alerts, cascades...).
ENGINE_EVENTS = TopicSpec("jackpot-events", key="jackpot_id")
# Audit-only events (revealed seeds, winner snapshots, operator actions).
AUDIT = TopicSpec("audit-events", key="jackpot_id")
# Payout: commands to the wallet adapter.
WALLET_COMMANDS = TopicSpec("wallet-credit-commands", key="jackpot_id")
# Ledger events for the PostgreSQL sink.
LEDGER = TopicSpec("ledger-contributions", key="jackpot_id")
# Anything that could not be processed, kept whole with the reason.
DEAD_LETTERS = TopicSpec("dead-letters", key="source key", partitions=1)
# Signed checkpoints of the audit chain's head (sinks/checkpoints.py): kept forever (neither
# deleted nor compacted; keyed by seq besides), one partition so they read back in order.
AUDIT_CHECKPOINTS = TopicSpec("audit-checkpoints", key="chain seq", partitions=1,
                              config={"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"})

# Campaign automation (streams/campaigns.py; JSON values, internal to it and the admin API).
# Rules (the current version of each, with the versions a manager approved) and the kill switch,
# written by the admin API and read whole by every campaigns process.
CAMPAIGN_RULES = TopicSpec("campaign-rules", key="rule_id", compacted=True)
CAMPAIGN_CONTROL = TopicSpec("campaign-control", key="switch name", compacted=True, partitions=1)
# A live fire's share for one player, from the jackpot stage to the player stage.
CAMPAIGN_CANDIDATES = TopicSpec("campaign-candidates", key="player_id")
# Actions admitted for delivery, each with its deterministic id (the receivers' idempotency key).
CAMPAIGN_ACTIONS = TopicSpec("campaign-actions", key="player_id or fire id")
# What happened to every fire and action (planned, refused, dry run, delivered, failed): the log.
CAMPAIGN_LOG = TopicSpec("campaign-log", key="rule_id")
# The campaigns process's own clock (key "tick:<p>", one per partition per tick), co-partitioned
# with the jackpot stage's inputs: deadline triggers are read from it in order like any input.
CAMPAIGN_TICKS = TopicSpec("campaign-ticks", key="tick:<partition>", config={"retention.ms": str(24 * 3600 * 1000)})
# Banners, takeovers and overlays, for the public gateway to show (no player data: a jackpot and a template).
CAMPAIGN_SURFACES = TopicSpec("campaign-surfaces", key="jackpot_id", config={"retention.ms": str(24 * 3600 * 1000)})
CAMPAIGN_TOPICS = (CAMPAIGN_RULES, CAMPAIGN_CONTROL, CAMPAIGN_CANDIDATES, CAMPAIGN_ACTIONS, CAMPAIGN_LOG, CAMPAIGN_TICKS,
                   CAMPAIGN_SURFACES)

ALL = (BETS, SESSIONS, PLAYERS, CONTRIBUTIONS, COMMANDS, CONFIGS,
       POOL_UPDATED, JACKPOT_WON, JACKPOT_RESEEDED, WARN_THRESHOLD, STATE_CHANGED, APPROACHING_MAX,
       ACTIVE_PLAYERS, ENGINE_EVENTS, AUDIT, WALLET_COMMANDS, LEDGER, DEAD_LETTERS, AUDIT_CHECKPOINTS,
       *CAMPAIGN_TOPICS)


def topic_config(spec: TopicSpec) -> dict[str, str]:
    cfg = {"cleanup.policy": "compact" if spec.compacted else "delete"}
    if not spec.compacted:
        cfg["retention.ms"] = str(7 * 24 * 3600 * 1000)
    cfg.update(spec.config)
    return cfg


async def ensure_topics(settings: Settings, specs=ALL) -> list[str]:
    """Create missing topics; return the names created. Existing ones are left as they are."""
    return await create_missing(settings, [
        NewTopic(name=settings.topic(s.name), num_partitions=s.partitions or settings.partitions,
                 replication_factor=1, topic_configs=topic_config(s))
        for s in specs
    ])


async def ensure_changelogs(settings: Settings, tables) -> list[str]:
    """Create the Faust tables' changelog topics before the worker starts, as they are declared.

    Faust creates them itself at start-up, but on a fresh broker its consumer's metadata may not
    have them yet when the first event arrives: every table write then fails ("changelog topic
    has 0 partitions") until the metadata is refreshed, minutes later.
    """
    wanted = {t.changelog_topic.get_topic_name(): (t.changelog_topic.partitions, dict(t.changelog_topic.config or {}))
              for t in tables}
    created = await create_missing(settings, [
        NewTopic(name=name, num_partitions=partitions, replication_factor=1, topic_configs=config)
        for name, (partitions, config) in wanted.items()
    ])
    await align_configs(settings, {name: config for name, (_, config) in wanted.items() if name not in created})
    return created


async def align_configs(settings: Settings, wanted: dict[str, dict[str, str]]) -> list[str]:
    """Give existing topics the settings they are declared with (a changelog created before its
    compaction settings changed keeps the old ones otherwise); return the topics changed.

    AlterConfigs replaces a topic's whole set of its own settings, so the ones it has and we do not
    declare are sent back unchanged.  A principal without the right is told in the log, not
    stopped: the topic still works, it only compacts as it was told before."""
    if not wanted:
        return []
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    changed = []
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in wanted])
        resources = []
        for response in described:
            for res in response.to_object()["resources"]:
                name = res["resource_name"]
                if res["error_code"] or name not in wanted:
                    continue
                current = {e["config_names"]: e["config_value"] for e in res["config_entries"]}
                own = {e["config_names"]: e["config_value"] for e in res["config_entries"]
                       if e["config_source"] == TOPIC_CONFIG_SOURCE}
                if any(current.get(k) != v for k, v in wanted[name].items()):
                    resources.append(ConfigResource(ConfigResourceType.TOPIC, name, configs={**own, **wanted[name]}))
        if resources:
            for response in await admin.alter_configs(resources):
                for res in response.to_object()["resources"]:
                    if res["error_code"]:
                        log.warning("topic settings not changed", extra={
                            "topic": res["resource_name"], "error_code": res["error_code"],
                            "error": res["error_message"]})
                    else:
                        changed.append(res["resource_name"])
        if changed:
            log.info("topic settings aligned with their declaration", extra={"topics": sorted(changed)})
        return changed
    except KafkaError as exc:
        log.warning("topic settings not checked", extra={"error": repr(exc)})
        return changed
    finally:
        await admin.close()


TOPIC_CONFIG_SOURCE = 1  # DescribeConfigs: a setting of the topic itself (not a broker default)


async def create_missing(settings: Settings, topics: list[NewTopic]) -> list[str]:
    """Create those of ``topics`` that do not exist; return the names created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:  # another process won the race
                pass
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def delete_app_topics(settings: Settings) -> list[str]:
    """Delete every topic of this app: its prefixed topics and Faust's ``<app_id>-...`` changelogs.

    For throw-away deployments (tests, benchmarks): each keeps files open on the broker
    for every partition, and a broker that runs out of descriptors takes its log dir offline.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        owned = (settings.app_id + "-", settings.app_id + ".")  # the worker's and the campaigns app's changelogs
        mine = [t for t in await admin.list_topics()
                if (settings.topic_prefix and t.startswith(settings.topic_prefix)) or t.startswith(owned)]
        if mine:
            await admin.delete_topics(mine)
        return mine
    finally:
        await admin.close()
