"""The jackpot stage of campaign automation: one jackpot's signals against the rules.

Its state, per jackpot: the last signal of each kind per pool (what a crossing trigger compares
with, in the order the stage reads them: a jackpot's events come a little out of time order, so
time would move the baseline back and forth), when each rule last fired on the jackpot (its
cooldown, kept apart for dry and live runs), and how far each input partition has been handled.
The stage runs under the stream protocol of the engine (its outputs reach the broker before its
state is saved, and the state before the input offsets are committed), so an input at or below
its partition's mark after a crash has had its candidates sent already, and is skipped; one above
is planned again from the state before it, which gives the same fires and the same ids as long as
the rules, approvals and audience are the same (a rule edited in between fires under new ids).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Iterable, Mapping

from .plan import FirePlan, Member, plan_fires
from .rules import Limits, Rule
from .signals import Signal

__all__ = ["JackpotCampaignState", "Position", "handled", "on_signal"]

_SIGNAL_FIELDS = {f.name for f in fields(Signal)}


@dataclass(frozen=True, slots=True)
class Position:
    """Where the input that carried a signal sits: the stage's dedup key (a clock tick's deadline
    signals share a cause, so the cause cannot be the key)."""

    topic: str
    partition: int
    offset: int
    index: int = 0  # the signal's place among those one input carries (a ledger batch's windows)

    @property
    def key(self) -> str:
        return f"{self.topic}|{self.partition}"

    @property
    def at(self) -> tuple[int, int]:
        return self.offset, self.index


def _slot(signal: Signal) -> str:
    """Signals a crossing compares: same kind, same pool (velocity and player counts: the jackpot)."""
    return f"{signal.kind}|{signal.level_id or ''}|{signal.currency or ''}"


def _rule_key(rule: Rule) -> str:
    return f"{rule.rule_id}|{'dry' if rule.dry_run else 'live'}"


@dataclass
class JackpotCampaignState:
    previous: dict[str, Signal] = field(default_factory=dict)
    last_fired: dict[str, int] = field(default_factory=dict)  # rule id and mode -> event time of its last fire
    # input topic|partition -> (offset, index) of the last signal handled
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"previous": {k: asdict(v) for k, v in self.previous.items()}, "last_fired": dict(self.last_fired),
                "marks": {k: list(v) for k, v in self.marks.items()}}

    @classmethod
    def from_json(cls, d: dict | None) -> "JackpotCampaignState":
        if not d:
            return cls()
        previous = {k: Signal(**{f: x for f, x in v.items() if f in _SIGNAL_FIELDS})  # fields added later: defaults
                    for k, v in d.get("previous", {}).items()}
        return cls(previous, {k: int(v) for k, v in d.get("last_fired", {}).items()},
                   {k: (int(v), 0) if isinstance(v, int) else (int(v[0]), int(v[1]))
                    for k, v in d.get("marks", {}).items()})


def handled(state: JackpotCampaignState, position: Position) -> bool:
    """Whether the signal at ``position`` was handled already (a replay after a crash)."""
    mark = state.marks.get(position.key)
    return mark is not None and position.at <= mark


def on_signal(state: JackpotCampaignState, signal: Signal, position: Position, rules: Iterable[tuple[Rule, bool]],
              audience: Iterable[Member], limits: Limits, *, kill_switch: bool,
              jackpot_brands: frozenset[str] | None = None,
              contacts: Mapping | None = None) -> tuple[JackpotCampaignState, list[tuple[Rule, FirePlan]]]:
    """Plan every rule on ``signal`` and the state after it; ([], same state) for an input handled
    already.  ``rules``: (rule, approved) pairs.  ``contacts``: None when the player stage applies
    the per-player limits (``admission``), as it does in the stream."""
    if handled(state, position):
        return state, []
    previous = state.previous.get(_slot(signal))
    rules = list(rules)
    plans = plan_fires([(rule, approved, state.last_fired.get(_rule_key(rule))) for rule, approved in rules],
                       signal, previous, audience, contacts, limits, kill_switch=kill_switch,
                       jackpot_brands=jackpot_brands)
    last_fired = dict(state.last_fired)
    for rule, plan in plans:
        if plan.status in ("send", "dry_run"):
            last_fired[_rule_key(rule)] = signal.at_ms
    marks = {**state.marks, position.key: position.at}
    previous_now = {**state.previous, _slot(signal): signal}
    return JackpotCampaignState(previous_now, last_fired, marks), [(r, p) for r, p in plans if p.status != "not_fired"]
