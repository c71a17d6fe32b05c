"""Consumer-group lag on the real broker: the honest "drained" signal for tests under load.

"Nothing moved for a minute" is not drained on a busy machine, where a restarted worker
can take that long to import and recover; committed offsets against end offsets are.
"""

from __future__ import annotations

from jackpot.settings import Settings
from jackpot.streams.kafka import group_lag as _group_lag


async def group_lag(settings: Settings, group: str, topics: list[str]) -> tuple[int, int]:
    """(messages not yet committed by ``group`` on ``topics``, sum of its committed offsets)."""
    return await _group_lag(settings.kafka_bootstrap_servers, group, topics)
