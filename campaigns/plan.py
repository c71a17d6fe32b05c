"""Whether a rule fires on a signal, and exactly what the fire sends.

The order of the checks is the specification's safety list: the kill switch first, then the
rule's trigger and conditions, then the audience (brand, segment, opt-out and consent for every
notification channel), the approval gate for a large audience, and per player the cooldown and
the push limit.  A dry-run rule goes through all of it and sends nothing: its plan is the report.

Every action has a deterministic id, uuid5 of the fire and the player and channel, and a fire's
id derives from the rule version and the event that caused it, so evaluating the same event again
(a replay after a crash) yields the same ids and the delivery side sends each id once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from .contacts import Contact, refusal
from .rules import NOTIFICATION_CHANNELS, PLAYER_CHANNELS, Action, Channel, Conditions, Limits, Rule
from .signals import Signal

__all__ = ["Member", "Planned", "FirePlan", "trigger_fires", "condition_refusal", "fire_id", "plan_fire"]

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jackpot:campaigns")


@dataclass(frozen=True, slots=True)
class Member:
    """A player the rule could reach: an active player of the jackpot, as the CRM knows them."""

    player_id: str
    brand: str | None = None
    segments: frozenset[str] = frozenset()
    opted_out: bool = False
    consent: frozenset[Channel] = frozenset()  # notification channels the player agreed to


@dataclass(frozen=True, slots=True)
class Planned:
    """One action record: one per (fire, player, channel), or per (fire, channel) for surfaces."""

    action_id: str
    fire_id: str
    rule_id: str
    rule_version: int
    channel: Channel
    template: str
    target: str | None
    jackpot_id: str
    player_id: str | None = None

    def to_json(self) -> dict:
        return {"action_id": self.action_id, "fire_id": self.fire_id, "rule_id": self.rule_id,
                "rule_version": self.rule_version, "channel": self.channel.value, "template": self.template,
                "target": self.target, "jackpot_id": self.jackpot_id, "player_id": self.player_id}


@dataclass
class FirePlan:
    """The outcome of one rule on one signal.  ``status``: ``send`` (actions to deliver),
    ``dry_run`` (what would be sent), ``awaiting_approval``, ``killed``, ``not_fired``."""

    status: str
    fire_id: str | None = None
    reason: str | None = None
    actions: list[Planned] = field(default_factory=list)
    audience: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> players left out
    contacted: list[tuple[str, frozenset[Channel]]] = field(default_factory=list)

    @property
    def sends(self) -> bool:
        return self.status == "send"

    def report(self, sample: int) -> dict:
        """What a dry run shows: the audience, counts per channel, a few masked recipients."""
        by_channel: dict[str, int] = {}
        for a in self.actions:
            by_channel[a.channel.value] = by_channel.get(a.channel.value, 0) + 1
        players = sorted({a.player_id for a in self.actions if a.player_id})
        return {"status": self.status, "fire_id": self.fire_id, "reason": self.reason, "audience": self.audience,
                "by_channel": by_channel, "skipped": dict(self.skipped),
                "sample": [_mask(p) for p in players[:sample]]}


def _mask(player_id: str) -> str:
    return player_id[:2] + "***" + player_id[-2:] if len(player_id) > 4 else "***"


def trigger_fires(rule: Rule, signal: Signal, previous: Signal | None) -> bool:
    """Whether the rule's trigger fires on ``signal``.  Threshold triggers fire on the crossing
    only: ``previous`` is the last signal of the same kind for the same pool (None: unknown, and
    then nothing is crossed, so a restart never fires a threshold the pool was already past)."""
    t = rule.trigger
    if rule.jackpot_ids is not None and signal.jackpot_id not in rule.jackpot_ids:
        return False
    if t.kind == "warn_state":
        return signal.kind == "warn_state" and signal.state in t.to
    if t.kind == "lifecycle":
        return signal.kind == "lifecycle" and signal.state in t.to
    if t.kind in ("jackpot_won", "jackpot_reseeded"):
        return signal.kind == t.kind
    if t.kind == "velocity":
        if signal.kind != "velocity" or signal.change_pct is None:
            return False
        return signal.change_pct >= t.change_pct if t.change_pct > 0 else signal.change_pct <= t.change_pct
    if previous is None:
        return False
    if t.kind == "pool_threshold":
        return (signal.kind == "pool" and signal.currency == t.currency and signal.amount is not None
                and previous.amount is not None and previous.amount < t.amount <= signal.amount)
    if t.kind == "player_count":
        return (signal.kind == "player_count" and signal.count is not None and previous.count is not None
                and previous.count < t.at_least <= signal.count)
    if t.kind == "deadline":
        at = t.minutes_before * 60_000
        return (signal.kind == "deadline" and signal.left_ms is not None and previous.left_ms is not None
                and previous.left_ms > at >= signal.left_ms)
    return False


def condition_refusal(conditions: Conditions, signal: Signal, now_ms: int, last_fired_ms: int | None) -> str | None:
    """Which of the rule's jackpot-level conditions fails now (None: all hold)."""
    local = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(conditions.timezone))
    if conditions.days is not None and local.isoweekday() not in conditions.days:
        return "day_of_week"
    start, end = conditions.window_start, conditions.window_end
    if start is not None and end is not None:
        t = local.time().replace(tzinfo=None)
        inside = start <= t < end if start < end else (t >= start or t < end)
        if not inside:
            return "time_window"
    if conditions.min_pool is not None and (signal.amount is None or signal.amount < conditions.min_pool):
        return "min_pool"
    if last_fired_ms is not None and now_ms - last_fired_ms < conditions.cooldown_s * 1000:
        return "rule_cooldown"
    return None


def fire_id(rule: Rule, signal: Signal) -> str:
    return str(uuid.uuid5(NAMESPACE, f"fire|{rule.rule_id}|v{rule.version}|{signal.event_id}"))


def _action_id(fire: str, channel: Channel, player_id: str | None) -> str:
    return str(uuid.uuid5(NAMESPACE, f"action|{fire}|{channel.value}|{player_id or '*'}"))


def _reachable(member: Member, rule: Rule) -> str | None:
    c = rule.conditions
    if c.brands is not None and member.brand not in c.brands:
        return "brand"
    if c.segments is not None and not (member.segments & c.segments):
        return "segment"
    return None


def _player_channels(member: Member, actions: list[Action]) -> tuple[list[Action], str | None]:
    """The player actions this member may get: notifications need consent and no opt-out."""
    allowed, refused = [], None
    for a in actions:
        if a.channel in NOTIFICATION_CHANNELS and (member.opted_out or a.channel not in member.consent):
            refused = "opted_out" if member.opted_out else "no_consent"
            continue
        allowed.append(a)
    return allowed, refused


def plan_fire(rule: Rule, signal: Signal, previous: Signal | None, audience: Iterable[Member],
              contacts: Mapping[str, Contact], limits: Limits, *, now_ms: int, last_fired_ms: int | None,
              kill_switch: bool) -> FirePlan:
    """The fire of ``rule`` on ``signal``, if it fires: who gets what, and who is left out why."""
    if kill_switch:
        return FirePlan("killed", reason="kill_switch")
    if not rule.enabled or not trigger_fires(rule, signal, previous):
        return FirePlan("not_fired", reason="disabled" if not rule.enabled else "trigger")
    why = condition_refusal(rule.conditions, signal, now_ms, last_fired_ms)
    if why is not None:
        return FirePlan("not_fired", reason=why)
    fire = fire_id(rule, signal)
    plan = FirePlan("dry_run" if rule.dry_run else "send", fire_id=fire)
    player_actions = rule.player_channels
    if player_actions:
        _plan_players(plan, rule, signal, audience, contacts, limits, now_ms, player_actions)
    if plan.audience > limits.approval_threshold and not rule.approved:
        if not rule.dry_run:
            return FirePlan("awaiting_approval", fire_id=fire, reason="approval_required", audience=plan.audience,
                            skipped=plan.skipped)
        plan.reason = "approval_required_when_live"  # the report says so; a dry run sends nothing anyway
    for a in rule.actions:
        if a.channel not in PLAYER_CHANNELS:
            plan.actions.append(_planned(fire, rule, signal, a, None))
    return plan


def _plan_players(plan: FirePlan, rule: Rule, signal: Signal, audience: Iterable[Member],
                  contacts: Mapping[str, Contact], limits: Limits, now_ms: int, actions: list[Action]) -> None:
    def skip(reason: str) -> None:
        plan.skipped[reason] = plan.skipped.get(reason, 0) + 1

    for member in sorted(audience, key=lambda m: m.player_id):  # deterministic order
        why = _reachable(member, rule)
        if why is not None:
            skip(why)
            continue
        allowed, refused = _player_channels(member, actions)
        if not allowed:
            skip(refused or "no_channel")
            continue
        plan.audience += 1
        channels = frozenset(a.channel for a in allowed)
        why = refusal(contacts.get(member.player_id, Contact()), channels, now_ms, limits)
        if why == "push_limit":
            allowed = [a for a in allowed if a.channel is not Channel.PUSH]
            channels = frozenset(a.channel for a in allowed)
            skip("push_limit")
            if not allowed:
                continue
        elif why is not None:
            skip(why)
            continue
        if refused:
            skip(refused)  # some channels refused, others sent
        plan.contacted.append((member.player_id, channels))
        plan.actions.extend(_planned(plan.fire_id, rule, signal, a, member.player_id) for a in allowed)


def _planned(fire: str, rule: Rule, signal: Signal, action: Action, player_id: str | None) -> Planned:
    return Planned(_action_id(fire, action.channel, player_id), fire, str(rule.rule_id), rule.version,
                   action.channel, action.template, action.target, signal.jackpot_id, player_id)
