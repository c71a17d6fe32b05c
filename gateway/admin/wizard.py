"""The 7-step creation wizard as data: each step is a typed model that can be saved on its own.

A DRAFT holds whatever steps were saved so far (identity is required to create one: a jackpot
without brands could not be scoped). ``assemble`` turns the saved steps into an engine
``Jackpot`` document; ``review`` is step 7: the specification's checklist (splits sum to 100%,
at least one game, currency and brand) plus every rule of the engine's own validation, each
problem as one readable line. Theme and content (step 6) are Back Office data: they feed the
rules document and the widgets, not the engine.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from jackpot.engine.catalog import PROFILES
from jackpot.engine.config import (
    BetType,
    ComplianceProfile,
    DistributionMode,
    DropMode,
    DropWindows,
    EligibilityConfig,
    GameConfig,
    Jackpot,
    JackpotType,
    NetworkConfig,
    Level,
    OperatorRules,
    PayoutConfig,
    Rate,
    ScheduleConfig,
    SelectionConfig,
    TickerConfig,
    WeightFactor,
)

from .problems import Problem

BrandId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,10}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
Jurisdiction = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,5})?$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=120)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^(https://|/)\S*$")]


class Step(StrEnum):
    IDENTITY = "identity"
    LEVELS = "levels"
    GAMES = "games"
    ELIGIBILITY = "eligibility"
    TRIGGER = "trigger"
    PRESENTATION = "presentation"


ENGINE_STEPS = (Step.IDENTITY, Step.LEVELS, Step.GAMES, Step.ELIGIBILITY, Step.TRIGGER)
REQUIRED_STEPS = (Step.IDENTITY, Step.LEVELS, Step.GAMES)


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityStep(_Step):
    """Step 1: identity and type; the compliance profile is a catalog code or a full profile."""

    name: ShortText
    internal_name: Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=r"^[a-z0-9][a-z0-9-]*$")] | None = None
    type: JackpotType
    brands: list[BrandId] = Field(min_length=1, max_length=50)
    currencies: list[Currency] = Field(min_length=1, max_length=20)
    compliance_profile: Literal["CW", "RO"] | ComplianceProfile = "CW"
    # a network jackpot pools bets of other currencies into its one currency at these rates
    network: NetworkConfig | None = None


class LevelInput(Level):
    """A level as the wizard takes it: its id is assigned by the system (from the jackpot id and level
    name); name one only to keep an existing level of this jackpot."""

    level_id: uuid.UUID | None = None


class LevelsStep(_Step):
    """Step 2: funding and levels (amounts and rates as decimal strings; floats are refused)."""

    contribution_rate: Rate
    house_cut: Rate = Decimal(0)
    levels: list[LevelInput] = Field(min_length=1, max_length=20)


class GamesStep(_Step):
    """Step 3: participating games with their coefficient and trigger eligibility."""

    games: list[GameConfig] = Field(min_length=1, max_length=2000)


class EligibilityStep(_Step):
    """Step 4: who may feed and who may win (per-level bet limits are level fields of step 2)."""

    accepted_bet_types: set[BetType] = Field(default_factory=lambda: {BetType.REAL})
    player_segments: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=50)
    active_window_seconds: int = Field(default=60, ge=1, le=86_400)
    eligibility: EligibilityConfig = EligibilityConfig()


class TriggerStep(_Step):
    """Step 5: distribution, selection, drop timing and windows, payout and schedule."""

    distribution_mode: DistributionMode = DistributionMode.PURE_RNG
    weight_factors: dict[WeightFactor, Rate] = Field(default_factory=dict)
    drop_mode: DropMode = DropMode.RANGE
    drop_windows: DropWindows = DropWindows()
    selection: SelectionConfig = SelectionConfig()
    operator_rules: OperatorRules = OperatorRules()
    payout: PayoutConfig = PayoutConfig()
    schedule: ScheduleConfig | None = None
    ticker: TickerConfig = TickerConfig()


class Theme(_Step):
    key_image: Url | None = None
    icon: Url | None = None
    background: Url | None = None
    palette: Literal["red", "purple", "dark", "green", "custom"] = "dark"
    custom_colors: list[HexColor] = Field(default_factory=list, max_length=8)
    font: Annotated[str, StringConstraints(max_length=64)] | None = None
    animation_style: Literal["none", "subtle", "standard", "dramatic"] = "standard"
    show_total_pool: bool = True
    total_pool_label: Annotated[str, StringConstraints(max_length=64)] | None = None
    level_visuals: dict[ShortText, dict[Literal["icon", "badge", "color", "name", "subtitle"], Annotated[str, StringConstraints(max_length=2048)]]] = Field(default_factory=dict)


class Content(_Step):
    """One language's texts; win messages may use the spec's template variables."""

    title: ShortText
    subtitle: Annotated[str, StringConstraints(max_length=200)] | None = None
    description: LongText | None = None
    rules: LongText | None = None
    win_message: Annotated[str, StringConstraints(max_length=500)] | None = None
    chain_reaction_message: Annotated[str, StringConstraints(max_length=500)] | None = None


class PresentationStep(_Step):
    """Step 6: theme and multi-language content."""

    theme: Theme = Theme()
    content: dict[Language, Content] = Field(default_factory=dict, max_length=40)
    default_language: Language = "en"


STEP_MODELS: dict[Step, type[_Step]] = {
    Step.IDENTITY: IdentityStep,
    Step.LEVELS: LevelsStep,
    Step.GAMES: GamesStep,
    Step.ELIGIBILITY: EligibilityStep,
    Step.TRIGGER: TriggerStep,
    Step.PRESENTATION: PresentationStep,
}


def level_id_for(jackpot_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(jackpot_id), f"level/{name}"))


def level_ids(steps: dict[str, Any]) -> set[str]:
    """The level ids a jackpot's saved steps hold."""
    return {str(lv["level_id"]) for lv in steps.get(Step.LEVELS, {}).get("levels", []) if lv.get("level_id")}


def normalise_step(jackpot_id: str, step: Step, model: _Step, known_levels: set[str] | frozenset = frozenset()
                   ) -> dict[str, Any]:
    """A step as stored: JSON, with level ids assigned by the system.

    A level id is derived from the jackpot id and level name; a client may only name a level id
    this jackpot already has (``known_levels``, to keep a live level across a rename), never
    choose one: a chosen id could be another jackpot's level."""
    doc = model.model_dump(mode="json", exclude_none=False)
    if step == Step.LEVELS:
        for lv in doc["levels"]:
            given = lv.get("level_id")
            if given and given not in known_levels:
                raise Problem(422, "level-id-not-allowed",
                              f"level id {given} is not a level of this jackpot: level ids are assigned by the "
                              "system (leave level_id out for a new level)")
            if not given:
                lv["level_id"] = level_id_for(jackpot_id, lv["name"])
    return doc


def _profile(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return PROFILES[value].model_dump(mode="json")
    return value


def assemble(jackpot_id: str, steps: dict[str, Any], *, status: str = "DRAFT",
             created_by: str | None = None) -> dict[str, Any]:
    """The engine document from the saved steps (steps not saved yet are simply absent)."""
    doc: dict[str, Any] = {"jackpot_id": jackpot_id, "status": status}
    identity = dict(steps.get(Step.IDENTITY, {}))
    if identity:
        identity["compliance_profile"] = _profile(identity.get("compliance_profile", "CW"))
        if not identity.get("internal_name"):
            identity["internal_name"] = "-".join(identity["name"].lower().split())[:120] or "jackpot"
        doc.update(identity)
    for step in (Step.LEVELS, Step.GAMES, Step.ELIGIBILITY, Step.TRIGGER):
        doc.update(steps.get(step, {}))
    if created_by:
        doc["created_by"] = created_by
    return doc


def steps_from_config(doc: dict[str, Any]) -> dict[str, Any]:
    """Split an engine document back into wizard steps (clone, template)."""
    out: dict[str, Any] = {}
    for step in ENGINE_STEPS:
        model = STEP_MODELS[step]
        part = {k: doc[k] for k in model.model_fields if k in doc}
        out[step.value] = model.model_validate(part).model_dump(mode="json")
    return out


class Review(BaseModel):
    """Step 7: the checklist and every problem that blocks activation."""

    ready: bool
    missing_steps: list[str]
    checklist: dict[str, bool]
    problems: list[str]


def review(jackpot_id: str, steps: dict[str, Any]) -> tuple[Review, Jackpot | None]:
    missing = [s.value for s in REQUIRED_STEPS if s.value not in steps]
    doc = assemble(jackpot_id, steps)
    levels = doc.get("levels", [])
    split_total = sum((Fraction(Decimal(str(lv.get("contribution_split", "0")))) for lv in levels), Fraction(0))
    checklist = {
        "splits_sum_to_100_percent": bool(levels) and split_total == 1,
        "at_least_one_game": bool(doc.get("games")),
        "at_least_one_currency": bool(doc.get("currencies")),
        "at_least_one_brand": bool(doc.get("brands")),
    }
    problems: list[str] = []
    jackpot = None
    if not missing:
        try:
            jackpot = Jackpot.model_validate(doc)
        except ValidationError as exc:
            problems = engine_problems(exc)
    else:
        problems = [f"step {s} is not saved yet" for s in missing]
    ok = not missing and not problems and all(checklist.values())
    return Review(ready=ok, missing_steps=missing, checklist=checklist, problems=problems), jackpot


def engine_problems(exc: ValidationError) -> list[str]:
    out: list[str] = []
    for e in exc.errors(include_url=False, include_context=False, include_input=False):
        msg = str(e.get("msg", ""))
        loc = ".".join(str(p) for p in e.get("loc", ()))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if not loc:
            out.extend(m.strip() for m in msg.split("; ") if m.strip())
        else:
            out.append(f"{loc}: {msg}")
    return out
