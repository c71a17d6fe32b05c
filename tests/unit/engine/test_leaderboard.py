"""Top contributors of the cycle, read from the active-player window."""

from jackpot.engine.leaderboard import Contributor, top_contributors

from .flow import UNIT, solo


def test_ranked_by_contribution_this_cycle_ties_to_who_got_there_first():
    d = solo()
    d.bet(2, "a")
    d.bet(1, "b")
    d.bet(1, "b")
    d.bet(3, "c")
    d.bet(1, "a")  # a ties c at 3 units, one bet later
    d.bet(1, "z", currency="USD")
    assert top_contributors(d.cj, d.st, d.now) == {
        "EUR": [Contributor("c", 1, 3 * UNIT), Contributor("a", 2, 3 * UNIT), Contributor("b", 2, 2 * UNIT)],
        "USD": [Contributor("z", 1, UNIT)],
    }
    assert [c.player_id for c in top_contributors(d.cj, d.st, d.now, limit=2)["EUR"]] == ["c", "a"]


def test_a_drop_starts_the_ranking_again_and_idle_players_leave_it():
    d = solo()
    out = d.run_to_drop(players=("a", "b"))
    for cmd in d.credits(out):
        d.wallet(cmd)
    assert d.pool().cycle == 2
    assert top_contributors(d.cj, d.st, d.now)["EUR"] == []  # contributions of cycle 1 do not count
    d.bet(1, "b")
    assert top_contributors(d.cj, d.st, d.now)["EUR"] == [Contributor("b", 1, UNIT)]
    d.tick(dt=60_001)
    assert top_contributors(d.cj, d.st, d.now)["EUR"] == []
