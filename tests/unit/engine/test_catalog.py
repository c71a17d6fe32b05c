"""The six campaign templates and the seven day-one jackpots validate and run."""

from decimal import Decimal

import pytest

from jackpot.engine import apply_contribution, compile_jackpot, new_jackpot_state, reconcile, to_micros
from jackpot.engine.catalog import (
    DAY_ONE,
    TEMPLATES,
    day_one_jackpot,
    day_one_jackpots,
    instantiate,
    stable_id,
)
from jackpot.engine.contribution import Bet
from jackpot.engine.lifecycle import activate
from jackpot.engine.rng import master_seed_source


def test_six_templates():
    assert set(TEMPLATES) == {
        "daily_must_drop",
        "classic_progressive",
        "mystery_drops",
        "vip_exclusive",
        "weekend_thunder",
        "happy_hour_blitz",
    }


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_instantiates_to_a_valid_jackpot(key):
    j = instantiate(key, name=f"From {key}")
    assert j.problems() == []
    assert j == instantiate(key, name=f"From {key}")  # deterministic ids


def test_template_contents_match_the_spec():
    t = {k: instantiate(k, name=k) for k in TEMPLATES}
    d = t["daily_must_drop"]
    assert (d.type, len(d.levels), d.drop_mode) == ("TIMED", 1, "must_drop")
    assert d.schedule.recurrence == "daily" and str(d.schedule.close_time) == "23:59:59"
    c = t["classic_progressive"]
    assert c.type == "PERSISTENT"
    assert [(lv.name, lv.contribution_split) for lv in c.levels] == [
        ("Grand", Decimal("0.40")), ("Major", Decimal("0.25")), ("Minor", Decimal("0.20")), ("Mini", Decimal("0.15"))
    ]
    m = t["mystery_drops"]
    assert (m.type, len(m.levels)) == ("MYSTERY", 3)
    assert all(lv.hidden_increment.enabled for lv in m.levels)
    v = t["vip_exclusive"]
    assert v.player_segments == ["VIP"] and v.levels[0].chain_reaction.enabled
    assert all(lv.min_bet >= 2 for lv in v.levels)
    assert v.levels[0].seed_from > c.levels[0].seed_from
    w = t["weekend_thunder"]
    s = w.schedule
    assert w.type == "PROMOTIONAL" and w.drop_mode == "must_drop"
    assert (s.open_weekday, str(s.open_time), s.close_weekday, str(s.close_time)) == (4, "18:00:00", 6, "23:59:00")
    h = t["happy_hour_blitz"]
    hs = h.schedule
    assert h.type == "PROMOTIONAL"
    assert (hs.close_time.hour - hs.open_time.hour) == 2
    assert h.levels[0].win_max <= 250 and h.levels[0].evaluation_delay_to <= 10


def test_instantiate_with_overrides_and_unknown_template():
    j = instantiate("classic_progressive", name="Copy", currencies=["USD"], overrides={"house_cut": "0"})
    assert j.house_cut == 0 and j.currencies == ["USD"]
    with pytest.raises(KeyError, match="unknown template 'nope'"):
        instantiate("nope", name="x")


PORTFOLIO = {
    # name: (type, levels, mode)
    "Crown Fortune": ("PERSISTENT", 4, 2),
    "Mystery Drops": ("MYSTERY", 3, 1),
    "Daily Blitz": ("TIMED", 1, 2),
    "VIP Diamond": ("PERSISTENT", 3, 3),
    "Lucky Hour": ("PROMOTIONAL", 1, 3),
    "Weekend Thunder": ("PROMOTIONAL", 2, 2),
    "Mega Cascade": ("PERSISTENT", 4, 2),
}


def test_seven_day_one_jackpots_match_the_portfolio():
    js = day_one_jackpots()
    assert [j.name for j in js] == list(PORTFOLIO) == list(DAY_ONE)
    for j in js:
        typ, n, mode = PORTFOLIO[j.name]
        assert (j.type.value, len(j.levels), int(j.distribution_mode)) == (typ, n, mode), j.name
        assert j.problems() == []
    assert len({j.jackpot_id for j in js}) == 7


def test_key_features():
    cf = day_one_jackpot("Crown Fortune")
    assert cf.levels[0].waterfall.enabled and cf.levels[0].chain_reaction.enabled
    assert [str(a) for a in cf.levels[0].chain_reaction.prize_amounts] == ["500", "250", "100", "100"]
    md = day_one_jackpot("Mystery Drops")
    assert md.compliance_profile.jurisdiction_code == "RO" and md.accepted_bet_types == {"real"}
    assert md.levels[0].amounts_for("RON").win_max == Decimal("40000")
    assert md.levels[0].amounts_for("EUR").win_max == Decimal("8000")
    vip = day_one_jackpot("VIP Diamond")
    assert vip.player_segments == ["VIP"] and vip.compliance_profile.jurisdiction_code == "CW"
    mc = day_one_jackpot("Mega Cascade")
    # 4 cascade winners + chain prizes = 12 winners per full cascade
    assert len(mc.levels) + sum(lv.chain_reaction.prize_count for lv in mc.levels if lv.chain_reaction.enabled) == 12
    assert all(lv.waterfall.enabled for lv in mc.levels)
    wt = day_one_jackpot("Weekend Thunder")
    assert wt.schedule.open_weekday == 4 and wt.schedule.close_weekday == 6


@pytest.mark.parametrize("name", list(DAY_ONE))
def test_day_one_jackpots_compile_and_take_bets(name):
    j = day_one_jackpot(name)
    cj = compile_jackpot(j)
    st = new_jackpot_state(cj)
    activate(cj, st, master_seed_source(b"day-one"), actor="launch", cause_id="launch", now=0)
    # Saturday 2024-01-06 21:00 UTC: inside every day-one schedule (Lucky Hour 20-22 h, Weekend Thunder Fri-Sun)
    at = 1_704_574_800_000
    for i, cur in enumerate(j.currencies):
        b = Bet(f"b{i}", "p1", "gates-of-olympus", j.brands[0], cur, 2_000_000, "real", "s", at)
        r = apply_contribution(cj, st, b)
        assert r.outcome == "applied"
        assert r.gross == to_micros(Decimal("2.00") * j.contribution_rate * Decimal("1.2"))
    reconcile(st)


def test_a_scheduled_jackpot_takes_bets_only_inside_its_window():
    """Lucky Hour (daily 20:00-22:00 UTC): a 09:00 bet feeds nothing; Weekend Thunder (Friday 18:00 to
    Sunday 23:59): a Wednesday bet feeds nothing."""
    monday = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday
    hour, day = 3_600_000, 86_400_000
    for name, outside, inside in (("Lucky Hour", monday + 9 * hour, monday + 21 * hour),
                                  ("Weekend Thunder", monday + 2 * day + 12 * hour, monday + 5 * day + 12 * hour)):
        j = day_one_jackpot(name)
        cj = compile_jackpot(j)
        st = new_jackpot_state(cj)
        activate(cj, st, master_seed_source(b"day-one"), actor="launch", cause_id="launch", now=0)
        for ts, want in ((outside, "discarded"), (inside, "applied"), (outside + 7 * day, "discarded")):
            b = Bet(f"b{ts}", "p1", "gates-of-olympus", j.brands[0], "EUR", 2_000_000, "real", "s", ts)
            r = apply_contribution(cj, st, b)
            assert r.outcome == want, (name, ts, r)
            if want == "discarded":
                assert r.reason == "outside_schedule"


def test_stable_ids():
    assert stable_id("a", "b") == stable_id("a", "b") != stable_id("a", "c")
