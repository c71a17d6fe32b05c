"""Small helpers around aiokafka for the processes that are not Faust workers."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from aiokafka import AIOKafkaProducer

from jackpot.settings import Settings


@asynccontextmanager
async def producer(settings: Settings, **overrides) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent, acks=all producer: no reordering or duplicates on retry."""
    opts = dict(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=None,
    )
    opts.update(overrides)
    prod = AIOKafkaProducer(**opts)
    await prod.start()
    try:
        yield prod
    finally:
        await prod.stop()
