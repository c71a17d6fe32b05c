"""How tables are stored locally: rocksdict, sized for many partitions on a small machine.

RocksDB's defaults (2 GiB block cache, 3 x 64 MiB write buffers) apply per partition
per table; with a dozen partitions that is memory no worker has, so every table
opens its databases with these explicit sizes.
"""

from typing import Any

ROCKSDB_OPTIONS = {
    "driver": "rocksdict",
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 8 * 1024 * 1024,
    "max_open_files": 256,
}


# Every changelog compacts young: Kafka's defaults (1 GiB segments, a 7-day roll, cleaning only
# once half the log is dirty) never compact the active segment, so a changelog younger than a
# week was replayed whole at every recovery, a record per write since the first.  Small segments
# that roll every 10 minutes, cleaned once a tenth is dirty and at the latest 15 minutes after a
# write, keep a recovery close to one record per live key.  Tombstones stay an hour (a restore
# that reads past one in that time still sees the delete).
CHANGELOG_CONFIG = {
    "cleanup.policy": "compact",  # compact only: "compact,delete" can stall recovery forever (faust #176)
    "segment.ms": str(10 * 60 * 1000),
    "segment.bytes": str(64 * 1024 * 1024),
    "min.cleanable.dirty.ratio": "0.1",
    "max.compaction.lag.ms": str(15 * 60 * 1000),
    "delete.retention.ms": str(3600 * 1000),
}


def changelog_config(**overrides: str) -> dict[str, str]:
    """A table's changelog topic settings: ``CHANGELOG_CONFIG`` with ``overrides``."""
    return {**CHANGELOG_CONFIG, **overrides}


def bytes_table(app: Any, settings: Any, name: str, help: str, table_class: Any = None, **topic_config: str) -> Any:
    """A table of raw bytes keys and values on RocksDB, with a compacted changelog.

    ``topic_config`` overrides changelog settings (``CHANGELOG_CONFIG``);
    ``table_class``, a ``faust.Table`` subclass, changes how the changelog is applied."""
    if table_class is not None:
        return app.tables.add(table_class(
            app, name=name, default=None, beacon=app.tables.beacon, partitions=settings.partitions,
            key_type=bytes, value_type=bytes, extra_topic_configs=changelog_config(**topic_config),
            options=dict(ROCKSDB_OPTIONS), help=help))
    return app.Table(
        name,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes -> "raw" on the changelog
        value_type=bytes,
        extra_topic_configs=changelog_config(**topic_config),
        options=dict(ROCKSDB_OPTIONS),
        help=help,
    )
