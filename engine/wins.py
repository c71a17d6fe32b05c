"""Wins in progress: the records the payout state machine keeps inside ``JackpotState``.

A drop creates one ``WinRecord``; each prize of it (the main winner or winners of a split, and
the chain-reaction prizes) is a ``Credit`` with its own deterministic idempotency key, status and
retry data, so the clock-tick entry point can drive approvals and wallet retries from state alone.
A record leaves the state when every credit has reached a final status; the ledger keeps the
history (every step is an event). Records serialise to plain JSON (ints, strings, lists).

Credit statuses::

    held               chain prize waiting for the main prize to be confirmed (payout step 7)
    awaiting_approval  large win waiting for an operator (approval queue)
    sent               credit command issued, wallet answer outstanding
    retry_wait         failed, retrying at ``next_at`` (exponential backoff)
    manual             PENDING_MANUAL_RESOLUTION: retries exhausted or not retryable
    confirmed          credited by the wallet                      (paid)
    escrow             accepted by the wallet into escrow           (paid: funds left the pool)
    resolved           paid outside the wallet by an operator       (paid)
    declined           approval declined/expired; replaced by a fallback winner's credit
    returned           approval declined/expired, no fallback: the share stays in the pool
    voided             voided by an operator: the share stays in the pool (never paid)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAIN",
    "CHAIN",
    "HELD",
    "AWAITING_APPROVAL",
    "SENT",
    "RETRY_WAIT",
    "MANUAL",
    "CONFIRMED",
    "ESCROW",
    "RESOLVED",
    "DECLINED",
    "RETURNED",
    "VOIDED",
    "PAID",
    "FINAL",
    "PAYING",
    "SETTLED",
    "RETURNED_TO_POOL",
    "Credit",
    "WinRecord",
]

MAIN = "main"
CHAIN = "chain_reaction"

HELD = "held"
AWAITING_APPROVAL = "awaiting_approval"
SENT = "sent"
RETRY_WAIT = "retry_wait"
MANUAL = "manual"
CONFIRMED = "confirmed"
ESCROW = "escrow"
RESOLVED = "resolved"
DECLINED = "declined"
RETURNED = "returned"
VOIDED = "voided"

PAID = frozenset({CONFIRMED, ESCROW, RESOLVED})
FINAL = frozenset({CONFIRMED, ESCROW, RESOLVED, DECLINED, RETURNED, VOIDED})

# win statuses
PAYING = "paying"  # main prize(s) not yet final: the pool is locked (DROPPING)
SETTLED = "settled"  # main prize(s) paid, pool debited and reseeded; chain prizes may be outstanding
RETURNED_TO_POOL = "returned"  # nothing paid: the drop was aborted and the amount stays in the pool


@dataclass(slots=True)
class Credit:
    key: str  # idempotency key: stable per win, prize slot and recipient
    kind: str  # MAIN or CHAIN
    rank: int  # 1-based slot (split share or chain prize)
    player_id: str
    brand_id: str
    game_id: str
    jurisdiction: str
    amount: int  # gross prize, micros
    tax: int = 0  # withholding, micros (net = amount - tax)
    status: str = SENT
    attempt: int = 0  # wallet attempts made
    next_at: int = 0  # retry_wait: when to retry; awaiting_approval: when it expires
    alerts: int = 0  # approval escalations published
    since: int = 0  # when the current status began (approval requested, sent...)
    tx: str = ""  # wallet transaction id or operator reference
    note: str = ""  # last error or decision reason

    @property
    def net(self) -> int:
        return self.amount - self.tax

    def to_list(self) -> list:
        return [
            self.key, self.kind, self.rank, self.player_id, self.brand_id, self.game_id, self.jurisdiction,
            self.amount, self.tax, self.status, self.attempt, self.next_at, self.alerts, self.since, self.tx, self.note,
        ]

    @classmethod
    def from_list(cls, v: list) -> "Credit":
        return cls(
            str(v[0]), str(v[1]), int(v[2]), str(v[3]), str(v[4]), str(v[5]), str(v[6]),
            int(v[7]), int(v[8]), str(v[9]), int(v[10]), int(v[11]), int(v[12]), int(v[13]), str(v[14]), str(v[15]),
        )


@dataclass(slots=True)
class WinRecord:
    """One drop of one pool, from the lock to the last credit."""

    win_id: str
    level_id: str
    currency: str
    cycle: int
    seq: int  # drop number within the cycle (a returned drop keeps the cycle going)
    kind: str  # trigger | force | deadline | cascade | final
    cause: str  # bet id, command id, or tick cause that started the drop
    actor: str
    started_at: int
    amount: int  # the pool amount locked for this drop (what main prizes share)
    method: str  # selection method actually used
    trigger: list[str] = field(default_factory=list)  # [bet_id, player_id, game_id, brand_id] of the trigger
    status: str = PAYING
    credits: list[Credit] = field(default_factory=list)
    candidates: list[list] = field(default_factory=list)  # fallback snapshot: [player, brand, game, jurisdiction, weight]
    declined: list[str] = field(default_factory=list)  # players declined for this win
    draws: int = 0  # next winner-draw index of this drop
    final: bool = False  # the jackpot's final drop (no reseed)
    origin: str = ""  # waterfall: the win that cascaded into this one
    settled_at: int = 0

    def mains(self) -> list[Credit]:
        return [c for c in self.credits if c.kind == MAIN]

    def chains(self) -> list[Credit]:
        return [c for c in self.credits if c.kind == CHAIN]

    def credit(self, key: str) -> Credit | None:
        for c in self.credits:
            if c.key == key:
                return c
        return None

    def paid_main(self) -> int:
        return sum(c.amount for c in self.credits if c.kind == MAIN and c.status in PAID)

    def returned_main(self) -> int:
        return sum(c.amount for c in self.credits if c.kind == MAIN and c.status in (RETURNED, VOIDED))

    def to_dict(self) -> dict[str, Any]:
        return {
            "win_id": self.win_id,
            "level_id": self.level_id,
            "currency": self.currency,
            "cycle": self.cycle,
            "seq": self.seq,
            "kind": self.kind,
            "cause": self.cause,
            "actor": self.actor,
            "started_at": self.started_at,
            "amount": self.amount,
            "method": self.method,
            "trigger": list(self.trigger),
            "status": self.status,
            "credits": [c.to_list() for c in self.credits],
            "candidates": [list(c) for c in self.candidates],
            "declined": list(self.declined),
            "draws": self.draws,
            "final": self.final,
            "origin": self.origin,
            "settled_at": self.settled_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WinRecord":
        return cls(
            win_id=d["win_id"],
            level_id=d["level_id"],
            currency=d["currency"],
            cycle=int(d["cycle"]),
            seq=int(d["seq"]),
            kind=d["kind"],
            cause=d["cause"],
            actor=d["actor"],
            started_at=int(d["started_at"]),
            amount=int(d["amount"]),
            method=d["method"],
            trigger=[str(x) for x in d.get("trigger", [])],
            status=d.get("status", PAYING),
            credits=[Credit.from_list(c) for c in d.get("credits", [])],
            candidates=[list(c) for c in d.get("candidates", [])],
            declined=[str(x) for x in d.get("declined", [])],
            draws=int(d.get("draws", 0)),
            final=bool(d.get("final", False)),
            origin=d.get("origin", ""),
            settled_at=int(d.get("settled_at", 0)),
        )
