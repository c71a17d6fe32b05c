"""engine/succession.py: a next_cycle change, handed to the engine as a command, takes effect at
the reseed that ends the cycles it waits for, and those new cycles are drawn under the new math
(before, the admin scheduler published it a moment after the reseed, so the new cycle's seed,
win range and first bets were under the old math)."""

import json

from jackpot.engine import compile_jackpot, succession
from jackpot.engine.config import Jackpot
from jackpot.engine.pool import JackpotState

from .flow import SOLO, UNIT, Driver, solo, solo_level
from .helpers import level, lid, make_jackpot, setup

A, B = lid("A"), lid("B")
COMMON = dict(seed_from="1", seed_to="1", win_from="10", win_to="12", win_max="20", max_contribution="1000",
              evaluation_delay_from=1, evaluation_delay_to=1)
TWO = [level("A", 1, "0.5", **COMMON), level("B", 2, "0.5", **COMMON)]


def _doc(levels, currencies=("EUR",)) -> str:
    return make_jackpot(levels=levels, contribution_rate="1", house_cut="0", currencies=list(currencies)).model_dump_json()


def _schedule(d: Driver, levels, waited, change_id="change-1", currencies=("EUR",)):
    out = d.command(succession.SCHEDULE, change_id=change_id, config_json=_doc(levels, currencies),
                    level_ids=tuple(waited))
    assert out.events[-1].payload["outcome"] == "applied", out.events[-1].payload
    return out


def _reseed(d: Driver, level_id: str, currency: str = "EUR"):
    """Force a drop of one pool and confirm its payout: the pool reseeds (or retires)."""
    d.bet(0.01, "p1", currency=currency)
    out = d.command("force_drop", level_id=level_id, currency=currency)
    for cmd in d.credits(out):
        d.wallet(cmd)


def _take(d: Driver):
    events = succession.take_if_due(d.st, d.cj, d.now)
    if events:
        d.cj = succession.taken(d.st)
    return events


def test_the_reseed_that_ends_the_cycle_draws_the_new_one_under_the_next_version():
    d = solo(currencies=["EUR"])
    raised = solo_level(seed_from="3", seed_to="3", win_from="20", win_to="22", win_max="30")
    _schedule(d, [raised], [SOLO])
    d.bet(1)
    assert _take(d) == [] and d.pool().ranges["win_from"] == 10 * UNIT  # the cycle runs on under the old math
    out = d.run_to_drop()
    assert _take(d) == []  # dropping: the cycle ends with the payout
    for cmd in d.credits(out):
        d.wallet(cmd)
    pool = d.pool()
    assert pool.cycle == 2 and pool.seed_draw == 3 * UNIT
    assert pool.ranges["win_from"] == 20 * UNIT and pool.ranges["win_to"] == 22 * UNIT
    [record] = _take(d)
    assert record.payload["command_id"] == "change-1" and record.payload["action"] == succession.TAKEN
    assert d.cj.level(SOLO).limits["EUR"].win_max == 30 * UNIT  # the jackpot runs under it now
    left = d.st.successor["left"]
    assert not succession.superseded(d.st, left) and succession.taken(d.st) is not None  # live: still the old one
    assert succession.superseded(d.st, d.cj.fingerprint) and d.st.successor == {}  # published: forgotten


def test_with_several_pools_waited_for_only_the_last_reseed_draws_under_the_next_version():
    """A pool that reseeds while another waited-for cycle still runs starts its next cycle under
    the running version, whole: its draws never meet the other version's limits."""
    cj, st = setup(levels=TWO, contribution_rate="1", house_cut="0", currencies=["EUR", "USD"])
    d = Driver(cj, st)
    raised = [dict(lv, seed_from="4", seed_to="4", win_from="30", win_to="32", win_max="40") for lv in TWO]
    _schedule(d, raised, [A, B], currencies=("EUR", "USD"))
    for level_id, currency in ((A, "EUR"), (B, "USD"), (A, "USD")):
        _reseed(d, level_id, currency)
        assert d.pool(level_id, currency).cycle == 2 and d.pool(level_id, currency).seed_draw == 1 * UNIT
        assert _take(d) == []  # B/EUR still runs its cycle
    _reseed(d, B, "EUR")
    assert d.pool(B, "EUR").seed_draw == 4 * UNIT and d.pool(B, "EUR").ranges["win_from"] == 30 * UNIT
    assert len(_take(d)) == 1 and d.cj.level(A).limits["EUR"].win_max == 40 * UNIT


def test_a_following_version_may_not_remove_a_level_or_a_currency():
    cj, st = setup(levels=TWO, contribution_rate="1", house_cut="0", currencies=["EUR", "USD"])
    d = Driver(cj, st)
    for levels, currencies, gone in (([dict(TWO[0], contribution_split="1")], ("EUR", "USD"), "level B"),
                                     (TWO, ("EUR",), "currency USD")):
        out = d.command(succession.SCHEDULE, change_id="c", config_json=_doc(levels, currencies), level_ids=(A, B))
        assert out.events[-1].payload["outcome"] == "rejected" and gone in out.events[-1].payload["detail"]
    assert d.st.successor == {}


def test_cancel_before_the_take_and_refusals():
    d = solo(currencies=["EUR"])
    _schedule(d, [solo_level(win_from="20", win_to="22", win_max="30")], [SOLO])
    assert JackpotState.from_dict(d.st.to_dict()).successor == d.st.successor  # persisted exactly
    out = d.command(succession.CANCEL, change_id="other")
    assert out.events[-1].payload["outcome"] == "rejected"
    out = d.command(succession.CANCEL, change_id="change-1")
    assert out.events[-1].payload["outcome"] == "applied" and d.st.successor == {}
    _reseed(d, SOLO)
    assert d.pool().ranges["win_from"] == 10 * UNIT and _take(d) == []  # withdrawn: the old math goes on

    _schedule(d, [solo_level(win_from="20", win_to="22", win_max="30")], [SOLO], change_id="change-2")
    _reseed(d, SOLO)
    assert len(_take(d)) == 1
    out = d.command(succession.CANCEL, change_id="change-2")  # too late: taken
    assert out.events[-1].payload["outcome"] == "rejected" and "in effect" in out.events[-1].payload["detail"]
    out = d.command(succession.SCHEDULE, change_id="change-3", config_json=_doc([solo_level()]), level_ids=(SOLO,))
    assert out.events[-1].payload["outcome"] == "rejected"  # one change at a time while one is taking effect
    out = d.command(succession.SCHEDULE, change_id="change-4", config_json='{"jackpot_id": "x"}', level_ids=(SOLO,))
    assert out.events[-1].payload["outcome"] == "rejected"


def test_a_closed_pool_is_not_waited_for_and_decommissioning_drops_a_pending_change():
    d = solo(currencies=["EUR"])
    _schedule(d, [solo_level(win_from="20", win_to="22", win_max="30")], [SOLO])
    d.pool().closed = True
    assert len(_take(d)) == 1
    d = solo(currencies=["EUR"])
    _schedule(d, [solo_level(win_from="20", win_to="22", win_max="30")], [SOLO])
    out = d.command("decommission", reason="end")
    assert out.events[-1].payload["outcome"] == "applied" and "pending change change-1 dropped" in \
        out.events[-1].payload["detail"]
    assert d.st.successor == {}


def test_the_following_version_compiles_to_the_fingerprint_of_the_same_config_published():
    d = solo(currencies=["EUR"])
    doc = _doc([solo_level(win_from="20", win_to="22", win_max="30")])
    d.command(succession.SCHEDULE, change_id="c-x", config_json=doc, level_ids=(SOLO,))
    published = compile_jackpot(Jackpot.model_validate(json.loads(doc)))
    assert succession.following(d.st).fingerprint == published.fingerprint == d.st.successor["fingerprint"]
    succession._compiled.clear()  # a restarted worker compiles it again from the state
    assert succession.following(JackpotState.from_dict(d.st.to_dict())).fingerprint == published.fingerprint


def test_a_change_to_one_currency_s_amounts_waits_for_that_pool_only():
    usd_only = [dict(lv, currency_amounts={"USD": {"seed_from": "2", "seed_to": "2", "win_from": "10", "win_to": "12",
                                                  "win_max": "20"}}) for lv in TWO]
    cj, st = setup(levels=usd_only, contribution_rate="1", house_cut="0", currencies=["EUR", "USD"])
    d = Driver(cj, st)
    raised = [dict(usd_only[0], currency_amounts={"USD": {"seed_from": "3", "seed_to": "3", "win_from": "10",
                                                          "win_to": "12", "win_max": "20"}}), usd_only[1]]
    _schedule(d, raised, [A], currencies=("EUR", "USD"))
    assert list(d.st.successor["cycles"]) == [f"{A}|USD"]  # A's EUR amounts and level B are unchanged
    _reseed(d, A, "USD")
    assert d.pool(A, "USD").seed_draw == 3 * UNIT and len(_take(d)) == 1
