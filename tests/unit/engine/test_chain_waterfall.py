"""Chain Reaction (modes, amounts, fewer players than prizes) and the Waterfall cascade."""

import pytest
from pydantic import ValidationError

from jackpot.engine.events import CASCADE_SCHEDULED, CASCADE_SKIPPED, JACKPOT_WON, WINNER_SELECTED
from jackpot.engine.rng import derive_int

from .flow import SOLO, UNIT, Driver, solo
from .helpers import level, lid, setup


def chain(mode="random", count=3, amounts=("5", "3", "1"), **jk):
    return solo({"chain_reaction": {"enabled": True, "prize_count": count, "prize_amounts": list(amounts),
                                    "distribution_mode": mode}}, **jk)


def drop_and_confirm(d, winner="w"):
    out = d.run_to_drop(players=(winner,))
    win = d.st.wins[out.evaluations[0].win_id]
    out2 = d.wallet(d.credits(out)[0])
    return win, out, out2


def test_random_chain_prizes_graduated_to_other_players():
    d = chain()
    for p in ("a", "b", "c", "d", "e"):
        d.bet(0.01, p)
    win, out, confirmed = drop_and_confirm(d)
    prizes = [(c.rank, c.player_id, c.amount) for c in win.chains()]
    assert [r for r, _, _ in prizes] == [1, 2, 3] and [a for _, _, a in prizes] == [5 * UNIT, 3 * UNIT, UNIT]
    assert len({p for _, p, _ in prizes}) == 3 and "w" not in {p for _, p, _ in prizes}
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert [w[1] for w in sel["chain_winners"]] == [p for _, p, _ in prizes]
    # reproducible: chain draws come from the cycle seed with their own labels
    seed = bytes.fromhex(d.events[[e.event_type for e in d.events].index("CycleRevealed")].payload["seed"])
    for label, r, total, _ in sel["chain_draws"]:
        assert "/chain/" in label and derive_int(seed, label, 0, int(total) - 1) == int(r)
    won = d.of(JACKPOT_WON, confirmed)[0].payload
    assert [(w["rank"], w["player_id"], w["amount"]) for w in won["chain_reaction_winners"]] == prizes


def test_fewer_players_than_prizes_awards_what_is_available():
    d = chain(count=4, amounts=("5", "3", "1", "1"))
    d.bet(0.01, "only")
    win, _, confirmed = drop_and_confirm(d)
    assert [(c.rank, c.player_id, c.amount) for c in win.chains()] == [(1, "only", 5 * UNIT)]
    assert len(d.credits(confirmed)) == 1
    lonely = chain()
    win, _, _ = drop_and_confirm(lonely)
    assert win.chains() == []


def test_proximity_goes_to_the_top_contributors_by_rank():
    d = chain("proximity", distribution_mode=2, weight_factors={"bet_size": "0.1"},
              selection={"method": "trigger_player"})
    for p, amount in (("small", 0.01), ("big", 3), ("mid", 1), ("tiny", 0.001), ("second", 2)):
        d.bet(amount, p, self_excluded=False)
    win, _, _ = drop_and_confirm(d)
    assert [c.player_id for c in win.chains()] == ["big", "second", "mid"]


def test_weighted_chain_favours_contributors():
    counts = {"big": 0, "small": 0}
    for m in range(40):
        cj, st = setup(master=bytes([m + 7]) * 8, contribution_rate="1", house_cut="0", distribution_mode=2,
                       weight_factors={"bet_size": "0.1"}, selection={"method": "trigger_player"},
                       levels=[level("Solo", 1, "1", seed_from="1", seed_to="1", win_from="10", win_to="12",
                                     win_max="20", max_contribution="1000", evaluation_delay_to=1,
                                     chain_reaction={"enabled": True, "prize_count": 1, "prize_amounts": ["1"],
                                                     "distribution_mode": "weighted"})])
        d = Driver(cj, st)
        d.bet(4, "big")
        d.bet(0.01, "small")
        win, out, _ = drop_and_confirm(d)
        counts[win.chains()[0].player_id] += 1
        logged = dict(d.of(WINNER_SELECTED, out)[0].payload["chain_candidates"])
        # weights 1 + contributed / average (2.005): 6.005 / 2.005 and 2.015 / 2.005, to 1e-9
        assert abs(logged["big"] - 6_005 * 10**9 // 2_005) <= 1 and abs(logged["small"] - 2_015 * 10**9 // 2_005) <= 1
    # P(big) = 2.995 / 4 = 0.75: 30 expected out of 40 (sd 2.7)
    assert 24 <= counts["big"] <= 36


def test_targeted_chain_pays_only_the_target_segments():
    with pytest.raises(ValidationError, match="targeted chain reaction needs target_segments"):
        chain("targeted", distribution_mode=3)
    d2 = solo({"chain_reaction": {"enabled": True, "prize_count": 2, "prize_amounts": ["1", "1"],
                                  "distribution_mode": "targeted", "target_segments": ["VIP"]}}, distribution_mode=3)
    for p in ("a", "b"):
        d2.bet(0.01, p)
    d2.bet(0.01, "vip", segments=("VIP",))
    win, _, _ = drop_and_confirm(d2)
    assert [c.player_id for c in win.chains()] == ["vip"]
    assert d2.cj.level(SOLO).chain_mode == "targeted"


def test_chain_prizes_are_not_paid_when_the_main_prize_is_returned():
    d = chain(payout={"large_win_threshold": "1", "on_decline": "return_to_pool"})
    for p in ("a", "b"):
        d.bet(0.01, p)
    out = d.run_to_drop(players=("w",))
    win = d.st.wins[out.evaluations[0].win_id]
    d.command("decline_win", win_id=win.win_id, reason="fraud")
    assert [c.status for c in win.chains()] == ["voided", "voided"]
    assert [c for c in d.commands if c.event_type == "WalletCreditCommand"] == []


# --------------------------------------------------------------------------- waterfall


def four_levels(**wf):
    w = {"enabled": True, "cascade_delay_seconds": 0, "cascade_scope": "full", "winner_mode": "independent"}
    w.update(wf)
    mk = lambda name, order: level(name, order, "0.25", seed_from="1", seed_to="1", win_from="10", win_to="10",  # noqa: E731
                                   win_max="40", max_contribution="1000", evaluation_delay_to=1,
                                   waterfall=w if order == 1 else {"enabled": False})
    cj, st = setup(levels=[mk("Grand", 1), mk("Major", 2), mk("Minor", 3), mk("Mini", 4)],
                   contribution_rate="1", house_cut="0")
    return Driver(cj, st)


NAMES = ["Grand", "Major", "Minor", "Mini"]


def test_full_simultaneous_cascade_with_independent_winners():
    d = four_levels()
    for p in ("a", "b", "c", "d", "e"):
        d.bet(0.01, p)
    out = d.command("force_drop", level_id=lid("Grand"), currency="EUR")
    wins = list(d.st.wins.values())
    assert [w.level_id for w in wins] == [lid(n) for n in NAMES]
    assert [w.kind for w in wins] == ["force", "cascade", "cascade", "cascade"]
    assert all(w.origin == wins[0].win_id for w in wins[1:])
    winners = [w.mains()[0].player_id for w in wins]
    assert len(set(winners)) == 4  # independent: a different winner per level
    assert len(d.of(CASCADE_SCHEDULED, out)) == 3
    for c in list(d.credits(out)):
        d.wallet(c)
    assert all(d.pool(lid(n)).cycle == 2 for n in NAMES) and d.st.status == "ACTIVE"


def test_same_winner_mode_and_partial_scope():
    d = four_levels(winner_mode="same", cascade_scope="partial")
    for p in ("a", "b", "c"):
        d.bet(0.01, p)
    d.command("force_drop", level_id=lid("Grand"), currency="EUR")
    wins = list(d.st.wins.values())
    assert [w.level_id for w in wins] == [lid("Grand"), lid("Major")]  # Grand triggers Major only
    assert wins[0].mains()[0].player_id == wins[1].mains()[0].player_id
    assert wins[1].method == "same_winner"


def test_cascade_delay_runs_from_the_clock_and_skips_levels_that_cannot_drop():
    d = four_levels(cascade_delay_seconds=3)
    for p in ("a", "b", "c", "d", "e"):
        d.bet(0.01, p)
    d.command("no_win_on", level_id=lid("Minor"))
    d.command("force_drop", level_id=lid("Grand"), currency="EUR")
    assert len(d.st.wins) == 1 and [e[0] - d.now for e in d.st.cascades] == [3000, 6000, 9000]
    d.tick(dt=2_999)
    assert len(d.st.wins) == 1
    d.tick(dt=1)
    assert [w.level_id for w in d.st.wins.values()] == [lid("Grand"), lid("Major")]
    out = d.tick(dt=3_000)
    skipped = d.of(CASCADE_SKIPPED, out)
    assert skipped[0].payload["level_id"] == lid("Minor") and "NO_WIN" in skipped[0].payload["reason"]
    d.tick(dt=3_000)
    assert [w.level_id for w in d.st.wins.values()] == [lid("Grand"), lid("Major"), lid("Mini")]
    assert d.st.cascades == []
    winners = [w.mains()[0].player_id for w in d.st.wins.values()]
    assert len(set(winners)) == 3


def test_cascades_wait_while_the_jackpot_is_paused():
    d = four_levels(cascade_delay_seconds=5, cascade_scope="partial")
    d.bet(0.01, "a")
    d.bet(0.01, "b")
    out = d.command("force_drop", level_id=lid("Grand"), currency="EUR")
    d.wallet(d.credits(out)[0])  # Grand settles: ACTIVE again
    d.command("pause")
    d.tick(dt=10_000)
    assert d.st.cascades and len(d.st.wins) == 0
    d.command("resume")
    d.bet(0.01, "a")
    d.tick()
    assert [w.level_id for w in d.st.wins.values()] == [lid("Major")]
