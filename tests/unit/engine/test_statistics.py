"""Statistical checks with fixed seeds: Mode 1 is uniform, Mode 2 follows its weights, win targets
are uniform in [win_from, win_to]. Chi-square statistics against tabulated critical values at
p = 0.001; each test also shows that its bound rejects a small bias, so it can fail."""

from collections import Counter
from fractions import Fraction

from jackpot.engine.rng import CycleContext, DrawRanges, draw_cycle
from jackpot.engine.selection import Candidate, draw_winners, mode_weights

from .flow import solo

# upper 0.1% points of the chi-square distribution (df -> critical value)
CHI2_999 = {4: 18.467, 7: 24.322, 9: 27.877, 19: 43.820}
SEED = bytes(range(32))
CTX = CycleContext("jackpot", "level", "EUR", 1)


def chi2(observed: list[int], expected: list[Fraction]) -> Fraction:
    return sum(((o - e) ** 2 / e for o, e in zip(observed, expected)), Fraction(0))


def cand(i: int, *values: int) -> Candidate:
    return Candidate(f"p{i:02d}", "b", "g1", "", (), False, tuple(values), (), values[1] if len(values) > 1 else 0)


def draw_counts(cands, weights, n=100_000) -> list[int]:
    c = Counter()
    for k in range(n):
        chosen, _ = draw_winners(SEED, CTX, 1, k, cands, weights, 1)
        c[chosen[0]] += 1
    return [c[i] for i in range(len(cands))]


def test_mode_1_selection_is_uniform_over_100k_draws():
    d = solo()  # mode 1
    cands = [cand(i, 1_000_000, 0, 0, 0, 0, 0) for i in range(10)]
    weights = mode_weights(d.cj, cands, "random_eligible")
    assert weights == [1] * 10
    counts = draw_counts(cands, weights)
    expected = [Fraction(100_000, 10)] * 10
    assert chi2(counts, expected) < CHI2_999[9], counts
    # the bound has power: a 5% bias on one player is rejected
    biased = list(counts)
    biased[0] += 500
    biased[1] -= 500
    assert chi2(biased, expected) > CHI2_999[9]


def test_mode_2_frequencies_are_proportional_to_the_computed_weights():
    d = solo(distribution_mode=2, weight_factors={"bet_size": "0.3", "contribution_volume": "0.2",
                                                  "session_presence": "0.1", "bet_count": "0.15",
                                                  "loyalty_tier": "0.1", "recency": "0.05"})
    # bet, contributed, session ms, qualifying bets, tier, recency ms
    raw = [
        (500_000, 1_000, 60_000, 3, 0, 1_000),
        (5_000_000, 90_000, 3_600_000, 40, 3, 59_000),
        (1_000_000, 12_000, 600_000, 10, 1, 30_000),
        (20_000_000, 400_000, 7_200_000, 90, 5, 50_000),
        (200_000, 300, 5_000, 1, 0, 0),
        (2_000_000, 40_000, 1_800_000, 25, 2, 20_000),
        (800_000, 8_000, 900_000, 8, 0, 45_000),
        (3_000_000, 60_000, 2_400_000, 30, 4, 10_000),
    ]
    cands = [cand(i, *r) for i, r in enumerate(raw)]
    weights = mode_weights(d.cj, cands, "weighted_random")
    # the spec's formula, computed independently: 1 + sum(coef x value / average)
    coefs = [Fraction(3, 10), Fraction(2, 10), Fraction(1, 10), Fraction(15, 100), Fraction(1, 10), Fraction(5, 100)]
    n = len(raw)
    avgs = [Fraction(sum(r[f] for r in raw), n) for f in range(6)]
    exact = [1 + sum(c * r[f] / avgs[f] for f, c in enumerate(coefs)) for r in raw]
    total_exact = sum(exact)
    total_w = sum(weights)
    for w, e in zip(weights, exact):
        assert abs(Fraction(w, total_w) - e / total_exact) < Fraction(1, 10**8)
    assert max(weights) > 3 * min(weights)  # the weights really differ
    counts = draw_counts(cands, weights)
    expected = [Fraction(100_000 * w, total_w) for w in weights]
    assert chi2(counts, expected) < CHI2_999[7], (counts, [int(e) for e in expected])
    # ... and are far from uniform
    assert chi2(counts, [Fraction(100_000, n)] * n) > 1000


def test_all_mode_2_coefficients_zero_reduce_to_mode_1_exactly():
    m2 = solo(distribution_mode=2, weight_factors={"bet_size": "0", "recency": "0"})
    m1 = solo(selection={"method": "random_eligible"})
    cands = [cand(i, 1_000_000 * (i + 1), i, i, i, i, i) for i in range(6)]
    w2 = mode_weights(m2.cj, cands, "weighted_random")
    w1 = mode_weights(m1.cj, cands, "random_eligible")
    assert w1 == w2 == [1] * 6
    for k in range(50):
        assert draw_winners(SEED, CTX, 1, k, cands, w2, 2) == draw_winners(SEED, CTX, 1, k, cands, w1, 2)


def test_win_targets_are_uniform_within_the_win_range():
    ranges = DrawRanges(0, 0, 1_000, 1_999, 1, 2, 1, 2, 1, 1, False)
    n = 20_000
    bins = Counter()
    lo = hi = None
    for cycle in range(1, n + 1):
        t = draw_cycle(SEED, CycleContext("j", "l", "EUR", cycle), ranges).win_target
        assert 1_000 <= t <= 1_999
        bins[(t - 1_000) // 100] += 1
        lo = t if lo is None else min(lo, t)
        hi = t if hi is None else max(hi, t)
    counts = [bins[i] for i in range(10)]
    expected = [Fraction(n, 10)] * 10
    assert chi2(counts, expected) < CHI2_999[9], counts
    assert lo < 1_010 and hi > 1_989  # the whole range is reached
    skew = list(counts)
    skew[9] -= 300
    skew[0] += 300
    assert chi2(skew, expected) > CHI2_999[9]


def test_chain_and_fallback_draws_use_their_own_labels():
    cands = [cand(i, 1, 0, 0, 0, 0, 0) for i in range(20)]
    a, _ = draw_winners(SEED, CTX, 1, 0, cands, [1] * 20, 5)
    b, _ = draw_winners(SEED, CTX, 2, 0, cands, [1] * 20, 5)
    assert len(set(a)) == 5 and a != b  # without replacement; another drop draws differently
