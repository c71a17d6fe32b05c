"""The players table: what the router knows about each player (see streams/players.py).

Keyed by ``player_id`` like the bets, profiles and sessions topics, so its partitions follow
the router's inputs; the router agent is its single writer.
"""

from __future__ import annotations

import faust

from jackpot.settings import Settings
from jackpot.tables.store import ROCKSDB_OPTIONS, changelog_config

TABLE_NAME = "players"


def players_table(app: faust.App, settings: Settings) -> faust.Table:
    return app.Table(
        TABLE_NAME,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        extra_topic_configs=changelog_config(),
        options=dict(ROCKSDB_OPTIONS),
        help="Profile, sessions and counted-bet marks per player (single writer: the router agent).",
    )
