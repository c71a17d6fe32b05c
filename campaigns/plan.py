"""Whether a rule fires on a signal, and exactly what the fire sends.

The order of the checks is the specification's safety list, but for the kill switch, checked
once the rule's trigger and conditions hold (so that only a fire it stopped is reported): the
rule's trigger and conditions, the kill switch, then the audience (brand, segment, opt-out and consent for every
notification channel), the approval gate for a large audience, and per player the cooldown and
the push limit.  A dry-run rule goes through all of it and sends nothing: its plan is the report.

Every action has a deterministic id, uuid5 of the fire, the action and the player, and a fire's
id derives from the rule version, its mode (dry run or live) and the event that caused it.  Every
time check uses the event's own time, not the clock, so evaluating the same event against the
same state again yields the same plan and the same ids, and the delivery side sends each id once.
The state a plan was made against (contacts, last fires) changes once its actions are recorded:
the caller keeps the plan with that change (an outbox keyed by the fire id) and re-sends the
stored plan after a crash rather than planning again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from jackpot.engine.privacy import mask_player

from .contacts import Contact, record, refusal
from .rules import NOTIFICATION_CHANNELS, PLAYER_CHANNELS, PUBLIC_CHANNELS, Action, Channel, Conditions, Limits, Rule
from .signals import Signal

__all__ = ["Member", "Planned", "FirePlan", "trigger_fires", "condition_refusal", "fire_id", "plan_fire", "plan_fires"]

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:jackpot:campaigns")


@dataclass(frozen=True, slots=True)
class Member:
    """A player the rule could reach: an active player of the jackpot, as the CRM knows them.
    ``opted_out``: the player refused marketing, or is excluded or self-excluded (never marketed to)."""

    player_id: str
    brand: str | None = None
    segments: frozenset[str] = frozenset()
    opted_out: bool = False
    consent: frozenset[Channel] = frozenset()  # notification channels the player agreed to
    # False: only the player's id and brand are known here (the jackpot stage sees players through
    # their bets); segments, opt-out and consent are then checked by the player stage (admission)
    known: bool = True


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

    @classmethod
    def from_json(cls, d: dict) -> "Planned":
        return cls(str(d["action_id"]), str(d["fire_id"]), str(d["rule_id"]), int(d["rule_version"]),
                   Channel(d["channel"]), str(d["template"]), d.get("target"), str(d["jackpot_id"]), d.get("player_id"))


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
                "sample": [mask_player(p) for p in players[:sample]]}


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
        on_level = signal.level_id is not None
        return signal.kind == "lifecycle" and on_level == (t.scope == "level") and (signal.state or "").upper() in t.to
    if t.kind in ("jackpot_won", "jackpot_reseeded"):
        return signal.kind == t.kind
    if previous is None:
        return False
    if t.kind == "velocity":
        return signal.kind == "velocity" and _velocity_met(t.change_pct, signal) and not _velocity_met(t.change_pct, previous)
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


def _velocity_met(change_pct: int, signal: Signal) -> bool:
    """The signal's rate change reaches ``change_pct`` (exactly: no rounded percentage)."""
    before, now = signal.rate_before, signal.rate_now
    if before is None or now is None or before <= 0:
        return False
    change, target = (now - before) * 100, change_pct * before
    return change >= target if change_pct > 0 else change <= target


def condition_refusal(conditions: Conditions, signal: Signal, last_fired_ms: int | None,
                      jackpot_brands: frozenset[str] | None = None) -> str | None:
    """Which of the rule's jackpot-level conditions fails at the signal's time (None: all hold).
    Days are those of the event's local date (a Friday 22:00-02:00 window fires on Saturday at
    01:00 only if Saturday is one of the days)."""
    if conditions.levels is not None and signal.level_id not in conditions.levels:
        return "level"
    if conditions.brands is not None and jackpot_brands is not None and not (jackpot_brands & conditions.brands):
        return "brand"
    now_ms = signal.at_ms
    local = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).astimezone(ZoneInfo(conditions.timezone))
    if conditions.days is not None and local.isoweekday() not in conditions.days:
        return "day_of_week"
    start, end = conditions.window_start, conditions.window_end
    if start is not None and end is not None:
        t = local.time().replace(tzinfo=None)
        inside = start <= t < end if start < end else (t >= start or t < end)
        if not inside:
            return "time_window"
    if conditions.min_pool is not None and (signal.amount is None or signal.currency != conditions.min_pool_currency
                                            or signal.amount < conditions.min_pool):
        return "min_pool"
    if conditions.cooldown_s and last_fired_ms is not None and abs(now_ms - last_fired_ms) < conditions.cooldown_s * 1000:
        return "rule_cooldown"  # either way: events of one jackpot come a little out of time order
    return None


def fire_id(rule: Rule, signal: Signal) -> str:
    mode = "dry" if rule.dry_run else "live"  # a dry run's ids are never those of a live send
    return str(uuid.uuid5(NAMESPACE, f"fire|{rule.rule_id}|v{rule.version}|{mode}|{signal.event_id}"))


def _action_id(fire: str, index: int, channel: Channel, player_id: str | None) -> str:
    return str(uuid.uuid5(NAMESPACE, f"action|{fire}|{index}|{channel.value}|{player_id or '*'}"))


def _reachable(member: Member, rule: Rule) -> str | None:
    c = rule.conditions
    if c.brands is not None and member.brand not in c.brands:
        return "brand"
    if c.segments is not None and member.known and not (member.segments & c.segments):
        return "segment"
    return None


def _player_channels(member: Member, actions: list[tuple[int, Action]]) -> tuple[list[tuple[int, Action]], str | None]:
    """The player actions this member may get: none for an opted-out player (not even a CRM tag),
    and notifications only where the player consented (unknown here: all, admission decides)."""
    if not member.known:
        return list(actions), None
    if member.opted_out:
        return [], "opted_out"
    allowed, refused = [], None
    for i, a in actions:
        if a.channel in NOTIFICATION_CHANNELS and a.channel not in member.consent:
            refused = "no_consent"
            continue
        allowed.append((i, a))
    return allowed, refused


def _merged(audience: Iterable[Member]) -> list[Member]:
    """One member per player, in player order; a player listed twice keeps the stricter view
    (opted out if either says so, consent only where both agree)."""
    by_id: dict[str, Member] = {}
    for m in audience:
        seen = by_id.get(m.player_id)
        by_id[m.player_id] = m if seen is None else Member(
            m.player_id, seen.brand if seen.brand == m.brand else None, seen.segments & m.segments,
            seen.opted_out or m.opted_out, seen.consent & m.consent, seen.known and m.known)
    return [by_id[p] for p in sorted(by_id)]


def plan_fire(rule: Rule, signal: Signal, previous: Signal | None, audience: Iterable[Member],
              contacts: Mapping[str, Contact] | None, limits: Limits, *, last_fired_ms: int | None, kill_switch: bool,
              approved: bool, jackpot_brands: frozenset[str] | None = None) -> FirePlan:
    """The fire of ``rule`` on ``signal``, if it fires: who gets what, and who is left out why.
    ``approved``: a manager approved this rule version (a record the rule's author cannot write).
    ``contacts``: the players' contacts, or None when the player stage applies the per-player
    limits (``admission``): then no player is refused for them here."""
    if not rule.enabled or not trigger_fires(rule, signal, previous):
        return FirePlan("not_fired", reason="disabled" if not rule.enabled else "trigger")
    why = condition_refusal(rule.conditions, signal, last_fired_ms, jackpot_brands)
    if why is not None:
        return FirePlan("not_fired", reason=why)
    fire = fire_id(rule, signal)
    if kill_switch:  # a fire that would have happened, and did not: logged (nothing else is)
        return FirePlan("killed", fire_id=fire, reason="kill_switch")
    plan = FirePlan("dry_run" if rule.dry_run else "send", fire_id=fire)
    if rule.player_channels:
        _plan_players(plan, rule, signal, audience, contacts, limits)
    public = any(a.channel in PUBLIC_CHANNELS for a in rule.actions)
    if (plan.audience > limits.approval_threshold or public) and not approved:
        if not rule.dry_run:
            return FirePlan("awaiting_approval", fire_id=fire, reason="approval_required", audience=plan.audience,
                            skipped=plan.skipped)
        plan.reason = "approval_required_when_live"  # the report says so; a dry run sends nothing anyway
    for index, a in enumerate(rule.actions):
        if a.channel not in PLAYER_CHANNELS:
            plan.actions.append(_planned(fire, rule, signal, index, a, None))
    if rule.dry_run:
        plan.contacted.clear()  # nothing is sent: no player's quota or cooldown is used
    return plan


def plan_fires(rules: Iterable[tuple[Rule, bool, int | None]], signal: Signal, previous: Signal | None,
               audience: Iterable[Member], contacts: Mapping[str, Contact] | None, limits: Limits, *, kill_switch: bool,
               jackpot_brands: frozenset[str] | None = None) -> list[tuple[Rule, FirePlan]]:
    """Every rule on one signal, in rule id order, each planned against the contacts the ones
    before it left (two rules firing on the same event never both reach a player within the
    cooldown).  ``rules``: (rule, approved, last fired ms) triples."""
    members = list(audience)
    seen = None if contacts is None else dict(contacts)
    out = []
    for rule, approved, last_fired_ms in sorted(rules, key=lambda r: (str(r[0].rule_id), r[0].version)):
        plan = plan_fire(rule, signal, previous, members, seen, limits, last_fired_ms=last_fired_ms,
                         kill_switch=kill_switch, approved=approved, jackpot_brands=jackpot_brands)
        for player_id, channels in plan.contacted if plan.sends and seen is not None else ():
            seen[player_id] = record(seen.get(player_id, Contact()), channels, signal.at_ms)
        out.append((rule, plan))
    return out


def _plan_players(plan: FirePlan, rule: Rule, signal: Signal, audience: Iterable[Member],
                  contacts: Mapping[str, Contact] | None, limits: Limits) -> None:
    def skip(reason: str) -> None:
        plan.skipped[reason] = plan.skipped.get(reason, 0) + 1

    indexed = [(i, a) for i, a in enumerate(rule.actions) if a.channel in PLAYER_CHANNELS]
    for member in _merged(audience):
        why = _reachable(member, rule)
        if why is not None:
            skip(why)
            continue
        allowed, refused = _player_channels(member, indexed)
        if not allowed:
            skip(refused or "no_channel")
            continue
        plan.audience += 1
        channels = frozenset(a.channel for _, a in allowed)
        why = None if contacts is None else refusal(contacts.get(member.player_id, Contact()), channels,
                                                    signal.at_ms, limits)
        if why is not None:
            dropped = {Channel.PUSH} if why == "push_limit" else NOTIFICATION_CHANNELS
            allowed = [(i, a) for i, a in allowed if a.channel not in dropped]
            channels = frozenset(a.channel for _, a in allowed)
            skip(why)
            if not allowed:
                continue
        if refused:
            skip(refused)  # some channels refused, others sent
        plan.contacted.append((member.player_id, channels))
        plan.actions.extend(_planned(plan.fire_id, rule, signal, i, a, member.player_id) for i, a in allowed)


def _planned(fire: str, rule: Rule, signal: Signal, index: int, action: Action, player_id: str | None) -> Planned:
    return Planned(_action_id(fire, index, action.channel, player_id), fire, str(rule.rule_id), rule.version,
                   action.channel, action.template, action.target, signal.jackpot_id, player_id)
