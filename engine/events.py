"""Outbound engine events as plain records with deterministic ids.

Every event carries ``event_id``, ``event_type``, ``event_version``, ``timestamp`` (UTC epoch
milliseconds, taken from the cause, never from a wall clock) and a JSON-compatible ``payload``
(money as int micros). The id is a UUIDv5 of the event type, the pool it concerns and its
cause (the source bet id or operator command id), so replaying the same input reproduces the
same ids and downstream consumers can deduplicate. ``uuid4`` is never used.

One generic record type (rather than a class per event) keeps the model open for the later
engagement products (cash drops, raffles) that share the bus.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVENT_NAMESPACE",
    "EVENT_VERSION",
    "EngineEvent",
    "event_id",
    "make_event",
    "POOL_UPDATED",
    "POOL_APPROACHING_MAX",
    "POOL_AT_MAX",
    "WARN_THRESHOLD_REACHED",
    "JACKPOT_STATE_CHANGED",
    "JACKPOT_RESEEDED",
    "CYCLE_STARTED",
    "CYCLE_REVEALED",
    "WIN_RECORDED",
    "POOL_ADJUSTED",
    "RESERVE_RELEASED",
    "CONTRIBUTION_REJECTED",
    "DROP_STARTED",
    "DROP_ABORTED",
    "JACKPOT_WON",
    "WARN_STATE_CHANGED",
    "WINNER_SELECTED",
    "WIN_APPROVAL_REQUESTED",
    "WIN_APPROVAL_DECIDED",
    "WIN_APPROVAL_ESCALATED",
    "WALLET_CREDIT_COMMAND",
    "BALANCE_TRANSFER_COMMAND",
    "CREDIT_UPDATED",
    "PAYOUT_ALERT",
    "WIN_VOIDED",
    "WIN_REVERSED",
    "DROP_DEFERRED",
    "CASCADE_SCHEDULED",
    "CASCADE_SKIPPED",
    "OPERATOR_ACTION",
    "AUDIT_ONLY",
    "COMMAND_TYPES",
]

EVENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jackpot:engine:events")
EVENT_VERSION = 1

# Spec events
POOL_UPDATED = "PoolUpdated"
POOL_APPROACHING_MAX = "PoolApproachingMax"
WARN_THRESHOLD_REACHED = "WarnThresholdReached"
JACKPOT_STATE_CHANGED = "JackpotStateChanged"
JACKPOT_RESEEDED = "JackpotReseeded"
# Spec mentions, engine-defined payloads
POOL_AT_MAX = "PoolAtMax"
# Audit and operator events added by the engine
CYCLE_STARTED = "CycleStarted"  # commitment published at cycle start (provably fair)
CYCLE_REVEALED = "CycleRevealed"  # seed revealed after the drop (audit log only)
WIN_RECORDED = "WinRecorded"  # pool debited by a win; the hit record (regulatory items 2-3)
POOL_ADJUSTED = "PoolAdjusted"  # typed adjustment with reason code and actor (item 5)
RESERVE_RELEASED = "ReserveReleased"  # decommissioning: the hidden/carried reserve joins the final prize (item 9)
CONTRIBUTION_REJECTED = "ContributionRejected"  # single-contribution bound exceeded (item 1)
DROP_STARTED = "DropStarted"
DROP_ABORTED = "DropAborted"
# Triggers, selection and payout
JACKPOT_FAULTED = "JackpotFaulted"  # alert: the jackpot entered the fault state (regulatory item 11)
FAULT_CLEARED = "FaultCleared"  # an operator cleared the fault after investigation
JACKPOT_WON = "JackpotWon"  # spec event: published after the main credit is confirmed (payout step 8)
WARN_STATE_CHANGED = "WarnStateChanged"  # Calm / Heating / On Fire / Must Drop transitions
WINNER_SELECTED = "WinnerSelected"  # the drop, its eligible-player snapshot and the draws (audit)
WIN_APPROVAL_DECIDED = "WinApprovalDecided"  # approved / declined / expired, with actor and reason
WIN_APPROVAL_ESCALATED = "WinApprovalEscalated"  # 24h / 48h / 72h alerts of the approval queue
CREDIT_UPDATED = "CreditUpdated"  # a prize's payout status changed (sent, confirmed, retry, manual...)
PAYOUT_ALERT = "PayoutAlert"  # PENDING_MANUAL_RESOLUTION: operator action needed
WIN_VOIDED = "WinVoided"  # an operator voided a win: the amount stays in the pool, no reseed
WIN_REVERSED = "WinReversed"  # a paid win taken back in the wallet: its amount returns to the pool (reversal.py)
DROP_DEFERRED = "DropDeferred"  # a due drop (deadline, cascade) could not happen yet, with the reason
CASCADE_SCHEDULED = "CascadeScheduled"  # waterfall: a lower level will drop at due_at
CASCADE_SKIPPED = "CascadeSkipped"  # waterfall: a scheduled level could not drop, with the reason
OPERATOR_ACTION = "OperatorActionRecorded"  # audit record of every operator command (applied or refused)
# Outbound commands (a separate output list; routed to command topics, not the public event bus)
WALLET_CREDIT_COMMAND = "WalletCreditCommand"  # the spec's CreditJackpotWin, one per prize and attempt
WIN_APPROVAL_REQUESTED = "WinApprovalRequested"  # a large win for the approval queue
BALANCE_TRANSFER_COMMAND = "BalanceTransferCommand"  # an OperatorCommand for another jackpot (balances.py)

COMMAND_TYPES = frozenset({WALLET_CREDIT_COMMAND, WIN_APPROVAL_REQUESTED, BALANCE_TRANSFER_COMMAND})
# Events that reveal secrets or personal data: the audit log only, never the public tickers
AUDIT_ONLY = frozenset({CYCLE_REVEALED, WINNER_SELECTED, OPERATOR_ACTION})


@dataclass(slots=True, frozen=True)
class EngineEvent:
    event_type: str
    event_id: str
    timestamp: int
    jackpot_id: str
    payload: dict[str, Any]
    event_version: int = EVENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_version": self.event_version,
            "timestamp": self.timestamp,
            "jackpot_id": self.jackpot_id,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EngineEvent":
        return cls(
            event_type=d["event_type"],
            event_id=d["event_id"],
            timestamp=d["timestamp"],
            jackpot_id=d["jackpot_id"],
            payload=d["payload"],
            event_version=d.get("event_version", EVENT_VERSION),
        )


def event_id(event_type: str, jackpot_id: str, level_id: str | None, currency: str | None, cause: str) -> str:
    """UUIDv5 of the event's identity: same cause, same id."""
    name = f"{event_type}|{jackpot_id}|{level_id or ''}|{currency or ''}|{cause}"
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


def make_event(
    event_type: str,
    jackpot_id: str,
    cause: str,
    timestamp: int,
    payload: dict[str, Any],
    *,
    level_id: str | None = None,
    currency: str | None = None,
) -> EngineEvent:
    """Build an event whose payload starts with jackpot_id, level_id and currency."""
    body: dict[str, Any] = {"jackpot_id": jackpot_id}
    if level_id is not None:
        body["level_id"] = level_id
    if currency is not None:
        body["currency"] = currency
    body.update(payload)
    body["timestamp"] = timestamp
    return EngineEvent(
        event_type=event_type,
        event_id=event_id(event_type, jackpot_id, level_id, currency, cause),
        timestamp=timestamp,
        jackpot_id=jackpot_id,
        payload=body,
    )
