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
from .plan import Member, Planned
from .rules import NOTIFICATION_CHANNELS, Channel, Limits

__all__ = ["Candidate", "Decision", "PlayerLedger", "admit", "KEEP_DECISIONS_MS"]

KEEP_DECISIONS_MS = 2 * DAY_MS


@dataclass(frozen=True, slots=True)
class Candidate:
    """One player's share of a live fire, as the jackpot stage planned it."""

    fire_id: str
    player_id: str
    at_ms: int  # the causing event's time
    actions: tuple[Planned, ...]
    received_ms: int | None = None  # when the player stage got it (its record's time)
    # the rule's audience conditions, checked here against the player's profile (None: any)
    segments: frozenset[str] | None = None
    brands: frozenset[str] | None = None
    dry_run: bool = False  # decide and report, change nothing

    def to_json(self) -> dict:
        return {"fire_id": self.fire_id, "player_id": self.player_id, "at_ms": self.at_ms,
                "actions": [a.to_json() for a in self.actions], "dry_run": self.dry_run,
                "segments": None if self.segments is None else sorted(self.segments),
                "brands": None if self.brands is None else sorted(self.brands)}

    @classmethod
    def from_json(cls, d: dict, received_ms: int | None = None) -> "Candidate":
        segments, brands = d.get("segments"), d.get("brands")
        return cls(str(d["fire_id"]), str(d["player_id"]), int(d["at_ms"]),
                   tuple(Planned.from_json(a) for a in d["actions"]), received_ms,
                   None if segments is None else frozenset(segments), None if brands is None else frozenset(brands),
                   bool(d.get("dry_run", False)))

    @property
    def send_ms(self) -> int:
        """The time the limits are checked at: when it is sent, not when its event happened, so a
        backlog drained in seconds does not send a player three pushes in those seconds."""
        return max(self.at_ms, self.received_ms or self.at_ms)


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


def admit(ledger: PlayerLedger, candidate: Candidate, limits: Limits, *, kill_switch: bool,
          member: Member | None) -> tuple[PlayerLedger, Decision]:
    """The decision on ``candidate`` and the ledger after it (the stored decision if already
    taken).  A dry-run candidate is decided the same way and changes nothing.  The kill switch, the player's opt-out and consent (``member``: the CRM's view now;
    None, unknown: no consent) are checked again here, at send time, and a candidate older than
    ``limits.stale_after_s`` is dropped: a campaign about a state long gone misleads."""
    kept = ledger.decisions.get(candidate.fire_id)
    if kept is not None:
        return ledger, kept
    at = candidate.send_ms
    actions, why = list(candidate.actions), None
    if kill_switch:
        actions, why = [], "kill_switch"
    elif at - candidate.at_ms > limits.stale_after_s * 1000:
        actions, why = [], "stale"
    elif member is None or member.opted_out:
        actions, why = [], "opted_out" if member is not None else "unknown_player"
    elif candidate.brands is not None and member.brand not in candidate.brands:
        actions, why = [], "brand"
    elif candidate.segments is not None and not (member.segments & candidate.segments):
        actions, why = [], "segment"
    else:
        consented = [a for a in actions if a.channel not in NOTIFICATION_CHANNELS or a.channel in member.consent]
        why = "no_consent" if len(consented) < len(actions) else None
        actions = consented
        limit = refusal(ledger.contact, {a.channel for a in actions}, at, limits)
        if limit is not None:
            dropped = {Channel.PUSH} if limit == "push_limit" else NOTIFICATION_CHANNELS
            actions, why = [a for a in actions if a.channel not in dropped], limit
    decision = Decision(tuple(a.action_id for a in actions), why, at)
    if candidate.dry_run:
        return ledger, decision  # a report: no quota used, nothing kept to re-send
    contact = record(ledger.contact, {a.channel for a in actions}, at)
    newest = max([at, *(d.at_ms for d in ledger.decisions.values())])
    decisions = {f: d for f, d in ledger.decisions.items() if newest - d.at_ms < KEEP_DECISIONS_MS}
    decisions[candidate.fire_id] = decision
    return PlayerLedger(contact, decisions), decision
