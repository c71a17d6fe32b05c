"""A campaign rule as an operator writes it: one trigger, conditions, one or more actions.

Rules are versioned: every edit is a new version, and an approval is given to one version, so a
rule edited after its approval needs approving again before it reaches a large audience.
Amounts are integer micros of the pool's currency (engine/money.py), never floats.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Iterable, Literal, Union
from uuid import UUID

import orjson
import yarl
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator, model_validator

from jackpot.engine.config import JackpotStatus, LevelStatus, zone_known
from jackpot.engine.warn import WARN_STATES

__all__ = [
    "Channel",
    "PLAYER_CHANNELS",
    "NOTIFICATION_CHANNELS",
    "SURFACE_CHANNELS",
    "WarnStateTrigger",
    "PoolThresholdTrigger",
    "DeadlineTrigger",
    "PlayerCountTrigger",
    "JackpotWonTrigger",
    "JackpotReseededTrigger",
    "LifecycleTrigger",
    "VelocityTrigger",
    "Trigger",
    "Conditions",
    "Action",
    "Rule",
    "Limits",
    "KILL_SWITCH",
    "rule_entry",
    "parse_rule_entry",
    "kill_switch_entry",
    "webhook_host",
]


class Channel(StrEnum):
    PUSH = "push"
    EMAIL = "email"
    SMS = "sms"
    LOBBY_BANNER = "lobby_banner"
    HOMEPAGE_TAKEOVER = "homepage_takeover"
    IN_GAME_OVERLAY = "in_game_overlay"
    SOCIAL_POST = "social_post"
    CRM_TAG = "crm_tag"
    WEBHOOK = "webhook"
    ACTIVATE_TEMPLATE = "activate_template"


# sent to each player of the audience; the others are one action per fire (a surface, a partner)
PLAYER_CHANNELS = frozenset({Channel.PUSH, Channel.EMAIL, Channel.SMS, Channel.CRM_TAG})
# reach the public or partners beyond the jackpot's own players: a live rule sends them only from
# an approved version, whatever its audience
PUBLIC_CHANNELS = frozenset({Channel.HOMEPAGE_TAKEOVER, Channel.SOCIAL_POST, Channel.WEBHOOK, Channel.ACTIVATE_TEMPLATE})
# reach the player's device or inbox: consent and opt-out are checked before each one
NOTIFICATION_CHANNELS = frozenset({Channel.PUSH, Channel.EMAIL, Channel.SMS})
# shown by the public gateway (the Universe page and the widgets), not posted to an endpoint
SURFACE_CHANNELS = frozenset({Channel.LOBBY_BANNER, Channel.HOMEPAGE_TAKEOVER, Channel.IN_GAME_OVERLAY})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# the states a level enters on the way up; Calm is never entered by an event (a new cycle starts there)
MAX_INT64 = 2**63 - 1  # amounts and counts travel as 64-bit integers (JSON and Avro longs)
MAX_ACTIONS = 20  # actions of one rule
MAX_JACKPOTS = 500  # jackpot ids one rule names (every jackpot: leave it out)

ENTERED_WARN_STATES = tuple(s for s in WARN_STATES if s != "calm")


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isalpha():
        raise ValueError(f"a currency is a three-letter code, not {value!r}")
    return value.upper()


class WarnStateTrigger(_Model):
    """A level's warn state entered one of ``to`` (Heating, On Fire, Must Drop)."""

    kind: Literal["warn_state"] = "warn_state"
    to: frozenset[str] = Field(min_length=1)

    @field_validator("to")
    @classmethod
    def _known_states(cls, value: frozenset[str]) -> frozenset[str]:
        unknown = sorted(value - set(ENTERED_WARN_STATES))
        if unknown:
            raise ValueError(f"unknown warn states {unknown}; a trigger can watch {list(ENTERED_WARN_STATES)}")
        return value


class PoolThresholdTrigger(_Model):
    """A level's visible pool crossed ``amount`` upwards (the crossing, not each update above it)."""

    kind: Literal["pool_threshold"] = "pool_threshold"
    amount: StrictInt = Field(gt=0, le=MAX_INT64, description="micros of the pool's currency")
    currency: str

    @field_validator("currency")
    @classmethod
    def _code(cls, value: str) -> str:
        return _currency(value)


class DeadlineTrigger(_Model):
    """``minutes_before`` a must-drop deadline (e.g. 30 minutes before a Daily Must Drop)."""

    kind: Literal["deadline"] = "deadline"
    minutes_before: int = Field(gt=0, le=7 * 24 * 60)


class PlayerCountTrigger(_Model):
    """The jackpot's active players reached ``at_least``."""

    kind: Literal["player_count"] = "player_count"
    at_least: int = Field(gt=0, le=MAX_INT64)


class JackpotWonTrigger(_Model):
    kind: Literal["jackpot_won"] = "jackpot_won"


class JackpotReseededTrigger(_Model):
    kind: Literal["jackpot_reseeded"] = "jackpot_reseeded"


class LifecycleTrigger(_Model):
    """The jackpot's lifecycle state (``scope="jackpot"``: ACTIVE, PAUSED, EXPIRED...) or one of
    its levels' (``scope="level"``: ENABLED, PAUSED, NO_WIN, DISABLED) changed to one of ``to``."""

    kind: Literal["lifecycle"] = "lifecycle"
    scope: Literal["jackpot", "level"] = "jackpot"
    to: frozenset[str] = Field(min_length=1)

    @field_validator("to")
    @classmethod
    def _known_states(cls, value: frozenset[str], info: ValidationInfo) -> frozenset[str]:
        scope = info.data.get("scope", "jackpot")  # declared before ``to``: validated first
        known = {s.value for s in (JackpotStatus if scope == "jackpot" else LevelStatus)}
        upper = frozenset(v.upper() for v in value)
        if not upper <= known:
            raise ValueError(f"unknown {scope} states {sorted(upper - known)}; known: {sorted(known)}")
        return upper


class VelocityTrigger(_Model):
    """The contribution rate over the last window changed by at least ``change_pct`` percent
    against the window before (positive: a rise, negative: a fall); it fires when the change
    first reaches that, not again while it stays there."""

    kind: Literal["velocity"] = "velocity"
    change_pct: int = Field(ge=-100, le=10_000)

    @field_validator("change_pct")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a velocity trigger needs a non-zero change")
        return value


Trigger = Annotated[
    Union[WarnStateTrigger, PoolThresholdTrigger, DeadlineTrigger, PlayerCountTrigger, JackpotWonTrigger,
          JackpotReseededTrigger, LifecycleTrigger, VelocityTrigger],
    Field(discriminator="kind"),
]


class Conditions(_Model):
    """All must hold when the trigger fires.  Times are local to ``timezone``; a window whose
    end is before its start spans midnight (22:00-02:00)."""

    timezone: str = "UTC"
    window_start: time | None = None
    window_end: time | None = None
    days: frozenset[int] | None = Field(None, description="ISO weekdays, 1 = Monday")
    brands: frozenset[str] | None = Field(None, min_length=1, description="jackpots and players of these brands")
    levels: frozenset[str] | None = Field(None, min_length=1, description="level ids; None: every level")
    segments: frozenset[str] | None = Field(None, min_length=1, description="players in any of these segments")
    cooldown_s: StrictInt = Field(0, ge=0, le=366 * 24 * 3600,
                                  description="minimum time between two fires of the rule on a jackpot")
    min_pool: StrictInt | None = Field(None, gt=0, le=MAX_INT64, description="micros: the signal's visible pool at least this")
    min_pool_currency: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not zone_known(value):  # "America" is a folder, "a/"*2000 nests too deep
            raise ValueError(f"unknown time zone {value[:64]!r}")
        return value

    @field_validator("window_start", "window_end")
    @classmethod
    def _local_times(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("window times are local to the conditions' timezone: give them without an offset")
        return value

    @field_validator("min_pool_currency")
    @classmethod
    def _pool_currency(cls, value: str | None) -> str | None:
        return None if value is None else _currency(value)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: frozenset[int] | None) -> frozenset[int] | None:
        if value is not None and (not value or not value <= set(range(1, 8))):
            raise ValueError("days are ISO weekdays 1 (Monday) to 7 (Sunday), at least one")
        return value

    @model_validator(mode="after")
    def _whole_window(self) -> "Conditions":
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("a time window needs both window_start and window_end")
        if self.window_start is not None and self.window_start == self.window_end:
            raise ValueError("an empty time window never fires: window_start equals window_end")
        if (self.min_pool is None) != (self.min_pool_currency is None):
            raise ValueError("min_pool and min_pool_currency go together (an amount means nothing without its currency)")
        return self


def allowed_webhook_hosts(setting: str) -> frozenset[str]:
    """The partner hosts a webhook may aim at, from ``JACKPOT_CAMPAIGN_WEBHOOK_HOSTS`` (a comma-
    separated list): the admin API checks a rule against them when saved, delivery when sent."""
    return frozenset(h.strip().lower() for h in setting.split(",") if h.strip())


def webhook_host(url: str) -> str | None:
    """The host of an https URL with a valid port, lower case; None for anything else."""
    try:
        u = yarl.URL(url)
        port = u.port
    except (ValueError, TypeError):
        return None
    if u.scheme != "https" or not u.host or port is None or not 0 < port < 65536:
        return None
    if u.user is not None or u.password is not None:
        return None  # credentials in a URL end up in every view and log of the rule
    return u.host.lower()



class Action(_Model):
    channel: Channel
    template: str = Field(min_length=1, max_length=200, description="message or template name for the channel")
    target: str | None = Field(None, max_length=500, description="webhook URL, CRM tag, or template id to activate")

    @model_validator(mode="after")
    def _target_where_needed(self) -> "Action":
        needs = {Channel.WEBHOOK: "a URL", Channel.CRM_TAG: "a tag", Channel.ACTIVATE_TEMPLATE: "a template id"}
        if self.channel in needs and not self.target:
            raise ValueError(f"a {self.channel.value} action needs a target ({needs[self.channel]})")
        if self.channel is Channel.WEBHOOK:
            if webhook_host(str(self.target)) is None:
                raise ValueError("a webhook target must be an https:// URL with a host (and a valid port), "
                                 "and no user or password in it (the receiver checks the signature)")
        return self


# triggers whose signal carries the visible pool amount (min_pool can be checked against it)
_AMOUNT_TRIGGERS = frozenset({"warn_state", "pool_threshold"})


class Rule(_Model):
    """A rule version.  Approvals are not part of it: they are records of their own, given by a
    manager to one version (``plan_fire(..., approved=...)``), so a rule's author cannot approve it
    by writing a field, and an edit (a new version) needs approving again."""
    rule_id: UUID
    version: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    jackpot_ids: frozenset[str] | None = Field(None, min_length=1, max_length=MAX_JACKPOTS,
                                               description="None: every jackpot")
    trigger: Trigger
    conditions: Conditions = Conditions()
    actions: tuple[Action, ...] = Field(min_length=1, max_length=MAX_ACTIONS)
    enabled: bool = True
    dry_run: bool = Field(True, description="new rules report what they would send, and send nothing")

    @model_validator(mode="after")
    def _coherent(self) -> "Rule":
        player = [a.channel for a in self.actions if a.channel in PLAYER_CHANNELS]
        if len(player) != len(set(player)):
            raise ValueError("a rule sends each player channel once: merge the duplicate actions")
        if self.conditions.min_pool is not None and self.trigger.kind not in _AMOUNT_TRIGGERS:
            raise ValueError(f"min_pool needs a trigger whose event carries the pool ({sorted(_AMOUNT_TRIGGERS)}), "
                             f"not {self.trigger.kind}")
        return self

    @property
    def player_channels(self) -> list[Action]:
        return [a for a in self.actions if a.channel in PLAYER_CHANNELS]


class Limits(_Model):
    """The safety limits every fire obeys (settings; the specification's defaults)."""

    pushes_per_player_day: int = Field(3, ge=0, le=10)
    player_cooldown_s: int = Field(3600, ge=3600, description="between two executions targeting one player (at least an hour)")
    approval_threshold: int = Field(1000, ge=0, description="a fire reaching more players needs an approved version")
    dry_run_sample: int = Field(5, ge=0, le=100)
    stale_after_s: int = Field(900, gt=0, description="a player action not sent this long after its event is dropped")


# ------------------------------------------------------------ on the topics
# ``campaign-rules``: per rule id, its current version and the versions a manager approved (a
# tombstone: the rule deleted); ``campaign-control``: the kill switch under KILL_SWITCH.
KILL_SWITCH = "kill_switch"


def rule_entry(rule: Rule, approved_versions: Iterable[int] = ()) -> bytes:
    return orjson.dumps({"rule": rule.model_dump(mode="json"), "approved_versions": sorted(set(approved_versions))})


def parse_rule_entry(doc: dict) -> tuple[Rule, frozenset[int]]:
    return Rule.model_validate(doc["rule"]), frozenset(int(v) for v in doc.get("approved_versions", ()))


def kill_switch_entry(on: bool, by: str, at_ms: int) -> bytes:
    return orjson.dumps({"on": on, "by": by, "at_ms": at_ms})
