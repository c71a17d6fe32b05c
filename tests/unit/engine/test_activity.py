"""The active-player sliding window kept in the jackpot state."""

import json

from jackpot.engine import JackpotState
from jackpot.engine.activity import (
    AMOUNT,
    FLAGS,
    F_EXCLUDED,
    F_KYC,
    F_STAR,
    LAST,
    SEGMENTS,
    active_count,
    level_stats,
    most_recent,
)

from .flow import SOLO, UNIT, solo


def test_players_enter_the_window_in_order_and_leave_after_60s():
    d = solo()
    for p in ("a", "b", "c"):
        d.bet(1, p, dt=10_000)
    assert list(d.st.activity["EUR"]) == ["a", "b", "c"]
    d.bet(1, "a", dt=10_000)  # a bets again: moves to the newest end
    assert list(d.st.activity["EUR"]) == ["b", "c", "a"]
    assert active_count(d.cj, d.st, "EUR", d.now) == 3
    d.tick(dt=45_000)  # b last bet 65 s ago, c 55 s
    assert list(d.st.activity["EUR"]) == ["c", "a"]
    assert d.st.last_seen["EUR"][0] == "b"
    d.tick(dt=60_001)
    assert d.st.activity["EUR"] == {}
    assert d.st.last_seen["EUR"][0] == "a"  # the most recently active player is remembered


def test_window_length_is_configurable():
    d = solo(active_window_seconds=5)
    d.bet(1, "a")
    d.tick(dt=5_001)
    assert d.st.activity["EUR"] == {}


def test_record_holds_context_and_per_level_cycle_stats():
    d = solo()
    d.bet(2, "a", segments=("VIP", "high"), kyc_verified=True, star=True, jurisdiction="MT", loyalty_tier=3)
    d.bet(3, "a")
    rec = d.st.activity["EUR"]["a"]
    assert rec[AMOUNT] == 3 * UNIT and rec[LAST] == d.now
    assert rec[FLAGS] == 0 and rec[SEGMENTS] == []  # context is the latest bet's
    contributed, bets, last_qual = level_stats(rec, 0, d.pool().cycle)
    assert contributed == 5 * UNIT and bets == 2 and last_qual == d.now
    d.bet(1, "b", excluded=True, kyc_verified=True, star=True)
    assert d.st.activity["EUR"]["b"][FLAGS] == F_EXCLUDED | F_KYC | F_STAR
    # stats of another cycle read as zero
    assert level_stats(rec, 0, d.pool().cycle + 1)[:2] == (0, 0)


def test_only_applied_bets_make_a_player_active():
    d = solo()
    d.bet(1, "a", game="nope")  # not a participating game: discarded
    assert "a" not in d.st.activity.get("EUR", {})


def test_currencies_are_separate_windows():
    d = solo()
    d.bet(1, "a", currency="EUR")
    d.bet(1, "b", currency="USD")
    assert active_count(d.cj, d.st, "EUR", d.now) == 1
    assert active_count(d.cj, d.st, "USD", d.now) == 1
    assert [p for p, _ in most_recent(d.st, "EUR")] == ["a"]


def test_activity_serialises_exactly_and_compactly():
    d = solo()
    for i in range(200):
        d.bet(1, f"player-{i}", dt=100, segments=("VIP",), jurisdiction="MT")
    dd = d.st.to_dict()
    text = json.dumps(dd)
    back = JackpotState.from_dict(json.loads(text))
    assert back.to_dict() == dd and back == d.st
    assert len(json.dumps(dd["activity"])) < 200 * 110  # about 100 bytes per active player
    # the copy is deep: mutating the state does not change an earlier snapshot
    d.st.activity["EUR"]["player-0"][LAST] = -1
    d.st.activity["EUR"]["player-0"][SEGMENTS].append("x")
    assert dd["activity"]["EUR"]["player-0"][LAST] != -1 and dd["activity"]["EUR"]["player-0"][SEGMENTS] == ["VIP"]


def test_state_size_is_bounded_by_the_window():
    d = solo()
    for i in range(500):
        d.bet(1, f"p{i}", dt=1_000)
    assert len(d.st.activity["EUR"]) == 61  # bets 1 s apart, 60 s window
    assert d.pool(SOLO).cycle >= 1


def test_bet_context_from_a_flat_record():
    from jackpot.engine import BetContext

    ctx = BetContext.from_dict({"bet_id": "b", "player_id": "p", "game_id": "g1", "brand_id": "brand-1",
                                "currency": "EUR", "bet_amount": 2_000_000, "timestamp": 5, "segments": ["VIP"],
                                "loyalty_tier": 2, "kyc_verified": True, "jurisdiction": "MT", "session_spins": 7,
                                "vip_tier": None, "star": True, "attributes": {"ltv": 10}})
    assert ctx.bet.bet_amount == 2_000_000 and ctx.segments == ("VIP",) and ctx.session_spins == 7
    assert ctx.flags == F_KYC | F_STAR and ctx.attributes == {"ltv": 10}
