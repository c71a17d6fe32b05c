"""The jackpot stage of campaign automation: one jackpot's signals against the rules.

Its state, per jackpot: the last signal of each kind per pool (what a crossing trigger compares
with), when each rule last fired on the jackpot (its cooldown), and the events already handled.
The stage runs under the stream protocol of the engine (its outputs reach the broker before its
state is saved, and the state before the input offsets are committed), so an event found among
the handled ones after a crash has had its candidates sent already, and is skipped; one not found
is planned again from the state before it, which gives the same fires and the same ids.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from .contacts import DAY_MS
from .plan import FirePlan, Member, plan_fires
from .rules import Limits, Rule
from .signals import Signal

__all__ = ["JackpotCampaignState", "on_signal", "KEEP_HANDLED_MS"]

KEEP_HANDLED_MS = 2 * DAY_MS  # longer than any replay


def _slot(signal: Signal) -> str:
    """Signals a crossing compares: same kind, same pool (velocity and player counts: the jackpot)."""
    return f"{signal.kind}|{signal.level_id or ''}|{signal.currency or ''}"


@dataclass
class JackpotCampaignState:
    previous: dict[str, Signal] = field(default_factory=dict)
    last_fired: dict[str, int] = field(default_factory=dict)  # rule id -> event time of its last fire here
    handled: dict[str, int] = field(default_factory=dict)  # event id -> its time

    def to_json(self) -> dict:
        return {"previous": {k: asdict(v) for k, v in self.previous.items()}, "last_fired": dict(self.last_fired),
                "handled": dict(self.handled)}

    @classmethod
    def from_json(cls, d: dict | None) -> "JackpotCampaignState":
        if not d:
            return cls()
        return cls({k: Signal(**v) for k, v in d.get("previous", {}).items()}, dict(d.get("last_fired", {})),
                   dict(d.get("handled", {})))


def on_signal(state: JackpotCampaignState, signal: Signal, rules: Iterable[tuple[Rule, bool]],
              audience: Iterable[Member], contacts: Mapping, limits: Limits, *, kill_switch: bool,
              jackpot_brands: frozenset[str] | None = None) -> tuple[JackpotCampaignState, list[tuple[Rule, FirePlan]]]:
    """Plan every rule on ``signal`` and the state after it; ([], same state) for an event handled
    already.  ``rules``: (rule, approved) pairs; ``contacts``: what the jackpot stage knows of the
    players' contacts ({} when the player stage applies the limits)."""
    if signal.event_id in state.handled:
        return state, []
    previous = state.previous.get(_slot(signal))
    plans = plan_fires([(rule, approved, state.last_fired.get(str(rule.rule_id))) for rule, approved in rules],
                       signal, previous, audience, contacts, limits, kill_switch=kill_switch,
                       jackpot_brands=jackpot_brands)
    last_fired = dict(state.last_fired)
    for rule, plan in plans:
        if plan.status in ("send", "dry_run"):  # a dry run keeps its cooldown too: its report is what live would do
            last_fired[str(rule.rule_id)] = signal.at_ms
    handled = {e: at for e, at in state.handled.items() if signal.at_ms - at < KEEP_HANDLED_MS}
    handled[signal.event_id] = signal.at_ms
    newer = previous is None or signal.at_ms >= previous.at_ms  # a late event does not move the baseline back
    prev = {**state.previous, _slot(signal): signal} if newer else dict(state.previous)
    return JackpotCampaignState(prev, last_fired, handled), [(r, p) for r, p in plans if p.status != "not_fired"]
