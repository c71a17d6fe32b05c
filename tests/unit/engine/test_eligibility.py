"""Win eligibility: the ten conditions and their defaults; config rules of this stage (odds cap,
selection, payout, windows); the batch entry point."""

import pytest
from pydantic import ValidationError

from jackpot.engine import BetContext, apply_contribution, evaluate_after_contribution, process_batch
from jackpot.engine.catalog import CURACAO, day_one_jackpots
from jackpot.engine.eligibility import TABLE, eligibility_table, snapshot

from .flow import SOLO, solo
from .helpers import bet, make_jackpot, setup

HOUR = 3_600_000


def table(d, player, stage=0):
    return eligibility_table(d.cj, d.st, d.cj.level(SOLO), d.pool(), player, d.now, stage)


def test_defaults_let_every_active_player_win():
    d = solo()
    d.bet(0.00001, "tiny", spins=0)  # 10 micros
    t = table(d, "tiny")
    assert list(t) == list(TABLE) and all(t.values())
    assert [p for p, _ in snapshot(d.cj, d.st, d.cj.level(SOLO), d.pool(), d.now, 0)] == ["tiny"]


def test_each_condition_can_fail():
    d = solo({"min_bet": "1", "max_bet": "5", "min_spins": 3, "min_players": 3},
             player_segments=["VIP"], eligibility={"allowed_jurisdictions": ["MT"], "require_kyc": True},
             drop_windows={"windows": [{"weekdays": [6]}]})
    d.now = 1_704_067_200_000  # a Monday
    d.bet(0.5, "p", spins=1, game="g0", jurisdiction="RO", self_excluded=True)
    t = table(d, "p")
    assert not any(t[c] for c in ("min_bet", "min_spins", "min_players", "game_eligible", "player_segment",
                                  "not_excluded", "jurisdiction", "time_window"))
    assert t["max_bet"] and t["active_status"]
    d.bet(6, "p", spins=3, segments=("VIP",), jurisdiction="MT", kyc_verified=True)
    t = table(d, "p")
    assert not t["max_bet"] and t["min_bet"] and t["player_segment"] and t["jurisdiction"] and t["not_excluded"]
    d.now += 61_000
    assert not table(d, "p")["active_status"]
    assert table(d, "nobody") == {c: False for c in TABLE}
    # must-drop relaxation stages lift the level conditions
    assert table(d, "p", stage=4)["time_window"] and table(d, "p", stage=4)["min_players"]


def test_snapshot_uses_the_last_qualifying_bet_within_the_window():
    d = solo({"min_bet": "1"})
    d.bet(2, "a")  # qualifies
    d.bet(0.1, "a")  # a small bet later does not undo the qualifying one
    d.bet(0.1, "b")  # never qualified
    cl, pool = d.cj.level(SOLO), d.pool()
    assert [p for p, _ in snapshot(d.cj, d.st, cl, pool, d.now, 0)] == ["a"]
    assert [p for p, _ in snapshot(d.cj, d.st, cl, pool, d.now, 4)] == ["a", "b"]  # at Win Max
    assert snapshot(d.cj, d.st, cl, pool, d.now + 60_000, 0) == []


def test_odds_cap_of_the_compliance_profile():
    prof = CURACAO.model_dump(mode="python") | {"max_odds": 5_000}
    base = dict(contribution_rate="0.01", house_cut="0", currencies=["EUR"],
                games=[{"game_id": "g1"}, {"game_id": "g0", "coefficient": "0", "trigger_eligible": False}])
    lv = dict(level_id="0f8fad5b-d9cb-469f-a165-70867728950e", name="L", display_order=1, contribution_split="1",
              seed_from="10", seed_to="20", win_from="50", win_to="100", win_max="150", evaluation_delay_to=10)
    # worst case: (100 - 10) / (1 x 1%) = 9,000 bets + 10 delay
    j = make_jackpot(levels=[dict(lv, min_bet="1")], **base)
    assert j.worst_odds(j.levels[0], "EUR") == 9_010
    with pytest.raises(ValidationError, match="worst-case odds 1 in 9010 exceed the CW cap of 1 in 5000"):
        make_jackpot(levels=[dict(lv, min_bet="1")], compliance_profile=prof, **base)
    ok = make_jackpot(levels=[dict(lv, min_bet="2")], compliance_profile=prof, **base)
    assert ok.worst_odds(ok.levels[0], "EUR") == 4_510
    with pytest.raises(ValidationError, match="odds are unbounded"):
        make_jackpot(levels=[dict(lv, min_bet="0")], compliance_profile=prof, **base)
    with pytest.raises(ValidationError, match="odds are unbounded"):  # a trigger-eligible game that adds nothing
        make_jackpot(levels=[dict(lv, min_bet="2")], compliance_profile=prof,
                     **(base | {"games": [{"game_id": "g1"}, {"game_id": "free", "coefficient": "0"}]}))
    # must-drop halves the minimum bet near Win Max: the odds bound uses the relaxed bet
    with pytest.raises(ValidationError, match="1 in 9010"):
        make_jackpot(levels=[dict(lv, min_bet="2")], compliance_profile=prof, drop_mode="must_drop", **base)


def test_config_rules_of_the_trigger_and_payout_stage():
    for kw, match in [
        (dict(drop_windows={"timezone": "Mars/Olympus"}), "unknown timezone"),
        (dict(drop_windows={"windows": [{"weekdays": [7]}]}), "weekdays must be"),
        (dict(drop_mode="manual", drop_windows={"windows": [{"weekdays": [1]}]}), "no effect in manual-only"),
        (dict(payout={"large_win_thresholds": {"GBP": "5"}}), "large_win_thresholds for GBP"),
        (dict(payout={"approval_alert_hours": [48, 24]}), "approval_alert_hours must be positive and increasing"),
        (dict(payout={"wallet_retry_base_ms": 10, "wallet_retry_max_ms": 5}), "wallet_retry_max_ms"),
        (dict(ticker={"lag_min_ms": 900}), "lag_max_ms must be >= lag_min_ms"),
        (dict(distribution_mode=3, operator_rules={"star_boost": "0"}), "star_boost 0 must be positive"),
        (dict(distribution_mode=3, operator_rules={"off_peak_drop_chance": "2"}), "off_peak_drop_chance"),
        (dict(distribution_mode=3, operator_rules={"win_caps": [{"max_wins": 1, "period_hours": 1,
                                                                  "level_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}]}),
         "is not a level of this jackpot"),
    ]:
        with pytest.raises(ValidationError, match=match):
            make_jackpot(**kw)
    with pytest.raises(ValidationError, match="brackets must have increasing"):
        make_jackpot(compliance_profile=CURACAO.model_dump(mode="python") | {
            "withholding": [{"currency": "EUR", "brackets": [{"above": "5", "rate": "0.1"}, {"above": "1", "rate": "0.2"}]}]})


def test_the_launch_portfolio_still_validates():
    names = [j.name for j in day_one_jackpots()]
    assert len(names) == 7


def test_batch_entry_point_matches_bet_by_bet():
    cj, a = setup()
    _, b = setup()
    ctxs = [BetContext(bet(3_000_000, player=f"p{i % 3}", bet_id=f"x{i}", ts=5_000 + i), session_spins=i)
            for i in range(50)]
    single = []
    for c in ctxs:
        r = apply_contribution(cj, a, c.bet)
        single.append(evaluate_after_contribution(cj, a, c, r, c.bet.timestamp))
    res, out = process_batch(cj, b, ctxs)
    assert a.to_dict() == b.to_dict()
    assert [e.to_dict() for o in single for e in o.evaluations] == [e.to_dict() for e in out.evaluations]
    assert len(res.results) == 50
