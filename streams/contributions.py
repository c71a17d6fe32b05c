"""Contribution requests travel from the router to the jackpot partitions in batches.

A request per (bet, jackpot) stays the unit the jackpot agent applies, deduplicates (by bets
partition and offset) and books; the router sends one ``ContributionBatch`` per jackpot per
router batch, the requests in bets-offset order (streams/batches.py says why).
"""

from __future__ import annotations

from typing import Any

from jackpot.streams.batches import Collector, Framing

FRAMING = Framing(batch="ContributionBatch", item="ContributionRequest", field="requests")
unpack = FRAMING.unpack


class Outbox(Collector):
    """The contribution requests of one router batch, grouped by jackpot."""

    def __init__(self, codec: Any) -> None:
        super().__init__(codec, FRAMING)

    def add(self, request: dict) -> None:  # type: ignore[override]
        super().add(request["jackpot_id"], request)


def requests_in(codec: Any, value: bytes) -> list[dict]:
    """Every request of one contributions-topic message (for tests, tools and benchmarks)."""
    return FRAMING.items_in(codec, value)
