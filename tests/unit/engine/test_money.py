from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jackpot.engine.money import (
    MICROS_PER_UNIT,
    allocate,
    ceil_to_unit,
    display,
    floor_to_unit,
    from_micros,
    micros_to_str,
    ratio,
    to_micros,
)


def test_scale_is_micros():
    assert MICROS_PER_UNIT == 1_000_000
    assert to_micros(Decimal("2.00")) == 2_000_000
    assert to_micros("0.036") == 36_000
    assert to_micros(5) == 5_000_000
    assert from_micros(36000) == Decimal("0.036000")
    assert str(from_micros(36000)) == "0.036000"
    assert micros_to_str(2_000_000) == "2.000000"
    assert micros_to_str(-1) == "-0.000001"


def test_conversion_is_exact_or_refused():
    assert to_micros(Decimal("0.000001")) == 1
    assert to_micros(Decimal("1.0000000")) == 1_000_000  # extra zeros are still exact
    with pytest.raises(ValueError, match="more than 6 decimal places"):
        to_micros(Decimal("0.0000001"))
    with pytest.raises(TypeError, match="float"):
        to_micros(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        to_micros(Decimal("NaN"))
    with pytest.raises(ValueError, match="not a decimal"):
        to_micros("two euros")


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_round_trip(m):
    assert to_micros(from_micros(m)) == m
    assert to_micros(micros_to_str(m)) == m


def test_spec_worked_example_gross_and_net():
    """EUR 2.00 x 1.5% x 1.2 = 0.036; x 0.90 = 0.0324 net; operator keeps 0.0036."""
    bet = to_micros("2.00")
    rn, rd = ratio(Decimal("0.015") * Decimal("1.2"))
    gross = bet * rn // rd
    assert gross == to_micros("0.036") == 36_000
    nn, nd = ratio(1 - Decimal("0.10"))
    net = gross * nn // nd
    assert net == to_micros("0.0324") == 32_400
    assert gross - net == to_micros("0.0036") == 3_600


@pytest.mark.parametrize(
    "bet, expected",
    [
        # spec table: 1.5% rate, no house cut, coefficient 1.0; shown to 4 places
        ("1.00", {"Grand": "0.0060", "Major": "0.0038", "Minor": "0.0030", "Mini": "0.0023"}),
        ("10.00", {"Grand": "0.0600", "Major": "0.0375", "Minor": "0.0300", "Mini": "0.0225"}),
    ],
)
def test_spec_split_table(bet, expected):
    net = to_micros(bet) * 15 // 1000
    parts = allocate(net, [40, 25, 20, 15])
    assert sum(parts) == net
    shown = {name: display(p, 4) for name, p in zip(expected, parts)}
    assert shown == {k: Decimal(v) for k, v in expected.items()}


def test_split_table_exact_micros():
    assert allocate(15_000, [40, 25, 20, 15]) == [6000, 3750, 3000, 2250]
    assert allocate(150_000, [40, 25, 20, 15]) == [60000, 37500, 30000, 22500]


def test_largest_remainder_and_ties_by_display_order():
    # 10 micros over three equal thirds: 3/3/3 + 1 leftover -> the first (top) level
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate(11, [1, 1, 1]) == [4, 4, 3]
    # remainders decide before order: 7 x (0.5, 0.3, 0.2) = 3.5, 2.1, 1.4 -> 4, 2, 1
    assert allocate(7, [5, 3, 2]) == [4, 2, 1]
    # 1 micro over 40/25/20/15 goes to the largest remainder (Grand: 0.40)
    assert allocate(1, [40, 25, 20, 15]) == [1, 0, 0, 0]
    assert allocate(3, [40, 25, 20, 15]) == [1, 1, 1, 0]
    assert allocate(0, [40, 25, 20, 15]) == [0, 0, 0, 0]
    # zero weights never receive
    assert allocate(5, [0, 1, 0, 1]) == [0, 3, 0, 2]
    with pytest.raises(ValueError):
        allocate(5, [0, 0])
    with pytest.raises(ValueError):
        allocate(-1, [1])


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=10**15), st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=10))
def test_allocate_sums_to_whole_and_is_fair(total, weights):
    if sum(weights) == 0:
        weights = weights[:-1] + [1]
    parts = allocate(total, weights)
    assert sum(parts) == total
    wsum = sum(weights)
    for p, w in zip(parts, weights):
        exact_floor = total * w // wsum
        assert exact_floor <= p <= exact_floor + 1
        if w == 0:
            assert p == 0
    assert parts == allocate(total, weights)  # deterministic


def test_unit_rounding():
    assert floor_to_unit(1_999_999) == 1_000_000
    assert floor_to_unit(2_000_000) == 2_000_000
    assert ceil_to_unit(1_000_001) == 2_000_000
    assert ceil_to_unit(1_000_000) == 1_000_000


def test_display_rounds_half_up_only_for_display():
    assert display(3750, 4) == Decimal("0.0038")
    assert display(2250, 4) == Decimal("0.0023")
    assert display(1_234_567, 2) == Decimal("1.23")
    assert display(1_235_000, 2) == Decimal("1.24")
