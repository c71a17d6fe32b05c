"""The Faust application: one app per process, configured from :class:`Settings`.

Everything that touches a jackpot's state runs in agents of this app, partitioned by
``jackpot_id``; the app itself only carries the shared configuration that makes that
safe (pre-created topics, at-least-once commits after a producer flush, rocksdict
stores sized explicitly, standby replicas when configured), and a consumer that never commits
past a message it has not finished (streams/transport.py).
"""

from __future__ import annotations

import faust

from jackpot.settings import Settings
from jackpot.streams.kafka import faust_credentials
from jackpot.streams.recovery import JackpotTableManager
from jackpot.streams.transport import JackpotApp
from jackpot.tables.jackpots import MAX_VALUE_BYTES


def create_app(settings: Settings) -> faust.App:
    app = JackpotApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        # SASL_SSL with the worker's own principal (None: PLAINTEXT, development only).
        broker_credentials=faust_credentials(settings),
        store="rocksdb://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        # Source topics are created by `jackpot topics`/the worker start-up with the
        # partition count we mean; Faust must not invent its own.
        topic_allow_declare=True,
        table_standby_replicas=settings.standby_replicas,
        # Faust's recovery with the faults that made standbys unsafe fixed (streams/recovery.py)
        TableManager=JackpotTableManager,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        # Commits come from the 1 s timer only: a commit saves what the agents applied
        # (streams/worker.py), and one triggered by a message count runs inside Faust's fetch
        # loop, which delivers nothing meanwhile.
        broker_commit_every=1_000_000,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        consumer_group_instance_id=settings.group_instance_id or None,
        # Each commit saves what the agents applied since the last (streams/worker.py): a worker
        # killed replays at most this much from its saved values (the same inputs in the same
        # order: every input of a jackpot is in one log; configuration changes are the exception,
        # see README "How no bet is lost").
        broker_commit_interval=0.25,
        producer_acks=-1,
        producer_linger_ms=settings.producer_linger_ms,
        producer_max_batch_size=settings.producer_max_batch_bytes,
        # Table values outgrow the 1 MB default with a busy jackpot's active players.
        producer_compression_type="lz4",
        producer_max_request_size=MAX_VALUE_BYTES,
        # On a rebalance, finish and ack every in-flight event (and flush what it
        # produced) before giving partitions up.  Without it, a worker losing a bets
        # partition keeps publishing contributions while the new owner re-publishes
        # the same offsets, and the two streams interleave on the jackpot partition.
        stream_wait_empty=True,
        # Health, readiness and metrics are served by the worker's own small HTTP
        # server (jackpot.metrics.HealthServer); Faust's web UI is not part of the product.
        web_enabled=False,
        # The table value already carries the ids of what it applied (see tables/),
        # so duplicates after a crash are skipped by the agent itself.
        stream_recovery_delay=0.0,
        recovery_consistency_check=True,
        key_serializer="raw",
        value_serializer="raw",
    )
    return app
