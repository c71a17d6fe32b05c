"""Jackpot configuration: the spec's Jackpot, Level, GameConfig and ComplianceProfile, validated.

These pydantic models are the *edge*: they check structure, types and cross-field rules once,
when an operator saves a config. The per-bet path never touches them; ``compiled.compile_jackpot``
turns a validated ``Jackpot`` into plain ints and tuples.

Conventions (see README of the engine, ``money.py``):
- Money fields are ``Decimal`` currency units with at most 6 decimal places (micros). Floats are
  refused everywhere: give decimals as strings or ``Decimal``.
- Rates are fractions of 1: ``contribution_rate=0.015`` is 1.5%, ``house_cut=0.10`` is 10%,
  ``contribution_split=0.40`` is 40%, ``warn_from=0.70`` is 70% of the win target.
- Level money fields apply to every currency of the jackpot unless ``currency_amounts`` gives
  that currency its own seed/win/bet amounts (the spec's "currency-specific seed amounts, win
  ranges, bet thresholds").

Cross-field rules raise one error listing every problem found, each message naming the level,
currency and values involved.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import ROUND_CEILING, Decimal
from enum import IntEnum, StrEnum
from fractions import Fraction
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from .money import SCALE

__all__ = [
    "JackpotType",
    "JackpotStatus",
    "LevelStatus",
    "BetType",
    "DropMode",
    "DistributionMode",
    "ChainMode",
    "OverflowMode",
    "WeightFactor",
    "OperatorAction",
    "Feature",
    "Money",
    "Rate",
    "GameConfig",
    "HiddenIncrement",
    "ChainReaction",
    "Waterfall",
    "RangeDisplay",
    "OverflowConfig",
    "CurrencyAmounts",
    "Level",
    "ComplianceProfile",
    "ScheduleConfig",
    "Jackpot",
    "pct",
]


# --------------------------------------------------------------------------- enums


class JackpotType(StrEnum):
    PERSISTENT = "PERSISTENT"
    TIMED = "TIMED"
    PROMOTIONAL = "PROMOTIONAL"
    MYSTERY = "MYSTERY"


class JackpotStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    DROPPING = "DROPPING"
    EXPIRED = "EXPIRED"
    ARCHIVED = "ARCHIVED"


class LevelStatus(StrEnum):
    ENABLED = "ENABLED"
    PAUSED = "PAUSED"
    NO_WIN = "NO_WIN"
    DISABLED = "DISABLED"


class BetType(StrEnum):
    REAL = "real"
    BONUS = "bonus"


class DropMode(StrEnum):
    """Drop timing modes of the spec's trigger section."""

    RANGE = "range"
    MUST_DROP = "must_drop"
    TIME_DROP = "time_drop"
    MANUAL = "manual"


class DistributionMode(IntEnum):
    PURE_RNG = 1
    BEHAVIOR_WEIGHTED = 2
    OPERATOR_DIRECTED = 3
    HYBRID = 4


class ChainMode(StrEnum):
    RANDOM = "random"
    WEIGHTED = "weighted"
    PROXIMITY = "proximity"
    TARGETED = "targeted"


# Which distribution modes each chain-reaction mode belongs to (spec: Chain Reaction table).
CHAIN_MODE_DISTRIBUTION = {
    ChainMode.RANDOM: {1, 2, 3, 4},
    ChainMode.WEIGHTED: {2, 3, 4},
    ChainMode.PROXIMITY: {2, 3, 4},
    ChainMode.TARGETED: {3, 4},
}


class OverflowMode(StrEnum):
    """Where contributions go once a level sits at win_max (regulatory item 6).

    buffer:   kept in the level's reserve and carried into the next cycle's seed (the
              spec's "contributions buffer"; the regulation's "reserve" destination).
    redirect: credited to other levels of the same jackpot and currency, in order; whatever
              they cannot take falls back to the buffer.
    revenue:  booked to operator revenue and reported (allowed only where the profile allows).
    """

    BUFFER = "buffer"
    REDIRECT = "redirect"
    REVENUE = "revenue"


class WeightFactor(StrEnum):
    BET_SIZE = "bet_size"
    CONTRIBUTION_VOLUME = "contribution_volume"
    SESSION_PRESENCE = "session_presence"
    BET_COUNT = "bet_count"
    LOYALTY_TIER = "loyalty_tier"
    RECENCY = "recency"


class OperatorAction(StrEnum):
    """Operator overrides a jurisdiction may prohibit (spec: Operator Override Controls)."""

    FORCE_DROP = "force_drop"
    DELAY_DROP = "delay_drop"
    CANCEL_DROP = "cancel_drop"
    PAUSE = "pause"
    NO_WIN_MODE = "no_win_mode"
    MANUAL_ADJUST = "manual_adjust"
    VOID_WIN = "void_win"
    APPLY_IMMEDIATELY = "apply_immediately"


class Feature(StrEnum):
    """Configuration features a jurisdiction may prohibit."""

    SEGMENT_TARGETING = "segment_targeting"
    HIDDEN_INCREMENT = "hidden_increment"
    CHAIN_REACTION = "chain_reaction"
    WATERFALL = "waterfall"
    OVERFLOW_TO_REVENUE = "overflow_to_revenue"
    MYSTERY = "mystery"


# --------------------------------------------------------------------------- value types


def _no_float(v: Any) -> Any:
    if isinstance(v, float):
        raise ValueError(f"{v!r} is a float; give exact decimals as strings or Decimal")
    return v


def _finite(v: Decimal) -> Decimal:
    if not v.is_finite():
        raise ValueError(f"{v} is not a finite number")
    return v


def _money(v: Decimal) -> Decimal:
    _finite(v)
    if v < 0:
        raise ValueError(f"amount {v:f} must not be negative")
    if v.as_tuple().exponent < -SCALE and v != v.quantize(Decimal(1).scaleb(-SCALE)):
        raise ValueError(f"amount {v:f} has more than {SCALE} decimal places")
    return v


Money = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_money)]
"""Currency units, non-negative, exact to the micro."""

Rate = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_finite)]
"""An exact fraction of 1 (0.015 = 1.5%); ranges are checked by the owning model."""


def pct(value: Decimal | Fraction) -> str:
    """Render a fraction as a percentage for messages: Decimal('0.4') -> '40%'."""
    d = Decimal(value.numerator) / Decimal(value.denominator) if isinstance(value, Fraction) else value
    s = format((d * 100).normalize(), "f")
    return f"{s}%"


def _fmt(v: Decimal) -> str:
    return format(v.normalize(), "f") if v == v.to_integral_value() else format(v, "f")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# --------------------------------------------------------------------------- games


class GameConfig(_Model):
    """A participating game: per-game contribution coefficient and trigger eligibility."""

    game_id: str = Field(min_length=1, max_length=128)
    coefficient: Rate = Decimal(1)
    trigger_eligible: bool = True
    provider: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "GameConfig":
        if self.coefficient < 0 or self.coefficient > 100:
            raise ValueError(
                f"game {self.game_id}: coefficient {self.coefficient} must be between 0 and 100"
            )
        return self


# --------------------------------------------------------------------------- level parts


class HiddenIncrement(_Model):
    """Hidden increment: ``coefficient`` is the share of the level's net contribution that goes
    to the invisible reserve instead of the visible amount; the reserve carries into the next
    cycle's seed (the regulation's "hidden rate that funds the next reset")."""

    enabled: bool = False
    coefficient: Rate = Decimal(0)


class ChainReaction(_Model):
    enabled: bool = False
    prize_count: int = 1
    prize_amounts: list[Money] = Field(default_factory=list)
    distribution_mode: ChainMode = ChainMode.RANDOM


class Waterfall(_Model):
    enabled: bool = False
    cascade_delay_seconds: int = Field(default=0, ge=0)
    cascade_scope: Literal["full", "partial"] = "full"
    winner_mode: Literal["independent", "same"] = "independent"


class RangeDisplay(_Model):
    min_display: Literal["nothing", "seed_from", "win_from"] = "nothing"
    max_display: Literal["nothing", "seed_to", "win_to"] = "nothing"


class OverflowConfig(_Model):
    mode: OverflowMode = OverflowMode.BUFFER
    # redirect targets in order; empty = the other levels, lower levels first, then higher.
    redirect_to: list[UUID] = Field(default_factory=list)


class CurrencyAmounts(_Model):
    """Currency-specific money fields of a level (replace the level's defaults for that currency)."""

    seed_from: Money
    seed_to: Money
    win_from: Money
    win_to: Money
    win_max: Money
    min_bet: Money = Decimal(0)
    max_bet: Money = Decimal(0)
    max_contribution: Money | None = None
    chain_prize_amounts: list[Money] | None = None


_AMOUNT_FIELDS = ("seed_from", "seed_to", "win_from", "win_to", "win_max", "min_bet", "max_bet")


def _amount_problems(where: str, a: Any, whole_units: bool = False) -> list[str]:
    """Range rules shared by a level's default amounts and its per-currency amounts."""
    p: list[str] = []
    if whole_units and a.seed_from.to_integral_value(rounding=ROUND_CEILING) > a.seed_to:
        p.append(
            f"{where}: integer_wins_only needs a whole amount between seed_from {_fmt(a.seed_from)} "
            f"and seed_to {_fmt(a.seed_to)}"
        )
    if a.seed_to < a.seed_from:
        p.append(f"{where}: seed_to {_fmt(a.seed_to)} must be >= seed_from {_fmt(a.seed_from)}")
    if a.win_to < a.win_from:
        p.append(f"{where}: win_to {_fmt(a.win_to)} must be >= win_from {_fmt(a.win_from)}")
    if a.win_max < a.win_to:
        p.append(f"{where}: win_max {_fmt(a.win_max)} must be >= win_to {_fmt(a.win_to)}")
    if a.win_from < a.seed_to:
        p.append(
            f"{where}: win_from {_fmt(a.win_from)} must be >= seed_to {_fmt(a.seed_to)} "
            "(a cycle must not start inside its own win range)"
        )
    if a.win_max <= 0:
        p.append(f"{where}: win_max must be positive")
    if a.max_bet and a.max_bet < a.min_bet:
        p.append(f"{where}: max_bet {_fmt(a.max_bet)} must be >= min_bet {_fmt(a.min_bet)} (0 = no limit)")
    if a.max_contribution is not None and a.max_contribution <= 0:
        p.append(f"{where}: max_contribution must be positive")
    return p


# --------------------------------------------------------------------------- level


class Level(_Model):
    """A prize tier with its own pool per currency (spec: Level Entity).

    Engine additions, all with spec defaults: ``max_contribution`` (regulatory item 1: bound on a
    single contribution; default 10% of win_max), ``evaluation_delay_from/to`` (anti-prediction,
    default 1-50 bets), ``drop_cooldown_minutes``, ``approaching_max_at`` (PoolApproachingMax
    threshold as a fraction of win_max, default 0.90), ``overflow`` (what happens at win_max)
    and ``currency_amounts``.
    """

    level_id: UUID
    name: str = Field(min_length=1, max_length=64)
    display_order: int = Field(ge=1)
    icon: str | None = None
    image_id: UUID | None = None
    contribution_split: Rate
    seed_from: Money
    seed_to: Money
    win_from: Money
    win_to: Money
    win_max: Money
    coefficient: Rate = Decimal(1)
    warn_from: Rate = Decimal("0.70")
    warn_to: Rate = Decimal("0.90")
    min_bet: Money = Decimal(0)
    max_bet: Money = Decimal(0)
    min_players: int = Field(default=0, ge=0)
    min_spins: int = Field(default=0, ge=0)
    hidden_increment: HiddenIncrement = HiddenIncrement()
    chain_reaction: ChainReaction = ChainReaction()
    waterfall: Waterfall = Waterfall()
    range_display: RangeDisplay = RangeDisplay()
    integer_wins_only: bool = False
    lock_on_win: bool = False
    auto_reset_seconds: int = Field(default=0, ge=0)
    status: LevelStatus = LevelStatus.ENABLED
    # engine additions
    max_contribution: Money | None = None
    evaluation_delay_from: int = 1
    evaluation_delay_to: int = 50
    drop_cooldown_minutes: int = Field(default=0, ge=0)
    approaching_max_at: Rate = Decimal("0.90")
    overflow: OverflowConfig = OverflowConfig()
    currency_amounts: dict[str, CurrencyAmounts] = Field(default_factory=dict)

    def problems(self) -> list[str]:
        """Every rule of this level that does not hold (currency-independent part)."""
        w = f"level '{self.name}'"
        p: list[str] = []
        if not (0 <= self.contribution_split <= 1):
            p.append(f"{w}: contribution_split {pct(self.contribution_split)} must be within 0-100%")
        for name in ("warn_from", "warn_to"):
            v = getattr(self, name)
            if not (0 <= v <= 1):
                p.append(f"{w}: {name} {pct(v)} must be within 0-100% of the win target")
        if self.warn_to < self.warn_from:
            p.append(f"{w}: warn_to {pct(self.warn_to)} must be >= warn_from {pct(self.warn_from)}")
        if not (0 < self.approaching_max_at <= 1):
            p.append(f"{w}: approaching_max_at {pct(self.approaching_max_at)} must be within (0, 100%]")
        if self.coefficient < 0 or self.coefficient > 100:
            p.append(f"{w}: coefficient {self.coefficient} must be between 0 and 100")
        hi = self.hidden_increment
        if not (0 <= hi.coefficient < 1):
            p.append(f"{w}: hidden_increment coefficient {pct(hi.coefficient)} must be within 0-100% (exclusive)")
        elif hi.enabled and hi.coefficient == 0:
            p.append(f"{w}: hidden_increment is enabled with coefficient 0%")
        cr = self.chain_reaction
        if not (1 <= cr.prize_count <= 10):
            p.append(f"{w}: chain reaction prize_count {cr.prize_count} must be between 1 and 10")
        elif cr.enabled and len(cr.prize_amounts) != cr.prize_count:
            p.append(
                f"{w}: chain reaction has prize_count {cr.prize_count} but "
                f"{len(cr.prize_amounts)} prize_amounts"
            )
        if cr.enabled and any(a <= 0 for a in cr.prize_amounts):
            p.append(f"{w}: chain reaction prize amounts must be positive")
        if self.evaluation_delay_from < 1 or self.evaluation_delay_to < self.evaluation_delay_from:
            p.append(
                f"{w}: evaluation delay range {self.evaluation_delay_from}-{self.evaluation_delay_to} "
                "must satisfy 1 <= from <= to"
            )
        p.extend(_amount_problems(w, self, self.integer_wins_only))
        for cur, a in self.currency_amounts.items():
            p.extend(_amount_problems(f"{w} ({cur})", a, self.integer_wins_only))
            if cr.enabled and a.chain_prize_amounts is not None:
                if len(a.chain_prize_amounts) != cr.prize_count:
                    p.append(
                        f"{w} ({cur}): chain reaction has prize_count {cr.prize_count} but "
                        f"{len(a.chain_prize_amounts)} chain_prize_amounts"
                    )
        return p

    def amounts_for(self, currency: str) -> CurrencyAmounts:
        """The effective money fields of this level in ``currency``."""
        a = self.currency_amounts.get(currency)
        if a is not None:
            return a
        return CurrencyAmounts(
            **{f: getattr(self, f) for f in _AMOUNT_FIELDS},
            max_contribution=self.max_contribution,
            chain_prize_amounts=list(self.chain_reaction.prize_amounts),
        )


# --------------------------------------------------------------------------- compliance


class ComplianceProfile(_Model):
    """Per-jurisdiction rules; a jackpot whose config violates its profile is rejected."""

    jurisdiction_code: str = Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,5})?$")
    name: str | None = None
    allowed_distribution_modes: set[DistributionMode] = Field(min_length=1)
    certification_required: bool = False
    certification_bodies: list[str] = Field(default_factory=list)
    rng_audit_trail: bool = True
    audit_level: Literal["standard", "enhanced", "full"] = "standard"
    allowed_weight_factors: set[WeightFactor] = Field(default_factory=lambda: set(WeightFactor))
    allowed_bet_types: set[BetType] = Field(default_factory=lambda: {BetType.REAL, BetType.BONUS})
    allowed_chain_modes: set[ChainMode] = Field(default_factory=lambda: set(ChainMode))
    allowed_currencies: set[str] | None = None
    prohibited_actions: set[OperatorAction] = Field(default_factory=set)
    prohibited_features: set[Feature] = Field(default_factory=set)
    hit_history_size: int = Field(default=25, ge=25, le=10_000)


# --------------------------------------------------------------------------- schedule


class ScheduleConfig(_Model):
    """Activation window of timed and promotional jackpots.

    ``start_at``/``end_at`` bound the campaign; ``recurrence`` adds a repeating window in
    ``timezone``: daily (``open_time``-``close_time``, e.g. a must-drop-by-midnight) or weekly
    (``open_weekday`` ``open_time`` to ``close_weekday`` ``close_time``; 0 = Monday).
    ``end_action`` says what happens to remaining funds when the campaign ends.
    """

    timezone: str = "UTC"
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    recurrence: Literal["none", "daily", "weekly"] = "none"
    open_time: time | None = None
    close_time: time | None = None
    open_weekday: int | None = Field(default=None, ge=0, le=6)
    close_weekday: int | None = Field(default=None, ge=0, le=6)
    end_action: Literal["carry_over", "force_drop"] = "force_drop"

    @model_validator(mode="after")
    def _check(self) -> "ScheduleConfig":
        p: list[str] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            p.append(f"schedule: unknown timezone {self.timezone!r}")
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            p.append(f"schedule: end_at {self.end_at.isoformat()} must be after start_at {self.start_at.isoformat()}")
        if self.recurrence == "daily":
            if self.close_time is None:
                p.append("schedule: a daily window needs close_time (the daily deadline)")
            elif self.open_time is not None and self.open_time >= self.close_time:
                p.append("schedule: daily open_time must be before close_time")
        if self.recurrence == "weekly":
            if None in (self.open_weekday, self.open_time, self.close_weekday, self.close_time):
                p.append("schedule: a weekly window needs open_weekday, open_time, close_weekday and close_time")
        if self.recurrence == "none" and (self.open_time or self.close_time):
            p.append("schedule: open_time/close_time need a daily or weekly recurrence")
        if p:
            raise ValueError("; ".join(p))
        return self

    @property
    def has_deadline(self) -> bool:
        return self.end_at is not None or self.recurrence != "none"


# --------------------------------------------------------------------------- jackpot


class Jackpot(_Model):
    """A named container of levels with shared games, brands, currencies (spec: Jackpot Entity).

    Engine additions: ``accepted_bet_types`` (pipeline step 2, default real money only),
    ``distribution_mode`` and ``weight_factors`` (checked against the compliance profile),
    ``drop_mode``, ``player_segments`` (empty = everyone) and ``active_window_seconds``.
    """

    jackpot_id: UUID
    name: str = Field(min_length=1, max_length=120)
    internal_name: str = Field(min_length=1, max_length=120)
    type: JackpotType
    status: JackpotStatus = JackpotStatus.DRAFT
    brands: list[str] = Field(default_factory=list)
    currencies: list[str] = Field(default_factory=list)
    games: list[GameConfig] = Field(default_factory=list)
    contribution_rate: Rate
    house_cut: Rate = Decimal(0)
    accepted_bet_types: set[BetType] = Field(default_factory=lambda: {BetType.REAL})
    compliance_profile: ComplianceProfile
    schedule: ScheduleConfig | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    levels: list[Level] = Field(default_factory=list)
    distribution_mode: DistributionMode = DistributionMode.PURE_RNG
    weight_factors: dict[WeightFactor, Rate] = Field(default_factory=dict)
    drop_mode: DropMode = DropMode.RANGE
    player_segments: list[str] = Field(default_factory=list)
    active_window_seconds: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "Jackpot":
        p = self.problems()
        if p:
            raise ValueError("; ".join(p))
        return self

    # The checks are a plain method so the catalog and tools can list problems without raising.
    def problems(self) -> list[str]:
        p: list[str] = []
        p.extend(self._structure_problems())
        p.extend(self._rate_problems())
        for lvl in self.levels:
            p.extend(lvl.problems())
        p.extend(self._level_set_problems())
        p.extend(self._schedule_problems())
        p.extend(self.compliance_problems())
        return p

    def _structure_problems(self) -> list[str]:
        p: list[str] = []
        if not self.games:
            p.append("a jackpot needs at least one participating game")
        if not self.currencies:
            p.append("a jackpot needs at least one currency")
        if not self.brands:
            p.append("a jackpot needs at least one brand")
        if not self.levels:
            p.append("a jackpot needs at least one level")
        if any(not b for b in self.brands):
            p.append("brand ids must not be empty")
        for c in self.currencies:
            if not (3 <= len(c) <= 10 and c.isalnum() and c.upper() == c):
                p.append(f"currency {c!r} must be an upper-case code of 3-10 letters/digits")
        for what, ids in (
            ("game", [g.game_id for g in self.games]),
            ("brand", self.brands),
            ("currency", self.currencies),
            ("level id", [str(lv.level_id) for lv in self.levels]),
            ("level display_order", [lv.display_order for lv in self.levels]),
        ):
            dup = sorted({str(i) for i in ids if ids.count(i) > 1})
            if dup:
                p.append(f"duplicate {what}: {', '.join(dup)}")
        return p

    def _rate_problems(self) -> list[str]:
        p: list[str] = []
        if not (0 < self.contribution_rate <= 1):
            p.append(f"contribution_rate {pct(self.contribution_rate)} must be within (0, 100%]")
        if not (0 <= self.house_cut < 1):
            p.append(f"house_cut {pct(self.house_cut)} must be within [0, 100%)")
        for f, v in self.weight_factors.items():
            if v < 0:
                p.append(f"weight factor {f.value} coefficient {v} must not be negative")
        return p

    def _level_set_problems(self) -> list[str]:
        p: list[str] = []
        if not self.levels:
            return p
        total = sum((Fraction(lv.contribution_split) for lv in self.levels), Fraction(0))
        if total != 1:
            parts = ", ".join(f"{lv.name} {pct(lv.contribution_split)}" for lv in self.levels)
            p.append(f"level contribution splits must sum to exactly 100%, got {pct(total)} ({parts})")
        ids = {lv.level_id for lv in self.levels}
        for lv in self.levels:
            extra = sorted(set(lv.currency_amounts) - set(self.currencies))
            if extra:
                p.append(f"level '{lv.name}': currency_amounts for {', '.join(extra)} which the jackpot does not support")
            ov = lv.overflow
            for t in ov.redirect_to:
                if t == lv.level_id:
                    p.append(f"level '{lv.name}': overflow cannot redirect to itself")
                elif t not in ids:
                    p.append(f"level '{lv.name}': overflow redirect target {t} is not a level of this jackpot")
            if ov.mode == OverflowMode.REDIRECT and len(self.levels) < 2:
                p.append(f"level '{lv.name}': overflow redirect needs another level")
        return p

    def _schedule_problems(self) -> list[str]:
        p: list[str] = []
        if self.type in (JackpotType.TIMED, JackpotType.PROMOTIONAL):
            if self.schedule is None or not self.schedule.has_deadline:
                p.append(f"a {self.type.value} jackpot needs a schedule with an end (end_at or a recurring window)")
        if self.drop_mode == DropMode.TIME_DROP and (self.schedule is None or not self.schedule.has_deadline):
            p.append("drop_mode time_drop needs a schedule with a deadline")
        return p

    def features(self) -> set[Feature]:
        """The prohibitable features this config uses."""
        f: set[Feature] = set()
        if self.player_segments:
            f.add(Feature.SEGMENT_TARGETING)
        if self.type == JackpotType.MYSTERY:
            f.add(Feature.MYSTERY)
        for lv in self.levels:
            if lv.hidden_increment.enabled:
                f.add(Feature.HIDDEN_INCREMENT)
            if lv.chain_reaction.enabled:
                f.add(Feature.CHAIN_REACTION)
            if lv.waterfall.enabled:
                f.add(Feature.WATERFALL)
            if lv.overflow.mode == OverflowMode.REVENUE:
                f.add(Feature.OVERFLOW_TO_REVENUE)
        return f

    def compliance_problems(self) -> list[str]:
        """Where this config violates its own compliance profile (and mode-dependent rules)."""
        cp = self.compliance_profile
        j = f"compliance profile {cp.jurisdiction_code}"
        p: list[str] = []
        mode = self.distribution_mode
        if mode not in cp.allowed_distribution_modes:
            allowed = ", ".join(str(int(m)) for m in sorted(cp.allowed_distribution_modes))
            p.append(f"{j} allows distribution modes {allowed}; config uses mode {int(mode)}")
        bad = sorted(b.value for b in self.accepted_bet_types - cp.allowed_bet_types)
        if bad:
            p.append(f"{j} does not allow {', '.join(bad)} bets")
        if not self.accepted_bet_types:
            p.append("a jackpot must accept at least one bet type")
        used_weights = {f for f, v in self.weight_factors.items() if v != 0}
        bad = sorted(f.value for f in used_weights - cp.allowed_weight_factors)
        if bad:
            p.append(f"{j} does not allow weight factors {', '.join(bad)}")
        if used_weights and mode == DistributionMode.PURE_RNG:
            p.append("weight factors have no effect in distribution mode 1 (pure RNG); remove them")
        for lv in self.levels:
            cr = lv.chain_reaction
            if not cr.enabled:
                continue
            if cr.distribution_mode not in cp.allowed_chain_modes:
                p.append(f"{j} does not allow {cr.distribution_mode.value} chain reaction (level '{lv.name}')")
            if int(mode) not in CHAIN_MODE_DISTRIBUTION[cr.distribution_mode]:
                p.append(
                    f"level '{lv.name}': {cr.distribution_mode.value} chain reaction needs distribution mode "
                    f"{'/'.join(str(m) for m in sorted(CHAIN_MODE_DISTRIBUTION[cr.distribution_mode]))}, "
                    f"config uses mode {int(mode)}"
                )
        if cp.allowed_currencies is not None:
            bad = sorted(set(self.currencies) - cp.allowed_currencies)
            if bad:
                p.append(f"{j} does not allow currencies {', '.join(bad)}")
        bad = sorted(f.value for f in self.features() & cp.prohibited_features)
        if bad:
            p.append(f"{j} prohibits {', '.join(bad)}")
        return p

    def level(self, level_id: UUID | str) -> Level:
        for lv in self.levels:
            if str(lv.level_id) == str(level_id):
                return lv
        raise KeyError(level_id)
