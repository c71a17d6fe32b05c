import re
from decimal import Decimal

import pytest
from pydantic import ValidationError

from jackpot.engine import Jackpot
from jackpot.engine.catalog import ROMANIA_ONJN
from jackpot.engine.compiled import compile_jackpot

from .helpers import classic_levels, jackpot_dict, level, lid, make_jackpot


def invalid(match: str, **kw):
    with pytest.raises(ValidationError) as ei:
        make_jackpot(**kw)
    msg = str(ei.value)
    assert re.search(match, msg), msg
    return msg


def levels_with(name: str, **changes):
    lv = classic_levels()
    for d in lv:
        if d["name"] == name:
            d.update(changes)
    return lv


def test_baseline_is_valid_and_keeps_every_spec_field():
    j = make_jackpot()
    lv = j.levels[0]
    for f in ("level_id", "name", "display_order", "icon", "image_id", "contribution_split", "seed_from", "seed_to",
              "win_from", "win_to", "win_max", "coefficient", "warn_from", "warn_to", "min_bet", "max_bet",
              "min_players", "min_spins", "hidden_increment", "chain_reaction", "waterfall", "range_display",
              "integer_wins_only", "lock_on_win", "auto_reset_seconds", "status"):
        assert hasattr(lv, f), f
    for f in ("jackpot_id", "name", "internal_name", "type", "status", "brands", "currencies", "games",
              "contribution_rate", "house_cut", "compliance_profile", "schedule", "created_at", "created_by"):
        assert hasattr(j, f), f
    assert j.status == "DRAFT"
    assert lv.coefficient == Decimal(1)
    assert j.accepted_bet_types == {"real"}  # spec default: real money only


def test_splits_must_sum_to_exactly_100_percent():
    msg = invalid(
        r"level contribution splits must sum to exactly 100%, got 95% \(Grand 40%, Major 25%, Minor 15%, Mini 15%\)",
        levels=levels_with("Minor", contribution_split="0.15"),
    )
    assert "Mini 15%" in msg
    invalid(r"got 100.0001%", levels=levels_with("Mini", contribution_split="0.150001"))


def test_thirds_that_do_not_add_up_are_refused():
    lv = [level("A", 1, "0.333333"), level("B", 2, "0.333333"), level("C", 3, "0.333333")]
    invalid(r"got 99.9999%", levels=lv)
    lv[2]["contribution_split"] = "0.333334"
    make_jackpot(levels=lv)


def test_win_ranges():
    invalid(r"level 'Grand': win_max 45000 must be >= win_to 50000", levels=levels_with("Grand", win_max="45000"))
    invalid(r"level 'Major': win_to 2000 must be >= win_from 2500", levels=levels_with("Major", win_to="2000"))
    invalid(r"level 'Mini': seed_to 5 must be >= seed_from 10", levels=levels_with("Mini", seed_to="5"))
    invalid(r"level 'Mini': win_from 15 must be >= seed_to 20", levels=levels_with("Mini", win_from="15"))


def test_warn_ranges_within_0_to_100_percent():
    invalid(r"level 'Grand': warn_to 120% must be within 0-100% of the win target", levels=levels_with("Grand", warn_to="1.2"))
    invalid(r"level 'Grand': warn_from -10% must be within 0-100%", levels=levels_with("Grand", warn_from="-0.1"))
    invalid(r"warn_to 50% must be >= warn_from 80%", levels=levels_with("Grand", warn_from="0.8", warn_to="0.5"))


@pytest.mark.parametrize("count", [0, 11])
def test_chain_reaction_prize_count_1_to_10(count):
    invalid(
        rf"chain reaction prize_count {count} must be between 1 and 10",
        levels=levels_with("Grand", chain_reaction={"enabled": True, "prize_count": count, "prize_amounts": ["1"] * count}),
    )


def test_chain_reaction_amounts_match_count():
    invalid(
        r"chain reaction has prize_count 3 but 2 prize_amounts",
        levels=levels_with("Grand", chain_reaction={"enabled": True, "prize_count": 3, "prize_amounts": ["500", "250"]}),
    )
    make_jackpot(levels=levels_with("Grand", chain_reaction={"enabled": True, "prize_count": 10, "prize_amounts": ["1"] * 10}))


@pytest.mark.parametrize(
    "field, message",
    [
        ("games", "a jackpot needs at least one participating game"),
        ("currencies", "a jackpot needs at least one currency"),
        ("brands", "a jackpot needs at least one brand"),
        ("levels", "a jackpot needs at least one level"),
    ],
)
def test_at_least_one_game_currency_brand_level(field, message):
    invalid(re.escape(message), **{field: []})


def test_all_problems_are_listed_at_once():
    msg = invalid("brand", brands=[], games=[])
    assert "at least one participating game" in msg and "at least one brand" in msg


def test_floats_are_refused_everywhere():
    invalid(r"0.015 is a float", contribution_rate=0.015)
    invalid(r"is a float", levels=levels_with("Grand", win_max=60000.0))


def test_money_exact_to_the_micro():
    invalid(r"amount 0.0000001 has more than 6 decimal places", levels=levels_with("Mini", seed_from="0.0000001", seed_to="10"))
    invalid(r"amount -1 must not be negative", levels=levels_with("Mini", min_bet="-1"))


def test_rates():
    invalid(r"contribution_rate 0% must be within \(0, 100%\]", contribution_rate="0")
    invalid(r"house_cut 100% must be within \[0, 100%\)", house_cut="1")
    invalid(r"game g9: coefficient -1 must be between 0 and 100", games=[{"game_id": "g9", "coefficient": "-1"}])
    invalid(
        r"hidden_increment coefficient 100% must be within 0-100% \(exclusive\)",
        levels=levels_with("Grand", hidden_increment={"enabled": True, "coefficient": "1"}),
    )
    invalid(r"hidden_increment is enabled with coefficient 0%", levels=levels_with("Grand", hidden_increment={"enabled": True}))


def test_duplicates_and_references():
    lv = classic_levels()
    lv[1]["display_order"] = 1
    invalid(r"duplicate level display_order: 1", levels=lv)
    invalid(r"duplicate game: g1", games=[{"game_id": "g1"}, {"game_id": "g1"}])
    invalid(r"overflow redirect target .* is not a level", levels=levels_with("Mini", overflow={"mode": "redirect", "redirect_to": [lid("Nope")]}))
    invalid(r"overflow cannot redirect to itself", levels=levels_with("Mini", overflow={"mode": "redirect", "redirect_to": [lid("Mini")]}))
    invalid(r"currency_amounts for GBP which the jackpot does not support",
            levels=levels_with("Mini", currency_amounts={"GBP": {"seed_from": "1", "seed_to": "2", "win_from": "3", "win_to": "4", "win_max": "5"}}))


def test_per_currency_amounts_are_checked_too():
    invalid(
        r"level 'Mini' \(USD\): win_max 100 must be >= win_to 120",
        levels=levels_with("Mini", currency_amounts={"USD": {"seed_from": "10", "seed_to": "20", "win_from": "50", "win_to": "120", "win_max": "100"}}),
    )


def test_integer_wins_only_needs_a_whole_seed():
    invalid(
        r"integer_wins_only needs a whole amount between seed_from 10.2 and seed_to 10.8",
        levels=levels_with("Mini", seed_from="10.2", seed_to="10.8", integer_wins_only=True),
    )


def test_timed_and_promotional_need_a_schedule_with_an_end():
    invalid(r"a TIMED jackpot needs a schedule with an end", type="TIMED")
    invalid(r"a PROMOTIONAL jackpot needs a schedule with an end", type="PROMOTIONAL", schedule={"timezone": "UTC"})
    invalid(r"drop_mode time_drop needs a schedule", drop_mode="time_drop")
    make_jackpot(type="TIMED", schedule={"recurrence": "daily", "close_time": "23:59:59"})
    invalid(r"unknown timezone 'Mars/Olympus'", type="TIMED", schedule={"timezone": "Mars/Olympus", "end_at": "2030-01-01T00:00:00Z"})
    invalid(r"end_at .* must be after start_at", type="TIMED",
            schedule={"start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"})
    invalid(r"a weekly window needs", type="PROMOTIONAL", schedule={"recurrence": "weekly", "open_weekday": 4})


# ---------------------------------------------------------------- compliance profile


def ro(**kw):
    kw.setdefault("currencies", ["RON", "EUR"])
    return jackpot_dict(compliance_profile=ROMANIA_ONJN.model_dump(mode="python"), **kw)


def test_config_violating_its_compliance_profile_is_rejected():
    def bad(match, **kw):
        with pytest.raises(ValidationError, match=match):
            Jackpot.model_validate(ro(**kw))

    Jackpot.model_validate(ro())  # baseline passes
    bad(r"compliance profile RO allows distribution modes 1, 2; config uses mode 3", distribution_mode=3)
    bad(r"compliance profile RO does not allow bonus bets", accepted_bet_types=["real", "bonus"])
    bad(r"compliance profile RO prohibits segment_targeting", distribution_mode=2, player_segments=["VIP"])
    bad(r"compliance profile RO does not allow weight factors loyalty_tier",
        distribution_mode=2, weight_factors={"loyalty_tier": "0.1"})
    bad(r"compliance profile RO does not allow currencies USD", currencies=["RON", "USD"])
    bad(r"compliance profile RO prohibits overflow_to_revenue", levels=levels_with("Mini", overflow={"mode": "revenue"}))
    bad(r"compliance profile RO does not allow targeted chain reaction",
        distribution_mode=2,
        levels=levels_with("Grand", chain_reaction={"enabled": True, "prize_count": 1, "prize_amounts": ["100"], "distribution_mode": "targeted"}))


def test_chain_reaction_mode_must_fit_the_distribution_mode():
    invalid(
        r"level 'Grand': weighted chain reaction needs distribution mode 2/3/4, config uses mode 1",
        levels=levels_with("Grand", chain_reaction={"enabled": True, "prize_count": 1, "prize_amounts": ["100"], "distribution_mode": "weighted"}),
    )
    make_jackpot(
        distribution_mode=2,
        levels=levels_with("Grand", chain_reaction={"enabled": True, "prize_count": 1, "prize_amounts": ["100"], "distribution_mode": "weighted"}),
    )


def test_weights_without_weighted_mode_are_pointless():
    invalid(r"weight factors have no effect in distribution mode 1", weight_factors={"bet_size": "0.3"})


def test_compiled_form_is_integer_only():
    cj = compile_jackpot(make_jackpot())
    g = cj.games["g12"]
    assert (g.gross_num, g.gross_den) == (9, 500)  # 0.015 x 1.2 = 0.018
    assert (cj.net_num, cj.net_den) == (9, 10)
    assert [lv.name for lv in cj.levels] == ["Grand", "Major", "Minor", "Mini"]
    assert [lv.split_weight for lv in cj.levels] == [8, 5, 4, 3]  # 40/25/20/15 over a common denominator
    lim = cj.levels[0].limits["EUR"]
    assert (lim.seed_from, lim.win_max, lim.approaching_at) == (5_000_000_000, 60_000_000_000, 54_000_000_000)
    assert lim.max_contribution == 6_000_000_000  # default bound: 10% of win_max
    # fingerprint is stable and changes with the config
    assert cj.fingerprint == compile_jackpot(make_jackpot()).fingerprint
    assert cj.fingerprint != compile_jackpot(make_jackpot(house_cut="0.11")).fingerprint


def test_fingerprint_independent_of_set_order():
    a = compile_jackpot(make_jackpot(accepted_bet_types=["real", "bonus"]))
    b = compile_jackpot(make_jackpot(accepted_bet_types=["bonus", "real"]))
    assert a.fingerprint == b.fingerprint
