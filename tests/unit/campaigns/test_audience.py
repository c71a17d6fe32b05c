"""What the stages keep besides the rules: the active audience, contribution velocity, and the
player's profile as campaigns read it (consent, opt-out, exclusion)."""

from __future__ import annotations

from jackpot.campaigns.audience import Audience, Velocity, member_of
from jackpot.campaigns.rules import Channel

W = 60_000


def test_the_audience_is_the_players_with_a_contribution_in_the_window():
    a = Audience()
    a.seen("p1", "b", 1_000)
    a.seen("p2", "b", 50_000)
    a.seen("p1", "b", 500)  # read late: the newer time stays
    assert [m.player_id for m in a.active(60_500, W)] == ["p1", "p2"]
    assert [m.player_id for m in a.active(100_000, W)] == ["p2"]
    assert all(not m.known for m in a.active(60_500, W))  # the player stage checks their profiles
    a.prune(200_000, W)
    assert a.players == {}
    assert Audience.from_json(Audience({"p": (5, "b")}).to_json()).players == {"p": (5, "b")}


def test_velocity_closes_each_window_against_the_one_before():
    v = Velocity()
    assert v.count(0, W) == [] and v.count(10, W) == []
    assert v.count(W + 1, W) == [(W, None, 2)]
    assert v.count(W + 2, W, n=3) == []
    assert v.count(3 * W + 5, W) == [(2 * W, 2, 4), (3 * W, 4, 0)]  # an empty window in between
    assert v.count(W, W) == []  # a contribution of a closed window, read late: not counted
    assert Velocity.from_json(v.to_json()) == v


def test_a_profile_opts_out_on_refusal_or_exclusion_and_consents_per_channel():
    base = {"player_id": "p", "brand_id": "b", "segments": ["vip"], "consent": ["push", "sms", "carrier-pigeon"]}
    m = member_of(base)
    assert (m.brand, m.segments, m.opted_out, m.consent) == ("b", frozenset({"vip"}), False,
                                                             frozenset({Channel.PUSH, Channel.SMS}))
    for flag in ("marketing_opt_out", "excluded", "self_excluded"):
        assert member_of(base | {flag: True}).opted_out
    assert member_of({"player_id": "p"}).consent == frozenset()  # a v2 profile: no consent given
