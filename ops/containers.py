"""The same three services from testcontainers, for machines with a Docker engine.

Selected with ``JACKPOT_STACK=containers`` (test fixtures); the local-process stack
of ``ops/stack.py`` stays the default and the one CI uses.  The images match the
local stack: Kafka in KRaft mode, PostgreSQL 15, Redis 7.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.1"  # Apache Kafka 3.9 line, KRaft
POSTGRES_IMAGE = "postgres:15"
REDIS_IMAGE = "redis:7"


@contextmanager
def container_stack() -> Iterator[dict[str, str]]:
    """Start Kafka, PostgreSQL and Redis containers; yield the environment that points at them."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka, \
            PostgresContainer(POSTGRES_IMAGE, username="postgres", password="jackpot", dbname="jackpot",
                              driver=None) as pg, \
            RedisContainer(REDIS_IMAGE) as redis:
        redis_host = redis.get_container_host_ip()
        redis_port = redis.get_exposed_port(6379)
        yield {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(),
            "DATABASE_URL": pg.get_connection_url(),
            "REDIS_URL": f"redis://{redis_host}:{redis_port}/0",
        }
