"""The ``FraudAlert`` a detector raises: the pattern, who, where, and the evidence an operator
investigates.  Its id is deterministic (the pattern, the subject and the cooldown bucket the alert
falls in), so a replay of the same inputs raises the same alert, not a second one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jackpot:fraud")


class Pattern(str, Enum):
    MULTI_ACCOUNTING = "multi_accounting"
    BOT_PLAY = "bot_play"
    COLLUSION = "collusion"
    CONTRIBUTION_MANIPULATION = "contribution_manipulation"
    WIN_FREQUENCY = "win_frequency"
    VELOCITY_SPIKE = "velocity_spike"


@dataclass(frozen=True)
class FraudAlert:
    pattern: Pattern
    subject: str  # what the cooldown is per: a player, a device, a group
    player_ids: tuple[str, ...]
    jackpot_id: str | None
    at_ms: int
    since_ms: int  # the start of the evidence
    evidence: dict[str, Any] = field(default_factory=dict)
    bucket_ms: int = 3_600_000  # the engine's cooldown: at most one alert per subject per bucket

    @property
    def alert_id(self) -> str:
        """The pattern, the subject and the cooldown bucket the alert falls in: alerts of one
        subject a cooldown apart differ, the same alert raised again by a replay does not."""
        return str(uuid.uuid5(NAMESPACE, f"{self.pattern.value}|{self.subject}|{self.at_ms // self.bucket_ms}"))

    def to_dict(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "pattern": self.pattern.value, "subject": self.subject,
                "player_ids": list(self.player_ids), "jackpot_id": self.jackpot_id, "at_ms": self.at_ms,
                "since_ms": self.since_ms, "evidence": self.evidence}
