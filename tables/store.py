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


def bytes_table(app: Any, settings: Any, name: str, help: str, table_class: Any = None, **topic_config: str) -> Any:
    """A table of raw bytes keys and values on RocksDB, with a compacted changelog.

    Compact only: "compact,delete" can stall changelog recovery forever (faust #176).
    ``topic_config`` adds changelog settings (segment roll, tombstone retention...);
    ``table_class``, a ``faust.Table`` subclass, changes how the changelog is applied."""
    if table_class is not None:
        return app.tables.add(table_class(
            app, name=name, default=None, beacon=app.tables.beacon, partitions=settings.partitions,
            key_type=bytes, value_type=bytes, extra_topic_configs={"cleanup.policy": "compact", **topic_config},
            options=dict(ROCKSDB_OPTIONS), help=help))
    return app.Table(
        name,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,  # bytes -> "raw" on the changelog
        value_type=bytes,
        extra_topic_configs={"cleanup.policy": "compact", **topic_config},
        options=dict(ROCKSDB_OPTIONS),
        help=help,
    )
