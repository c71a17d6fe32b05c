"""The router's player facts: profiles, sessions, spin counts, and replays that count nothing twice."""

import datetime as dt

import orjson

from hypothesis import given, settings
from hypothesis import strategies as st

from jackpot.streams import players as P


def bet(session="s1", ms=1_000):
    return {"session_id": session, "timestamp": dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)}


def enrich(player, b, partition, offset, received=None):
    """The router's call: the bet received at its own time unless told otherwise."""
    return P.enrich(player, b, partition, offset, P.ms(b["timestamp"]) if received is None else received)


def profile(ms, **kw):
    base = {"timestamp": ms, "brand_id": "b", "segments": ["vip"], "vip_tier": "gold", "loyalty_tier": 3,
            "kyc_verified": True, "jurisdiction": "MT", "excluded": False, "self_excluded": False}
    return {**base, **kw}


def test_unknown_player_gets_the_safe_defaults():
    facts = enrich(P.new_player(), bet(), 0, 10)
    assert facts["kyc_verified"] is False and facts["segments"] == [] and facts["loyalty_tier"] == 0
    assert facts["session_spins"] == 1 and facts["session_started_at"] == 1_000


def test_profile_facts_and_newest_profile_wins():
    p = P.new_player()
    assert P.apply_profile(p, profile(2_000, loyalty_tier=5))
    assert not P.apply_profile(p, profile(1_000, loyalty_tier=1))  # an older one arriving late
    facts = enrich(p, bet(), 0, 1)
    assert (facts["loyalty_tier"], facts["kyc_verified"], facts["segments"], facts["jurisdiction"]) == (
        5, True, ["vip"], "MT")


def test_spins_count_per_session_and_a_session_start_sets_its_start():
    p = P.new_player()
    P.start_session(p, "s1", 500)
    assert [enrich(p, bet("s1"), 0, off)["session_spins"] for off in (1, 2, 3)] == [1, 2, 3]
    facts = enrich(p, bet("s2", 9_000), 0, 4)
    assert (facts["session_spins"], facts["session_started_at"]) == (1, 9_000)
    assert enrich(p, bet("s1"), 0, 5)["session_started_at"] == 500


def test_a_replayed_bet_is_not_counted_again_and_is_answered_without_a_history():
    """A replay (at or below its mark) counts nothing and gets the current facts: its first
    requests were delivered before the value counting it was written (streams/players.py)."""
    p = P.new_player()
    [enrich(p, bet(), 3, off) for off in (10, 11, 12)]
    P.apply_profile(p, profile(5_000))  # facts changed after the first pass
    replay = [enrich(p, bet(), 3, off) for off in (10, 11, 12)]
    assert [f["session_spins"] for f in replay] == [3, 3, 3]
    assert replay[0]["loyalty_tier"] == 3
    assert enrich(p, bet(), 3, 13)["session_spins"] == 4


def test_a_value_written_with_a_replay_history_loses_it_at_its_next_bet():
    p = {**P.new_player(), "recent": [["0:1", {"session_spins": 1}]] * 32}
    enrich(p, bet(), 0, 2)
    assert "recent" not in p


def test_marks_are_per_bets_partition():
    p = P.new_player()
    enrich(p, bet(), 0, 100)
    assert enrich(p, bet(), 1, 5)["session_spins"] == 2  # a lower offset of another partition is new


def test_a_players_value_stays_small_whatever_the_history():
    p = P.new_player()
    for i in range(P.MAX_SESSIONS + 3):
        P.start_session(p, f"s{i}", i)
    for off in range(1000):
        enrich(p, bet("s9"), 0, off)
    assert len(p["sessions"]) <= P.MAX_SESSIONS
    assert len(orjson.dumps(p)) < 600


def test_session_end_is_idempotent_and_keeps_the_count():
    p = P.new_player()
    enrich(p, bet("s1"), 0, 1)
    P.end_session(p, "s1", 2_000)
    P.end_session(p, "s1", 3_000)
    assert p["sessions"]["s1"]["ended_at"] == 2_000
    assert enrich(p, bet("s1"), 0, 2)["session_spins"] == 2


def test_a_session_opened_by_a_bet_starts_when_the_bet_was_received_not_when_the_provider_says():
    facts = P.enrich(P.new_player(), bet("s1", ms=10**13), 0, 1, received=5_000)  # stamped centuries ahead
    assert facts["session_started_at"] == 5_000


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["start", "end", "bet"]), st.integers(0, 7), st.integers(0, 10_000)),
                max_size=60))
def test_any_order_of_session_events_and_bets_is_handled(steps):
    """Sessions start, end and bet in any order and at any times (providers reorder): no step
    raises, the kept sessions stay bounded, and every bet counts in its own session."""
    p = P.new_player()
    offset = 0
    for kind, s, at in steps:
        sid = f"s{s}"
        if kind == "start":
            P.start_session(p, sid, at)
        elif kind == "end":
            P.end_session(p, sid, at)
        else:
            offset += 1
            before = p["sessions"].get(sid, {}).get("spins", 0)
            facts = P.enrich(p, bet(sid, at), 0, offset, at)
            assert facts["session_spins"] == before + 1
        assert len(p["sessions"]) <= P.MAX_SESSIONS


def test_a_profile_stamped_in_the_future_does_not_pin_itself():
    p = P.new_player()
    assert P.apply_profile(p, profile(10**13, loyalty_tier=9), received=1_000)
    assert P.apply_profile(p, profile(2_000, loyalty_tier=2), received=2_000)  # later received, older stamp
    assert p["profile"]["loyalty_tier"] == 2
