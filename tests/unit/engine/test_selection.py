"""Winner selection in the four distribution modes, the split, and the auditor's recomputation."""

import hashlib

import pytest
from pydantic import ValidationError

from jackpot.engine.catalog import MODE2_CONSERVATIVE_WEIGHTS, MODE2_WEIGHTS, ROMANIA_ONJN
from jackpot.engine.events import CYCLE_REVEALED, JACKPOT_WON, WINNER_SELECTED
from jackpot.engine.rng import derive_int
from jackpot.engine.selection import Candidate, mode_weights

from .flow import SOLO, UNIT, solo
from .helpers import make_jackpot


def audit(selected: dict, revealed: dict) -> list[str]:
    """What an auditor does: check the commitment, redo every draw from the revealed seed and the
    logged snapshot, and return the winners it finds."""
    seed = bytes.fromhex(revealed["seed"])
    assert hashlib.sha256(seed).hexdigest() == selected["commitment"] == revealed["commitment"]
    remaining = [(pid, int(w)) for pid, w in selected["candidates"]]
    winners = []
    for label, r, total, pid in selected["draws"]:
        assert int(total) == sum(w for _, w in remaining)
        assert derive_int(seed, label, 0, int(total) - 1) == int(r)
        acc = 0
        for i, (p, w) in enumerate(remaining):
            acc += w
            if int(r) < acc:
                winners.append(p)
                remaining.pop(i)
                break
        assert winners[-1] == pid
    return winners


def players(d, names, **kw):
    for p in names:
        d.bet(0.01, p, dt=10, **kw)


def settle_last(d):
    for c in d.credits():
        if c.payload["kind"] == "main" and c.payload["idempotency_key"] in {
            cr.key for w in d.st.wins.values() for cr in w.credits if cr.status == "sent"
        }:
            d.wallet(c)


def test_mode_1_trigger_player_wins():
    d = solo()
    players(d, ["a", "b", "c"])
    out = d.run_to_drop(players=("c", "b"))
    sel = d.of(WINNER_SELECTED, out)[0].payload
    trigger = d.st.wins[out.evaluations[0].win_id].trigger
    assert sel["selection_method"] == "trigger_player" and sel["draws"] == []
    assert sel["winners"][0][1] == trigger[1]
    assert sorted(p for p, _ in sel["candidates"]) == ["a", "b", "c"]


def test_mode_1_random_eligible_is_reproducible_from_the_logged_snapshot():
    d = solo({"min_bet": "0.5"}, selection={"method": "random_eligible"})
    players(d, ["small-1", "small-2"])  # bets below min_bet: active, not eligible
    for p in ("a", "b", "c", "d"):
        d.bet(0.5, p, dt=10)
    out = d.run_to_drop(players=("a",))
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert sorted(p for p, _ in sel["candidates"]) == ["a", "b", "c", "d"]
    assert all(w == 1 for _, w in sel["candidates"])
    d.wallet(d.credits()[-1])
    revealed = d.of(CYCLE_REVEALED)[0].payload
    assert audit(sel, revealed) == [sel["winners"][0][1]]


def test_mode_2_weighted_draw_is_reproducible_and_logs_weights():
    d = solo(distribution_mode=2, weight_factors=MODE2_WEIGHTS)
    for i, p in enumerate(["a", "b", "c", "d", "e"]):
        d.bet(0.2 * (i + 1), p, dt=1000, loyalty_tier=i, session_started_at=d.now - 60_000 * i)
    out = d.run_to_drop(players=("e",))
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert sel["selection_method"] == "weighted_random" and len(sel["draws"]) == 1
    weights = dict(sel["candidates"])
    assert weights["e"] > weights["a"]  # bigger, longer, more loyal
    d.wallet(d.credits()[-1])
    assert audit(sel, d.of(CYCLE_REVEALED)[0].payload) == [sel["winners"][0][1]]


def test_multi_winner_split_50_30_20_and_equal():
    d = solo({"win_from": "100", "win_to": "100", "win_max": "200", "seed_from": "0", "seed_to": "0"},
             distribution_mode=2, weight_factors={"bet_size": "0.3"},
             selection={"winners": 3, "split": ["0.5", "0.3", "0.2"]})
    players(d, ["a", "b", "c", "d"])
    d.bet(100, "a")
    out = d.run_to_drop(players=("b",))
    mains = [c.payload for c in d.credits(out)]
    amount = d.st.wins[out.evaluations[0].win_id].amount
    assert [c["amount"] for c in mains] == [amount * 5 // 10, amount * 3 // 10, amount * 2 // 10]
    assert sum(c["amount"] for c in mains) == amount and len({c["player_id"] for c in mains}) == 3
    for c in d.credits(out):
        d.wallet(c)
    won = d.of(JACKPOT_WON)[-1].payload
    assert won["win_amount"] == amount and [w["rank"] for w in won["winners"]] == [1, 2, 3]

    e = solo({"integer_wins_only": True, "win_from": "10", "win_to": "10"}, selection={"winners": 3})
    players(e, ["a", "b"])
    out = e.run_to_drop(players=("a",))
    amounts = [c.payload["amount"] for c in e.credits(out)]
    # only two eligible players for three shares: the pool is split between them, whole units
    assert len(amounts) == 2 and sum(amounts) == e.st.wins[out.evaluations[0].win_id].amount
    assert all(a % UNIT == 0 for a in amounts) and abs(amounts[0] - amounts[1]) <= UNIT


def test_mode_3_segment_targeting_custom_weights_and_star_boost():
    d = solo(distribution_mode=3, player_segments=["VIP"],
             operator_rules={"custom_weights": {"ltv": "1"}, "star_boost": "3"})
    d.bet(0.01, "vip-1", segments=("VIP",), attributes={"ltv": 100})
    d.bet(0.01, "vip-2", segments=("VIP",), attributes={"ltv": 300})
    d.bet(0.01, "vip-star", segments=("VIP",), attributes={"ltv": 100}, star=True)
    d.bet(0.01, "regular", attributes={"ltv": 10_000})
    out = d.command("force_drop", level_id=SOLO, currency="EUR")
    sel = d.of(WINNER_SELECTED, out)[0].payload
    w = dict(sel["candidates"])
    assert "regular" not in w  # not in the targeted segment
    # 1 + ltv/avg(ltv): avg 500/3 -> 1.6, 2.8, 1.6 x 3 (star)
    assert w["vip-1"] * 28 == w["vip-2"] * 16 and w["vip-star"] == 3 * w["vip-1"]


def test_mode_4_is_behaviour_weight_times_operator_multiplier():
    cfg = dict(weight_factors={"bet_size": "1"}, operator_rules={"star_boost": "2"})
    d4 = solo(distribution_mode=4, **cfg)
    d2 = solo(distribution_mode=2, weight_factors={"bet_size": "1"})
    cands = [Candidate("a", "b", "g", "", (), False, (1, 0, 0, 0, 0, 0), (), 0),
             Candidate("b", "b", "g", "", (), True, (3, 0, 0, 0, 0, 0), (), 0)]
    w2 = mode_weights(d2.cj, cands, "weighted_random")
    w4 = mode_weights(d4.cj, cands, "weighted_random")
    # Mode 2: 1 + x/avg -> 1.5, 2.5 ; Mode 4: x 1, x 2 (star)
    assert w2[1] * 3 == w2[0] * 5 and w4[1] * 3 == w4[0] * 10


def test_mode_3_win_frequency_cap():
    d = solo({"win_from": "2", "win_to": "2", "seed_from": "1", "seed_to": "1"}, distribution_mode=3,
             operator_rules={"win_caps": [{"max_wins": 1, "period_hours": 24}]},
             selection={"method": "trigger_player"})
    out = d.run_to_drop(players=("lucky",))
    d.wallet(d.credits(out)[0])
    assert "lucky" in d.st.player_wins
    d.fill_to_target("lucky")
    _, out = d.bet(1, "lucky")
    assert out.evaluations[0].reason == "win_cap_reached"
    _, out = d.bet(1, "other")
    assert out.evaluations[0].outcome == "drop"
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert [p for p, _ in sel["candidates"]] == ["other"]  # the capped player is not in the snapshot


def test_mode_3_guaranteed_winner_rule_restricts_the_draw_once_due():
    d = solo(distribution_mode=3, selection={"method": "random_eligible"},
             operator_rules={"guaranteed_winners": [{"segment": "VIP", "period_hours": 1}]})
    d.bet(0.01, "a")
    out = d.command("force_drop", level_id=SOLO, currency="EUR")  # the first drop starts the period
    assert d.of(WINNER_SELECTED, out)[0].payload["rule"] == ""
    d.wallet(d.credits(out)[0])
    d.now += 30 * 60_000  # within the period: an ordinary draw
    for p in ("a", "b", "c", "d"):
        d.bet(0.01, p)
    d.bet(0.01, "vip", segments=("VIP",))
    out = d.command("force_drop", level_id=SOLO, currency="EUR")
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert sel["rule"] == "" and len(sel["candidates"]) == 5
    d.wallet(d.credits(out)[0])
    won_by_vip = sel["winners"][0][1] == "vip"
    d.now += 2 * 3_600_000  # the period has passed (counted from the last VIP win, or the first drop)
    for p in ("a", "b", "c", "d"):
        d.bet(0.01, p)
    d.bet(0.01, "vip", segments=("VIP",))
    out = d.command("force_drop", level_id=SOLO, currency="EUR")
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert not won_by_vip  # fixed seeds: the second draw went to a non-VIP, so the rule is now due
    assert sel["rule"] == "guaranteed_winner:VIP" and [p for p, _ in sel["candidates"]] == ["vip"]
    assert sel["winners"][0][1] == "vip"


def test_force_drop_goes_to_the_most_recently_active_player_when_nobody_is_active():
    d = solo({"min_bet": "5"})
    d.bet(0.01, "old")
    d.bet(0.01, "recent")
    d.now += 120_000
    d.tick()
    assert d.st.activity["EUR"] == {}
    out = d.command("force_drop", level_id=SOLO, currency="EUR")
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert sel["selection_method"] == "most_recent" and sel["winners"][0][1] == "recent"
    nobody = solo()
    out = nobody.command("force_drop", level_id=SOLO, currency="EUR")
    assert out.rejected and "no eligible player" in out.rejected


def test_compliance_profiles_reject_modes_factors_and_rules():
    ro = ROMANIA_ONJN.model_dump(mode="python")
    ok = make_jackpot(compliance_profile=ro, currencies=["RON"], distribution_mode=2,
                      weight_factors=MODE2_CONSERVATIVE_WEIGHTS)
    assert ok.distribution_mode == 2
    for kw, match in [
        (dict(distribution_mode=3), "allows distribution modes 1, 2; config uses mode 3"),
        (dict(distribution_mode=4), "config uses mode 4"),
        (dict(distribution_mode=2, weight_factors={"loyalty_tier": "0.1"}), "does not allow weight factors loyalty_tier"),
        (dict(distribution_mode=2, weight_factors={"bet_size": "0.3"}), "allows weight coefficients up to 0.15"),
        (dict(distribution_mode=2, operator_rules={"star_boost": "2"}), "operator-directed rules need distribution mode 3 or 4"),
    ]:
        with pytest.raises(ValidationError, match=match):
            make_jackpot(compliance_profile=ro, currencies=["RON"], **kw)
    with pytest.raises(ValidationError, match="weighted_random needs distribution mode 2"):
        make_jackpot(selection={"method": "weighted_random"})
    with pytest.raises(ValidationError, match="in mode 3 use operator_rules.custom_weights"):
        make_jackpot(distribution_mode=3, weight_factors={"bet_size": "0.3"})
    with pytest.raises(ValidationError, match="split shares must sum to exactly 100%"):
        make_jackpot(selection={"winners": 2, "split": ["0.5", "0.4"]})
    with pytest.raises(ValidationError, match="2 winners need 2 split shares"):
        make_jackpot(selection={"winners": 2, "split": ["1"]})
