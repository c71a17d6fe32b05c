"""Compile a validated ``Jackpot`` into the small integer form the per-bet path uses.

Pydantic is for the edge; the hot path reads only slotted dataclasses of ints, tuples and
dicts built here once per config version. Every rate becomes an exact rational
(numerator, denominator) and every amount becomes micros, so ``contribution.py`` never touches
Decimal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from uuid import UUID

from .config import DistributionMode, DropMode, Jackpot, Level, LevelStatus, OverflowMode, SelectionMethod
from .money import exact_fraction, ratio, to_micros

__all__ = [
    "CompiledGame",
    "LevelLimits",
    "CompiledLevel",
    "CompiledJackpot",
    "SplitPlan",
    "compile_jackpot",
    "DEFAULT_CONTRIBUTION_BOUND",
]

DEFAULT_CONTRIBUTION_BOUND = Fraction(1, 10)
"""Without an explicit ``max_contribution``, a single contribution above 10% of a level's
win_max is implausible and rejected (regulatory item 1)."""


@dataclass(slots=True, frozen=True)
class CompiledGame:
    game_id: str
    gross_num: int  # contribution_rate x game coefficient, exact
    gross_den: int
    trigger_eligible: bool


@dataclass(slots=True, frozen=True)
class LevelLimits:
    """A level's money fields in one currency, in micros."""

    seed_from: int
    seed_to: int
    win_from: int
    win_to: int
    win_max: int
    min_bet: int
    max_bet: int
    max_contribution: int
    approaching_at: int  # PoolApproachingMax threshold (ceil of win_max x approaching_max_at)
    chain_prizes: tuple[int, ...]
    relax_at: tuple[int, int, int, int] = (0, 0, 0, 0)  # must-drop relaxation: 90/95/98/100% of win_max
    large_win: int = -1  # main prizes above this need approval; -1 = never
    pre_seed: int = 0  # operator money added to cycle 1 at activation (Level.pre_seed)


@dataclass(slots=True, frozen=True)
class CompiledLevel:
    index: int  # position in display order
    level_id: str
    name: str
    display_order: int
    split_weight: int  # integer weight, common denominator across the jackpot's levels
    hidden_num: int
    hidden_den: int
    integer_wins_only: bool
    overflow_mode: str
    redirect_to: tuple[int, ...]  # level indices, in order
    warn_from: tuple[int, int]
    warn_to: tuple[int, int]
    warn_range: tuple[str, str]  # configured range, for public events
    delay_from: int
    delay_to: int
    initial_status: str
    limits: dict[str, LevelLimits]
    min_players: int = 0
    min_spins: int = 0
    cooldown_ms: int = 0
    lock_on_win: bool = False
    auto_reset_seconds: int = 0
    waterfall: tuple[bool, int, str, str] = (False, 0, "full", "independent")  # enabled, delay ms, scope, winners
    chain_mode: str = ""  # "" = no chain reaction
    chain_segments: frozenset[str] = frozenset()


@dataclass(slots=True, frozen=True)
class SplitPlan:
    """Integer weights of the levels that receive contributions (DISABLED levels weigh 0)."""

    weights: tuple[int, ...]
    receiving: tuple[int, ...]  # indices with weight > 0


@dataclass(slots=True, frozen=True)
class CompiledJackpot:
    jackpot_id: str
    type: str
    games: dict[str, CompiledGame]
    brands: frozenset[str]
    currencies: tuple[str, ...]
    bet_types: frozenset[str]
    net_num: int  # 1 - house_cut, exact
    net_den: int
    levels: tuple[CompiledLevel, ...]
    level_index: dict[str, int]
    hit_history: int
    prohibited_actions: frozenset[str]
    fingerprint: str
    config: Jackpot = field(repr=False, compare=False)
    # triggers, eligibility, selection (see triggers.py, eligibility.py, selection.py)
    drop_mode: str = DropMode.RANGE.value
    mode: int = 1
    method: str = SelectionMethod.TRIGGER_PLAYER.value
    split: tuple[int, ...] = (1,)  # integer weights of the winners' shares
    active_window_ms: int = 60_000
    segments: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] = frozenset()
    require_kyc: bool = False
    excluded: frozenset[str] = frozenset()
    weight_factors: tuple[tuple[str, int, int], ...] = ()  # (factor, num, den), coefficient != 0
    custom_weights: tuple[tuple[str, int, int], ...] = ()
    star_boost: tuple[int, int] = (1, 1)
    off_peak_chance: tuple[int, int] = (1, 1)
    # network jackpots: bet currency -> (rate numerator, denominator) into the pool currency
    network_rates: dict[str, tuple[int, int]] = field(default_factory=dict)
    _plans: dict[tuple[bool, ...], SplitPlan | None] = field(default_factory=dict, repr=False, compare=False)

    def level(self, level_id: str) -> CompiledLevel:
        try:
            return self.levels[self.level_index[str(level_id)]]
        except KeyError:
            raise KeyError(f"jackpot {self.jackpot_id} has no level {level_id}") from None

    def split_plan(self, disabled: tuple[bool, ...]) -> SplitPlan | None:
        """Weights for the given DISABLED mask, cached; None when no level can receive."""
        plan = self._plans.get(disabled, False)
        if plan is False:
            weights = tuple(0 if off else lv.split_weight for lv, off in zip(self.levels, disabled))
            receiving = tuple(i for i, w in enumerate(weights) if w > 0)
            plan = SplitPlan(weights, receiving) if receiving else None
            self._plans[disabled] = plan
        return plan


def _limits(level: Level, currency: str, large_win: dict[str, int]) -> LevelLimits:
    a = level.amounts_for(currency)
    win_max = to_micros(a.win_max)
    bound = (
        to_micros(a.max_contribution)
        if a.max_contribution is not None
        else max(1, int(win_max * DEFAULT_CONTRIBUTION_BOUND))
    )
    appr = Fraction(win_max) * exact_fraction(level.approaching_max_at)
    approaching = -((-appr.numerator) // appr.denominator)
    prizes = a.chain_prize_amounts if a.chain_prize_amounts is not None else level.chain_reaction.prize_amounts
    relax = tuple(-((-win_max * n) // 100) for n in (90, 95, 98, 100))
    threshold = large_win.get(currency, large_win.get("", None))
    return LevelLimits(
        seed_from=to_micros(a.seed_from),
        seed_to=to_micros(a.seed_to),
        win_from=to_micros(a.win_from),
        win_to=to_micros(a.win_to),
        win_max=win_max,
        min_bet=to_micros(a.min_bet),
        max_bet=to_micros(a.max_bet),
        max_contribution=bound,
        approaching_at=approaching,
        chain_prizes=tuple(to_micros(x) for x in prizes) if level.chain_reaction.enabled else (),
        relax_at=relax,  # type: ignore[arg-type]
        large_win=-1 if threshold is None else threshold,
        pre_seed=to_micros(level.pre_seed if a.pre_seed is None else a.pre_seed),
    )


def _split_weights(levels: list[Level]) -> list[int]:
    fr = [exact_fraction(lv.contribution_split) for lv in levels]
    den = 1
    for f in fr:
        den = den * f.denominator // _gcd(den, f.denominator)
    return [f.numerator * (den // f.denominator) for f in fr]


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _default_redirect(i: int, n: int) -> tuple[int, ...]:
    return tuple(range(i + 1, n)) + tuple(range(i - 1, -1, -1))


def _canon(obj):
    """A JSON-ready copy with sets sorted, so the fingerprint is stable across processes
    (set iteration order depends on the per-process string hash seed)."""
    if isinstance(obj, dict):
        return {str(_canon(k)): _canon(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canon(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((_canon(v) for v in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (Decimal, UUID)):
        return str(obj)
    if isinstance(obj, (datetime, time)):
        return obj.isoformat()
    return obj


def compile_jackpot(jackpot: Jackpot) -> CompiledJackpot:
    """Turn a validated config into its integer form. Call once per config version."""
    levels = sorted(jackpot.levels, key=lambda lv: lv.display_order)
    weights = _split_weights(levels)
    index = {str(lv.level_id): i for i, lv in enumerate(levels)}
    rate = exact_fraction(jackpot.contribution_rate)
    games = {}
    for g in jackpot.games:
        f = rate * exact_fraction(g.coefficient)
        games[g.game_id] = CompiledGame(g.game_id, f.numerator, f.denominator, g.trigger_eligible)
    net = 1 - exact_fraction(jackpot.house_cut)
    net_num, net_den = net.numerator, net.denominator
    pc = jackpot.payout
    large_win = {c: to_micros(v) for c, v in pc.large_win_thresholds.items()}
    if pc.large_win_threshold is not None:
        large_win[""] = to_micros(pc.large_win_threshold)
    clevels = []
    for i, lv in enumerate(levels):
        hidden = lv.hidden_increment.coefficient if lv.hidden_increment.enabled else 0
        hn, hd = ratio(hidden)
        if lv.overflow.mode == OverflowMode.REDIRECT:
            redirect = (
                tuple(index[str(t)] for t in lv.overflow.redirect_to)
                if lv.overflow.redirect_to
                else _default_redirect(i, len(levels))
            )
        else:
            redirect = ()
        clevels.append(
            CompiledLevel(
                index=i,
                level_id=str(lv.level_id),
                name=lv.name,
                display_order=lv.display_order,
                split_weight=weights[i],
                hidden_num=hn,
                hidden_den=hd,
                integer_wins_only=lv.integer_wins_only,
                overflow_mode=lv.overflow.mode.value,
                redirect_to=redirect,
                warn_from=ratio(lv.warn_from),
                warn_to=ratio(lv.warn_to),
                warn_range=(str(lv.warn_from), str(lv.warn_to)),
                delay_from=lv.evaluation_delay_from,
                delay_to=lv.evaluation_delay_to,
                initial_status=LevelStatus(lv.status).value,
                limits={c: _limits(lv, c, large_win) for c in jackpot.currencies},
                min_players=lv.min_players,
                min_spins=lv.min_spins,
                cooldown_ms=lv.drop_cooldown_minutes * 60_000,
                lock_on_win=lv.lock_on_win,
                auto_reset_seconds=lv.auto_reset_seconds,
                waterfall=(
                    lv.waterfall.enabled,
                    lv.waterfall.cascade_delay_seconds * 1000,
                    lv.waterfall.cascade_scope,
                    lv.waterfall.winner_mode,
                ),
                chain_mode=lv.chain_reaction.distribution_mode.value if lv.chain_reaction.enabled else "",
                chain_segments=frozenset(lv.chain_reaction.target_segments or jackpot.player_segments),
            )
        )
    canonical = json.dumps(_canon(jackpot.model_dump(mode="python")), sort_keys=True, separators=(",", ":"))
    return CompiledJackpot(
        jackpot_id=str(jackpot.jackpot_id),
        type=jackpot.type.value,
        games=games,
        brands=frozenset(jackpot.brands),
        currencies=tuple(jackpot.currencies),
        bet_types=frozenset(b.value for b in jackpot.accepted_bet_types),
        net_num=net_num,
        net_den=net_den,
        levels=tuple(clevels),
        level_index=index,
        hit_history=jackpot.compliance_profile.hit_history_size,
        prohibited_actions=frozenset(a.value for a in jackpot.compliance_profile.prohibited_actions),
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        config=jackpot,
        drop_mode=jackpot.drop_mode.value,
        mode=int(jackpot.distribution_mode),
        method=_method(jackpot).value,
        split=_split(jackpot),
        active_window_ms=jackpot.active_window_seconds * 1000,
        segments=frozenset(jackpot.player_segments),
        network_rates={c: ratio(r) for c, r in (jackpot.network.rates.items() if jackpot.network else ())},
        jurisdictions=frozenset(jackpot.eligibility.allowed_jurisdictions),
        require_kyc=jackpot.eligibility.require_kyc,
        excluded=frozenset(jackpot.eligibility.excluded_players),
        weight_factors=tuple(
            (f.value, *ratio(v)) for f, v in sorted(jackpot.weight_factors.items(), key=lambda kv: kv[0].value) if v != 0
        ),
        custom_weights=tuple(
            (k, *ratio(v)) for k, v in sorted(jackpot.operator_rules.custom_weights.items()) if v != 0
        ),
        star_boost=ratio(jackpot.operator_rules.star_boost),
        off_peak_chance=ratio(jackpot.operator_rules.off_peak_drop_chance),
    )


def _method(jackpot: Jackpot) -> SelectionMethod:
    if jackpot.selection.method is not None:
        return jackpot.selection.method
    if jackpot.distribution_mode == DistributionMode.PURE_RNG:
        return SelectionMethod.TRIGGER_PLAYER
    return SelectionMethod.WEIGHTED_RANDOM


def _split(jackpot: Jackpot) -> tuple[int, ...]:
    sel = jackpot.selection
    if sel.split == "equal":
        return (1,) * sel.winners
    fr = [exact_fraction(x) for x in sel.split]
    den = 1
    for f in fr:
        den = den * f.denominator // _gcd(den, f.denominator)
    return tuple(f.numerator * (den // f.denominator) for f in fr)
