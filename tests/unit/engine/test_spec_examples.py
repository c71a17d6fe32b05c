"""Every worked number of the specification's Core Engine section, through the real pipeline."""

from decimal import Decimal

import pytest

from jackpot.engine import apply_contribution, from_micros, to_micros
from jackpot.engine.money import display

from .helpers import bet, level, lid, make_jackpot, setup


def test_gross_net_and_house_cut_example():
    """Step 3-4: EUR 2.00 x 1.5% x 1.2 = EUR 0.036; x 0.90 = EUR 0.0324 net; operator keeps EUR 0.0036."""
    cj, st = setup(contribution_rate="0.015", house_cut="0.10")
    r = apply_contribution(cj, st, bet(to_micros("2.00"), game="g12"))
    assert from_micros(r.gross) == Decimal("0.036")
    assert from_micros(r.net) == Decimal("0.0324")
    assert from_micros(r.house_cut) == Decimal("0.0036")


@pytest.mark.parametrize(
    "stake, shown",
    [
        ("1.00", {"Grand": "0.0060", "Major": "0.0038", "Minor": "0.0030", "Mini": "0.0023"}),
        ("10.00", {"Grand": "0.0600", "Major": "0.0375", "Minor": "0.0300", "Mini": "0.0225"}),
    ],
)
def test_contribution_split_table(stake, shown):
    """Grand 40%, Major 25%, Minor 20%, Mini 15%; 1.5% rate, no house cut, coefficient 1.0."""
    cj, st = setup(contribution_rate="0.015", house_cut="0")
    r = apply_contribution(cj, st, bet(to_micros(stake), game="g1"))
    got = {cj.level(lc.level_id).name: display(lc.net, 4) for lc in r.levels}
    assert got == {k: Decimal(v) for k, v in shown.items()}
    assert sum(lc.net for lc in r.levels) == r.net == to_micros(stake) * 15 // 1000


def test_house_cut_example():
    """1.5% rate with 10% cut means 1.35% reaches pools, 0.15% retained."""
    cj, st = setup(contribution_rate="0.015", house_cut="0.10")
    r = apply_contribution(cj, st, bet(to_micros("100.00"), game="g1"))
    assert from_micros(r.net) == Decimal("1.35") and from_micros(r.house_cut) == Decimal("0.15")


def test_small_bet_still_moves_the_ticker():
    """A EUR 0.20 bet from a casual player still adds EUR 0.003 to the pool ticker."""
    cj, st = setup(contribution_rate="0.015", house_cut="0", levels=[level("Grand", 1, "1", min_bet="0.50")])
    before = st.pools["EUR"][lid("Grand")].visible
    r = apply_contribution(cj, st, bet(to_micros("0.20"), game="g1"))
    assert from_micros(st.pools["EUR"][lid("Grand")].visible - before) == Decimal("0.003")
    assert r.outcome == "applied"


@pytest.mark.parametrize("coef, expected", [("1.0", "0.015"), ("2.0", "0.030"), ("0.5", "0.0075"), ("0.0", "0")])
def test_per_game_coefficients(coef, expected):
    """1.0 standard, 2.0 double, 0.5 half, 0.0 participates but does not contribute."""
    cj, st = setup(games=[{"game_id": "g", "coefficient": coef}], house_cut="0")
    r = apply_contribution(cj, st, bet(to_micros("1.00"), game="g"))
    assert r.outcome == "applied" and from_micros(r.gross) == Decimal(expected)


def test_seed_range_example():
    """seed_from = 5000, seed_to = 8000 -> the pool reseeds between EUR 5,000 and EUR 8,000."""
    cj, st = setup()
    g = st.pools["EUR"][lid("Grand")]
    assert Decimal(5000) <= from_micros(g.seed_amount) <= Decimal(8000)


def test_defaults_from_the_spec():
    j = make_jackpot()
    lv = j.levels[0]
    assert lv.coefficient == 1 and lv.min_bet == 0 and lv.max_bet == 0 and lv.min_players == 0 and lv.min_spins == 0
    assert (lv.evaluation_delay_from, lv.evaluation_delay_to) == (1, 50)  # "default range 1-50"
    assert lv.drop_cooldown_minutes == 0 and lv.auto_reset_seconds == 0
    assert j.active_window_seconds == 60
    assert j.accepted_bet_types == {"real"}
