"""The per-player stage of a fire: the limits applied by the player's single writer, and the
decision kept so that a replay re-sends it instead of deciding again.

A fire is planned per jackpot (``plan``); its player actions then go to the stage partitioned by
player, where one writer holds each player's contacts.  The decision depends on those contacts,
and recording it changes them: planned again after a crash, the same candidate would meet its own
cooldown and be refused, and its actions, perhaps already half delivered, never completed.  So
each decision is kept beside the contacts, keyed by fire id (an outbox), and a candidate seen
again gets the stored decision back.  Decisions are kept two days, longer than any replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .contacts import DAY_MS, Contact, record, refusal
from .plan import Planned
from .rules import Channel, Limits

__all__ = ["Candidate", "Decision", "PlayerLedger", "admit", "KEEP_DECISIONS_MS"]

KEEP_DECISIONS_MS = 2 * DAY_MS


@dataclass(frozen=True, slots=True)
class Candidate:
    """One player's share of a live fire, as the jackpot stage planned it."""

    fire_id: str
    player_id: str
    at_ms: int  # the causing event's time: the limits are checked at it
    actions: tuple[Planned, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    action_ids: tuple[str, ...]  # the actions to deliver (empty: none)
    reason: str | None = None  # why some or all were refused
    at_ms: int = 0


@dataclass
class PlayerLedger:
    """A player's state in the player stage: contacts and the decisions taken (outbox)."""

    contact: Contact = field(default_factory=Contact)
    decisions: dict[str, Decision] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"contact": self.contact.to_json(),
                "decisions": {f: {"actions": list(d.action_ids), "reason": d.reason, "at_ms": d.at_ms}
                              for f, d in self.decisions.items()}}

    @classmethod
    def from_json(cls, d: dict | None) -> "PlayerLedger":
        if not d:
            return cls()
        return cls(Contact.from_json(d.get("contact")),
                   {f: Decision(tuple(x["actions"]), x.get("reason"), x.get("at_ms", 0))
                    for f, x in d.get("decisions", {}).items()})


def admit(ledger: PlayerLedger, candidate: Candidate, limits: Limits) -> tuple[PlayerLedger, Decision]:
    """The decision on ``candidate`` and the ledger after it (the same decision if already taken)."""
    kept = ledger.decisions.get(candidate.fire_id)
    if kept is not None:
        return ledger, kept
    at = candidate.at_ms
    actions = list(candidate.actions)
    channels = {a.channel for a in actions}
    why = refusal(ledger.contact, channels, at, limits)
    if why == "push_limit":
        actions = [a for a in actions if a.channel is not Channel.PUSH]
        why = "push_limit" if actions else why
    elif why is not None:
        actions = []
    decision = Decision(tuple(a.action_id for a in actions), why, at)
    contact = record(ledger.contact, {a.channel for a in actions}, at) if actions else ledger.contact
    decisions = {f: d for f, d in ledger.decisions.items() if at - d.at_ms < KEEP_DECISIONS_MS}
    decisions[candidate.fire_id] = decision
    return PlayerLedger(contact, decisions), decision
