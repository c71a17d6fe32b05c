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
    "SelectionMethod",
    "TimeWindow",
    "DropWindows",
    "SelectionConfig",
    "GuaranteedWinner",
    "WinCap",
    "OperatorRules",
    "PayoutConfig",
    "EligibilityConfig",
    "TickerConfig",
    "TaxBracket",
    "Withholding",
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


class SelectionMethod(StrEnum):
    """How the winner of a drop is chosen (spec: Selection Methods)."""

    TRIGGER_PLAYER = "trigger_player"  # the bet that triggered the drop wins (default, Mode 1)
    RANDOM_ELIGIBLE = "random_eligible"  # uniform over the eligible-player snapshot
    WEIGHTED_RANDOM = "weighted_random"  # weighted by the mode's weights (default, Modes 2-4)


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


MAX_INTEGER_DIGITS = 14  # the wire's decimal(20,6) and the ledger's numeric(20,6)
MAX_SIGNIFICANT_DIGITS = 40  # exact, and cheap to turn into a Fraction


def zone_known(name: str) -> bool:
    """An IANA time zone name this machine knows.  ZoneInfo reads files: a folder ("America"),
    a name too long for the file system or nested past recursion must read as unknown, not raise."""
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, RecursionError):
        return False
    return True


def _finite(v: Decimal) -> Decimal:
    """A finite number of bounded size: an exponent of a million costs minutes and megabytes in
    every later format, Fraction or quantize, so it is refused here, in its short form."""
    if not v.is_finite():
        raise ValueError(f"{v} is not a finite number")
    if v and (v.adjusted() >= MAX_INTEGER_DIGITS or v.adjusted() < -18
              or len(v.as_tuple().digits) > MAX_SIGNIFICANT_DIGITS):
        raise ValueError(f"{v:.6e} is out of range: at most {MAX_INTEGER_DIGITS} integer digits, "
                         f"18 decimal places and {MAX_SIGNIFICANT_DIGITS} significant digits")
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
    """``target_segments`` (engine addition) are the segments a *targeted* chain reaction pays;
    empty means the jackpot's ``player_segments``."""

    enabled: bool = False
    prize_count: int = 1
    prize_amounts: list[Money] = Field(default_factory=list)
    distribution_mode: ChainMode = ChainMode.RANDOM
    target_segments: list[str] = Field(default_factory=list)


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
    pre_seed: Money | None = None  # None: the level's


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
    threshold as a fraction of win_max, default 0.90), ``overflow`` (what happens at win_max),
    ``pre_seed`` (spec: Pre-Seeding: operator money added to cycle 1 when the jackpot is
    activated, before any contribution; metered apart) and ``currency_amounts``.
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
    pre_seed: Money = Decimal(0)
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
        if self.seed_to + self.pre_seed > self.win_from:
            p.append(f"{w}: pre_seed {_fmt(self.pre_seed)} on a seed of up to {_fmt(self.seed_to)} would start "
                     f"above win_from {_fmt(self.win_from)}")
        for cur, a in self.currency_amounts.items():
            p.extend(_amount_problems(f"{w} ({cur})", a, self.integer_wins_only))
            pre = self.pre_seed if a.pre_seed is None else a.pre_seed
            if a.seed_to + pre > a.win_from:
                p.append(f"{w} ({cur}): pre_seed {_fmt(pre)} on a seed of up to {_fmt(a.seed_to)} would start "
                         f"above win_from {_fmt(a.win_from)}")
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
            pre_seed=self.pre_seed,
        )


# --------------------------------------------------------------------------- compliance


class TaxBracket(_Model):
    """Marginal withholding: ``rate`` applies to the part of a prize above ``above``."""

    above: Money = Decimal(0)
    rate: Rate


class Withholding(_Model):
    """A jurisdiction's withholding on prizes in one currency (spec payout step 4).

    ``jurisdiction`` is the winner's jurisdiction code; ``None`` applies to every winner the more
    specific schedules do not cover. Brackets are marginal and sorted by ``above``.
    """

    jurisdiction: str | None = None
    currency: str
    brackets: list[TaxBracket] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "Withholding":
        p = []
        lows = [b.above for b in self.brackets]
        if lows != sorted(lows) or len(set(lows)) != len(lows):
            p.append(f"withholding {self.jurisdiction or '*'}/{self.currency}: brackets must have increasing 'above' amounts")
        for b in self.brackets:
            if not (0 <= b.rate <= 1):
                p.append(f"withholding {self.jurisdiction or '*'}/{self.currency}: rate {pct(b.rate)} must be within 0-100%")
        if p:
            raise ValueError("; ".join(p))
        return self


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
    # engine additions
    max_weight_coefficient: Rate | None = None  # "conservative" Mode 2: every coefficient <= this
    max_odds: int | None = Field(default=None, ge=1)  # regulatory item 17: odds cap, "1 in max_odds"
    withholding: list[Withholding] = Field(default_factory=list)


# --------------------------------------------------------------------------- schedule


class ScheduleConfig(_Model):
    """Activation window of timed and promotional jackpots.

    ``start_at``/``end_at`` bound the campaign; ``recurrence`` adds a repeating window in
    ``timezone``: daily (``open_time``-``close_time``, e.g. a must-drop-by-midnight) or weekly
    (``open_weekday`` ``open_time`` to ``close_weekday`` ``close_time``; 0 = Monday).
    ``end_action`` says what happens to remaining funds when the campaign ends: a final forced
    drop of every level, or ``carry_over`` to the jackpot ``carry_over_to`` (its next campaign).
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
    # carry_over: the jackpot that receives the remaining funds (engine/balances.py); none: they
    # stay on the expired jackpot until it is decommissioned
    carry_over_to: UUID | None = None

    @model_validator(mode="after")
    def _check(self) -> "ScheduleConfig":
        p: list[str] = []
        if self.carry_over_to is not None and self.end_action != "carry_over":
            p.append("schedule: carry_over_to is for end_action carry_over")
        if not zone_known(self.timezone):
            p.append(f"schedule: unknown timezone {self.timezone[:64]!r}")
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


# --------------------------------------------------------------------------- triggers, selection, payout


class TimeWindow(_Model):
    """A daily window ``[start, end)`` on the listed weekdays (0 = Monday) in the drop timezone.

    ``end <= start`` runs past midnight (the weekday is the day the window opens);
    ``start == end`` is the whole day.
    """

    weekdays: set[int] = Field(default_factory=lambda: set(range(7)))
    start: time = time(0)
    end: time = time(0)

    @model_validator(mode="after")
    def _check(self) -> "TimeWindow":
        if not self.weekdays or any(not (0 <= d <= 6) for d in self.weekdays):
            raise ValueError("time window weekdays must be a non-empty set of 0 (Monday) .. 6 (Sunday)")
        return self


class DropWindows(_Model):
    """Time-of-day and day-of-week restrictions on drops (trigger check 6); empty = 24/7."""

    timezone: str = "UTC"
    windows: list[TimeWindow] = Field(default_factory=list)
    must_drop_warn_minutes: int = Field(default=60, ge=0)  # "Must Drop" warn state before a deadline

    @model_validator(mode="after")
    def _check(self) -> "DropWindows":
        if not zone_known(self.timezone):
            raise ValueError(f"drop windows: unknown timezone {self.timezone[:64]!r}")
        return self


class SelectionConfig(_Model):
    """Winner selection method and multi-winner split.

    ``method`` None means the mode's default: trigger player in Mode 1, weighted random otherwise.
    ``split`` is ``"equal"`` or one share per winner (e.g. 0.5/0.3/0.2) summing to 100%.
    """

    method: SelectionMethod | None = None
    winners: int = Field(default=1, ge=1, le=10)
    split: Literal["equal"] | list[Rate] = "equal"


class GuaranteedWinner(_Model):
    """Mode 3: "a VIP must win Grand at least once per week". Once ``period_hours`` have passed
    without a winner from ``segment`` on the level (every level when ``level_id`` is None), the
    next drop is restricted to that segment's eligible players when any is present."""

    segment: str = Field(min_length=1)
    level_id: UUID | None = None
    period_hours: int = Field(default=168, ge=1)


class WinCap(_Model):
    """Mode 3: no player wins more than ``max_wins`` main prizes per ``period_hours``
    (on one level, or on the whole jackpot when ``level_id`` is None)."""

    max_wins: int = Field(ge=1)
    period_hours: int = Field(ge=1)
    level_id: UUID | None = None


class OperatorRules(_Model):
    """Mode 3 (operator-directed) tools; Mode 4 combines them with the Mode 2 behaviour weights.

    - ``custom_weights``: attribute -> coefficient; weight = 1 + sum(coef x value / average) over
      per-player attributes the caller supplies (deposits, lifetime value, days since last win).
    - ``star_boost``: weight multiplier for CRM-flagged star players.
    - ``guaranteed_winners``, ``win_caps``: see their models.
    - ``peak_windows`` + ``off_peak_drop_chance``: time-of-day targeting; outside the peak windows
      a due trigger fires only with this chance (drawn from the cycle RNG), else the pool keeps
      growing toward peak hours.
    Segment targeting is the jackpot's ``player_segments``.
    """

    custom_weights: dict[str, Rate] = Field(default_factory=dict)
    star_boost: Rate = Decimal(1)
    guaranteed_winners: list[GuaranteedWinner] = Field(default_factory=list)
    win_caps: list[WinCap] = Field(default_factory=list)
    peak_windows: list[TimeWindow] = Field(default_factory=list)
    off_peak_drop_chance: Rate = Decimal(1)

    def in_use(self) -> bool:
        return bool(
            self.custom_weights
            or self.star_boost != 1
            or self.guaranteed_winners
            or self.win_caps
            or self.peak_windows
            or self.off_peak_drop_chance != 1
        )


class PayoutConfig(_Model):
    """Payout flow settings (spec: Payout Flow, Winner Approval Queue, Failed Win Handling).

    ``large_win_threshold`` (None = never) flags a main prize above it for manual approval;
    ``large_win_thresholds`` gives a currency its own threshold. Approval expires after
    ``approval_expiry_hours`` with alerts at ``approval_alert_hours``; a decline or expiry selects
    a fallback winner or returns the prize to the pool (``on_decline``). Wallet credits retry with
    exponential backoff: attempt n+1 waits ``min(retry_base_ms x 2^(n-1), retry_max_ms)``; after
    ``wallet_max_attempts`` the prize goes to PENDING_MANUAL_RESOLUTION.
    """

    large_win_threshold: Money | None = None
    large_win_thresholds: dict[str, Money] = Field(default_factory=dict)
    approval_expiry_hours: int = Field(default=72, ge=1)
    approval_alert_hours: list[int] = Field(default_factory=lambda: [24, 48, 72])
    on_decline: Literal["fallback_winner", "return_to_pool"] = "fallback_winner"
    wagering_requirement: int = Field(default=0, ge=0, le=1000)
    wallet_max_attempts: int = Field(default=6, ge=1, le=50)
    wallet_retry_base_ms: int = Field(default=1_000, ge=1)
    wallet_retry_max_ms: int = Field(default=300_000, ge=1)


class EligibilityConfig(_Model):
    """Win-eligibility settings of the wizard's step 4 beyond the level fields: allowed player
    jurisdictions (empty = all), KYC requirement and an exclusion list."""

    allowed_jurisdictions: list[str] = Field(default_factory=list)
    require_kyc: bool = False
    excluded_players: list[str] = Field(default_factory=list)


class TickerConfig(_Model):
    """Visible-ticker smoothing the gateway applies (anti-prediction): a variable display lag
    drawn per update in [lag_min_ms, lag_max_ms] and increments rounded to ``round_to``."""

    lag_min_ms: int = Field(default=200, ge=0)
    lag_max_ms: int = Field(default=800, ge=0)
    round_to: Money = Decimal("0.01")


# --------------------------------------------------------------------------- jackpot


class NetworkConfig(_Model):
    """Cross-currency pooling of a network jackpot (spec: "No cross-currency pooling unless
    explicitly configured for network jackpots"). Bets in a currency of ``rates`` feed the pools
    of the jackpot's currency at the explicit rate (units of the pool currency per unit of the bet
    currency): the bet amount is converted exactly, rounded down to the micro, and the rate is
    recorded with the contribution in the ledger. Wins are paid in the pool currency."""

    rates: dict[str, Decimal] = Field(default_factory=dict)


class Jackpot(_Model):
    """A named container of levels with shared games, brands, currencies (spec: Jackpot Entity).

    Engine additions: ``accepted_bet_types`` (pipeline step 2, default real money only),
    ``distribution_mode`` and ``weight_factors`` (checked against the compliance profile),
    ``drop_mode``, ``player_segments`` (empty = everyone) and ``active_window_seconds``;
    ``drop_windows``, ``selection``, ``operator_rules`` (Modes 3/4), ``payout``, ``eligibility``
    and ``ticker`` (see their models).
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
    drop_windows: DropWindows = DropWindows()
    selection: SelectionConfig = SelectionConfig()
    operator_rules: OperatorRules = OperatorRules()
    payout: PayoutConfig = PayoutConfig()
    eligibility: EligibilityConfig = EligibilityConfig()
    ticker: TickerConfig = TickerConfig()
    network: NetworkConfig | None = None

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
        p.extend(self._selection_problems())
        p.extend(self._payout_problems())
        p.extend(self._network_problems())
        p.extend(self.compliance_problems())
        return p

    def _network_problems(self) -> list[str]:
        if self.network is None:
            return []
        p: list[str] = []
        if len(self.currencies) != 1:
            p.append(f"network: cross-currency pooling feeds one pool currency; the jackpot has {len(self.currencies)}")
        if not self.network.rates:
            p.append("network: rates is empty (no currency to pool)")
        for cur, rate in self.network.rates.items():
            if not (len(cur) == 3 and cur.isascii() and cur.isalpha() and cur.isupper()):
                p.append(f"network: {cur!r} is not a currency code")
            if cur in self.currencies:
                p.append(f"network: {cur} is the pool currency; it needs no rate")
            if not rate.is_finite() or rate <= 0:
                p.append(f"network: the {cur} rate must be positive, got {rate}")
            elif -rate.as_tuple().exponent > 12:
                p.append(f"network: the {cur} rate {rate} has more than 12 decimal places")
        return p

    def _selection_problems(self) -> list[str]:
        p: list[str] = []
        sel = self.selection
        if isinstance(sel.split, list):
            if len(sel.split) != sel.winners:
                p.append(f"selection: {sel.winners} winners need {sel.winners} split shares, got {len(sel.split)}")
            if any(s <= 0 for s in sel.split):
                p.append("selection: split shares must be positive")
            total = sum((Fraction(s) for s in sel.split), Fraction(0))
            if total != 1:
                p.append(f"selection: split shares must sum to exactly 100%, got {pct(total)}")
        mode = self.distribution_mode
        if sel.method == SelectionMethod.WEIGHTED_RANDOM and mode == DistributionMode.PURE_RNG:
            p.append("selection: weighted_random needs distribution mode 2, 3 or 4; mode 1 is uniform")
        rules = self.operator_rules
        for name, v in rules.custom_weights.items():
            if not name:
                p.append("operator rules: custom weight names must not be empty")
            if v < 0:
                p.append(f"operator rules: custom weight {name} coefficient {v} must not be negative")
        if rules.star_boost <= 0:
            p.append(f"operator rules: star_boost {rules.star_boost} must be positive")
        if not (0 <= rules.off_peak_drop_chance <= 1):
            p.append(f"operator rules: off_peak_drop_chance {pct(rules.off_peak_drop_chance)} must be within 0-100%")
        ids = {lv.level_id for lv in self.levels}
        for r in [*rules.guaranteed_winners, *rules.win_caps]:
            if r.level_id is not None and r.level_id not in ids:
                p.append(f"operator rules: level {r.level_id} is not a level of this jackpot")
        if self.drop_windows.windows and self.drop_mode == DropMode.MANUAL:
            p.append("drop windows have no effect in manual-only drop mode; remove them")
        for lv in self.levels:
            cr = lv.chain_reaction
            if cr.enabled and cr.distribution_mode == ChainMode.TARGETED and not (cr.target_segments or self.player_segments):
                p.append(f"level '{lv.name}': a targeted chain reaction needs target_segments")
        return p

    def _payout_problems(self) -> list[str]:
        p: list[str] = []
        pc = self.payout
        extra = sorted(set(pc.large_win_thresholds) - set(self.currencies))
        if extra:
            p.append(f"payout: large_win_thresholds for {', '.join(extra)} which the jackpot does not support")
        if any(h <= 0 for h in pc.approval_alert_hours) or pc.approval_alert_hours != sorted(pc.approval_alert_hours):
            p.append("payout: approval_alert_hours must be positive and increasing")
        if pc.wallet_retry_max_ms < pc.wallet_retry_base_ms:
            p.append("payout: wallet_retry_max_ms must be >= wallet_retry_base_ms")
        if self.ticker.lag_max_ms < self.ticker.lag_min_ms:
            p.append("ticker: lag_max_ms must be >= lag_min_ms")
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
        if self.schedule is not None and self.schedule.carry_over_to == self.jackpot_id:
            p.append("schedule: carry_over_to must be another jackpot (the next campaign), not this one")
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
        if cp.max_weight_coefficient is not None:
            big = sorted(f"{f.value} {v}" for f, v in self.weight_factors.items() if v > cp.max_weight_coefficient)
            big += sorted(f"{k} {v}" for k, v in self.operator_rules.custom_weights.items() if v > cp.max_weight_coefficient)
            if big:
                p.append(f"{j} allows weight coefficients up to {cp.max_weight_coefficient}; config uses {', '.join(big)}")
        if used_weights and mode == DistributionMode.OPERATOR_DIRECTED:
            p.append("behaviour weight factors are Mode 2/4; in mode 3 use operator_rules.custom_weights (or mode 4)")
        if self.operator_rules.in_use() and mode not in (DistributionMode.OPERATOR_DIRECTED, DistributionMode.HYBRID):
            p.append(f"operator-directed rules need distribution mode 3 or 4; config uses mode {int(mode)}")
        if cp.max_odds is not None:
            p.extend(self.odds_problems())
        if cp.allowed_currencies is not None:
            bad = sorted(set(self.currencies) - cp.allowed_currencies)
            if bad:
                p.append(f"{j} does not allow currencies {', '.join(bad)}")
        bad = sorted(f.value for f in self.features() & cp.prohibited_features)
        if bad:
            p.append(f"{j} prohibits {', '.join(bad)}")
        return p

    def worst_odds(self, level: Level, currency: str) -> int | None:
        """Worst-case odds, "1 in N", that one minimum qualifying bet takes ``level`` (item 17).

        A cycle runs from at least ``seed_from`` to at most ``win_to``; every qualifying bet adds
        at least ``c`` (the level's share of a minimum bet on the least-contributing trigger-eligible
        game; must-drop mode halves the minimum bet near Win Max), and the evaluation delay adds up
        to ``evaluation_delay_to`` bets, so a cycle has at most
        ``N = ceil((win_to - seed_from) / c) + evaluation_delay_to`` qualifying bets and one hit.
        None when unbounded (no minimum bet, or a trigger-eligible game that adds nothing).
        """
        a = level.amounts_for(currency)
        min_bet = Fraction(a.min_bet)
        if self.drop_mode == DropMode.MUST_DROP:
            min_bet /= 2
        coefs = [Fraction(g.coefficient) for g in self.games if g.trigger_eligible]
        if min_bet <= 0 or not coefs or min(coefs) <= 0:
            return None
        c = min_bet * Fraction(self.contribution_rate) * min(coefs) * (1 - Fraction(self.house_cut))
        c *= Fraction(level.contribution_split)
        if c <= 0:
            return None
        growth = Fraction(a.win_to) - Fraction(a.seed_from)
        q = growth / c
        return -((-q.numerator) // q.denominator) + level.evaluation_delay_to

    def odds_problems(self) -> list[str]:
        cap = self.compliance_profile.max_odds
        p: list[str] = []
        if cap is None:
            return p
        for lv in self.levels:
            for cur in self.currencies:
                n = self.worst_odds(lv, cur)
                if n is None:
                    p.append(
                        f"level '{lv.name}' ({cur}): {self.compliance_profile.jurisdiction_code} caps the odds at 1 in "
                        f"{cap}; the odds are unbounded (set a min_bet and make every trigger-eligible game contribute)"
                    )
                elif n > cap:
                    p.append(
                        f"level '{lv.name}' ({cur}): worst-case odds 1 in {n} exceed the "
                        f"{self.compliance_profile.jurisdiction_code} cap of 1 in {cap}"
                    )
        return p

    def level(self, level_id: UUID | str) -> Level:
        for lv in self.levels:
            if str(lv.level_id) == str(level_id):
                return lv
        raise KeyError(level_id)
