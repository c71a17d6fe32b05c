"""Winner selection: the four distribution modes and the multi-winner split.

Layers (spec Mode 1): the cycle's secret target decides *when*; at the drop the engine takes the
eligible-player snapshot (``eligibility.snapshot``, sorted by player id); the winner is drawn from
it with the cycle's HMAC-derived randomness (``rng.draw_weighted``), so the revealed seed and the
logged snapshot (``WinnerSelected``: candidates, integer weights, labels, drawn numbers) let an
auditor recompute the winner.

Weights (integers: the exact rational weight floored to ``1/WEIGHT_SCALE``, at least 1, then
divided by their common divisor, so equal weights are all 1):

- Mode 1  pure RNG: every candidate weighs the same (1).
- Mode 2  behaviour-weighted: ``1 + sum(coef_f x value_f / average_f)`` over the factors
          bet_size (last qualifying bet), contribution_volume (this level, this cycle),
          session_presence (session duration), bet_count (qualifying bets on this level this
          cycle), loyalty_tier, recency (window minus time since the last qualifying bet). A
          factor whose values are all 0 contributes nothing; all coefficients 0 is Mode 1.
- Mode 3  operator-directed: ``(1 + sum(coef_k x attribute_k / average_k)) x star_boost`` over
          the configured custom attributes; plus the filters: segment targeting
          (``player_segments``), win-frequency caps (ineligible), guaranteed-winner rules (the
          snapshot is restricted to the segment when its rule is due and a member is present).
- Mode 4  hybrid, the production standard: the Mode 2 weight times the Mode 3 multiplier, with
          the Mode 3 filters. (The spec leaves Mode 4 undefined; this is the documented choice.)

Methods: ``trigger_player`` (the triggering player wins; drops without a triggering bet - force,
deadline, cascade - fall back to a draw), ``random_eligible`` (uniform in every mode) and
``weighted_random`` (the mode's weights). A split draws the further winners without replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .activity import AMOUNT, ATTRS, BRAND, FLAGS, F_STAR, GAME, JURISDICTION, LAST, SEGMENTS, SESSION, TIER, level_stats
from .compiled import CompiledJackpot, CompiledLevel
from .config import SelectionMethod
from .money import MICROS_PER_UNIT, allocate
from .pool import JackpotState, PoolState
from .rng import CycleContext, draw_weighted

__all__ = [
    "WEIGHT_SCALE",
    "FACTORS",
    "Candidate",
    "Draw",
    "candidate",
    "mode_weights",
    "behaviour_weights",
    "operator_multipliers",
    "guaranteed_restriction",
    "draw_winners",
    "record_award",
    "shares",
]

WEIGHT_SCALE = 10**9
FACTORS = ("bet_size", "contribution_volume", "session_presence", "bet_count", "loyalty_tier", "recency")
TRIGGER = SelectionMethod.TRIGGER_PLAYER.value
RANDOM = SelectionMethod.RANDOM_ELIGIBLE.value
WEIGHTED = SelectionMethod.WEIGHTED_RANDOM.value


@dataclass(slots=True, frozen=True)
class Candidate:
    player_id: str
    brand_id: str
    game_id: str
    jurisdiction: str
    segments: tuple[str, ...]
    star: bool
    values: tuple[int, ...]  # raw behaviour values, in FACTORS order
    attrs: tuple[int, ...]  # Mode 3 attribute values, in the config's custom_weights order
    contributed: int  # to this level this cycle

    def ident(self) -> list:
        return [self.player_id, self.brand_id, self.game_id, self.jurisdiction]


@dataclass(slots=True, frozen=True)
class Draw:
    label: str
    r: int
    total: int
    player_id: str

    def to_list(self) -> list:
        return [self.label, str(self.r), str(self.total), self.player_id]


def candidate(cj: CompiledJackpot, cl: CompiledLevel, pool: PoolState, player_id: str, rec: list, now: int) -> Candidate:
    contributed, bets, last_qual = level_stats(rec, cl.index, pool.cycle)
    session = now - rec[SESSION] if rec[SESSION] and rec[SESSION] <= now else 0
    last = last_qual if last_qual else rec[LAST]
    recency = max(0, cj.active_window_ms - (now - last))
    values = (rec[AMOUNT], contributed, session, bets, max(0, rec[TIER]), recency)
    attrs = tuple(max(0, int(rec[ATTRS].get(k, 0))) for k, _, _ in cj.custom_weights)
    return Candidate(
        player_id, rec[BRAND], rec[GAME], rec[JURISDICTION], tuple(rec[SEGMENTS]), bool(rec[FLAGS] & F_STAR),
        values, attrs, contributed,
    )


def _relative(coefs: tuple[tuple[int, int], ...], columns: list[list[int]], n: int) -> list[Fraction]:
    """1 + sum(coef x value / average) per row; a column that sums to 0 adds nothing."""
    out = [Fraction(1)] * n
    for (num, den), col in zip(coefs, columns):
        s = sum(col)
        if not s or not num:
            continue
        k = Fraction(num * n, den * s)
        out = [w + k * v for w, v in zip(out, col)]
    return out


def behaviour_weights(cj: CompiledJackpot, cands: list[Candidate]) -> list[Fraction]:
    """Mode 2: ``1 + sum(coef_f x value_f / average_f)`` (exact)."""
    n = len(cands)
    pos = {f: i for i, f in enumerate(FACTORS)}
    coefs = tuple((num, den) for _, num, den in cj.weight_factors)
    cols = [[c.values[pos[f]] for c in cands] for f, _, _ in cj.weight_factors]
    return _relative(coefs, cols, n)


def operator_multipliers(cj: CompiledJackpot, cands: list[Candidate]) -> list[Fraction]:
    """Mode 3: custom attribute weights times the star-player boost (exact)."""
    n = len(cands)
    coefs = tuple((num, den) for _, num, den in cj.custom_weights)
    cols = [[c.attrs[i] for c in cands] for i in range(len(cj.custom_weights))]
    out = _relative(coefs, cols, n)
    boost = Fraction(*cj.star_boost)
    return [w * boost if c.star else w for w, c in zip(out, cands)]


def mode_weights(cj: CompiledJackpot, cands: list[Candidate], method: str) -> list[int]:
    """Integer weights of the candidates for a draw with ``method`` in the jackpot's mode."""
    if method == RANDOM or cj.mode == 1:
        return [1] * len(cands)
    if cj.mode == 2:
        ws = behaviour_weights(cj, cands)
    elif cj.mode == 3:
        ws = operator_multipliers(cj, cands)
    else:
        ws = [a * b for a, b in zip(behaviour_weights(cj, cands), operator_multipliers(cj, cands))]
    return _reduced([max(1, w.numerator * WEIGHT_SCALE // w.denominator) for w in ws])


def _reduced(weights: list[int]) -> list[int]:
    """Divide by the common divisor: equal weights become all 1, so Mode 2 with every coefficient
    0 draws exactly like Mode 1 (same numbers, same winners)."""
    g = 0
    for w in weights:
        a, b = g, w
        while b:
            a, b = b, a % b
        g = a
        if g == 1:
            return weights
    return [w // g for w in weights] if g > 1 else weights


def _rule_keys(cl: CompiledLevel, rule) -> str:
    return f"{cl.level_id if rule.level_id is not None else '*'}|{rule.segment}"


def guaranteed_restriction(
    cj: CompiledJackpot, state: JackpotState, cl: CompiledLevel, cands: list[Candidate], now: int
) -> tuple[list[Candidate], str]:
    """Mode 3/4 guaranteed winners: when a rule's period has passed without a winner from its
    segment, restrict the snapshot to that segment (if any member is eligible). The first period
    starts at the jackpot's first drop."""
    for rule in cj.config.operator_rules.guaranteed_winners:
        if rule.level_id is not None and str(rule.level_id) != cl.level_id:
            continue
        last = state.segment_wins.get(_rule_keys(cl, rule))
        if last is None or now - last < rule.period_hours * 3_600_000:
            continue
        members = [c for c in cands if rule.segment in c.segments]
        if members:
            return members, f"guaranteed_winner:{rule.segment}"
    return cands, ""


def draw_winners(
    seed: bytes,
    ctx: CycleContext,
    seq: int,
    k0: int,
    cands: list[Candidate],
    weights: list[int],
    n: int,
    first: int | None = None,
) -> tuple[list[int], list[Draw]]:
    """Up to ``n`` distinct winners: ``first`` (the trigger player's index) when given, then
    draws ``winner/{seq}/{k}`` for k = k0, k0+1, ... over the remaining candidates in order."""
    remaining = list(range(len(cands)))
    chosen: list[int] = []
    draws: list[Draw] = []
    if first is not None:
        remaining.remove(first)
        chosen.append(first)
    k = k0
    while len(chosen) < n and remaining:
        label = ctx.label(f"winner/{seq}/{k}")
        i, r, total = draw_weighted(seed, label, [weights[j] for j in remaining])
        pick = remaining.pop(i)
        chosen.append(pick)
        draws.append(Draw(label, r, total, cands[pick].player_id))
        k += 1
    return chosen, draws


def record_award(
    cj: CompiledJackpot, state: JackpotState, cl: CompiledLevel, winners: list[Candidate], now: int
) -> None:
    """Remember main winners for the win caps and guaranteed-winner rules (Modes 3/4)."""
    rules = cj.config.operator_rules
    if rules.win_caps:
        longest = max(c.period_hours for c in rules.win_caps) * 3_600_000
        for w in winners:
            state.player_wins.setdefault(w.player_id, []).append([now, cl.index])
        for pid in list(state.player_wins):
            kept = [x for x in state.player_wins[pid] if x[0] > now - longest]
            if kept:
                state.player_wins[pid] = kept
            else:
                del state.player_wins[pid]
    for rule in rules.guaranteed_winners:
        if rule.level_id is not None and str(rule.level_id) != cl.level_id:
            continue
        key = _rule_keys(cl, rule)
        if key not in state.segment_wins or any(rule.segment in w.segments for w in winners):
            state.segment_wins[key] = now


def shares(cj: CompiledJackpot, cl: CompiledLevel, amount: int, n: int) -> list[int]:
    """The winners' parts of a prize by the configured split (re-normalised over the first ``n``
    shares when fewer winners were found); whole units for integer-only levels. Parts sum to
    the amount."""
    w = list(cj.split[:n]) or [1]
    if cl.integer_wins_only and amount % MICROS_PER_UNIT == 0:
        return [p * MICROS_PER_UNIT for p in allocate(amount // MICROS_PER_UNIT, w)]
    return allocate(amount, w)
