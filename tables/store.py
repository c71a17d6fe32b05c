"""How tables are stored locally: rocksdict, sized for many partitions on a small machine.

RocksDB's defaults (2 GiB block cache, 3 x 64 MiB write buffers) apply per partition
per table; with a dozen partitions that is memory no worker has, so every table
opens its databases with these explicit sizes.
"""

ROCKSDB_OPTIONS = {
    "driver": "rocksdict",
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 8 * 1024 * 1024,
    "max_open_files": 256,
}
