"""engine/succession.py: a next_cycle change, handed to the engine as a command, takes effect at
the reseed that ends the cycles it waits for, and those new cycles are drawn under the new math
(before, the admin scheduler published it a moment after the reseed, so the new cycle's seed,
win range and first bets were under the old math)."""

import json

from jackpot.engine import compile_jackpot, succession
from jackpot.engine.config import Jackpot
from jackpot.engine.pool import JackpotState
from jackpot.engine.reconfigure import adopt_config

from .flow import SOLO, UNIT, Driver, solo, solo_level
from .helpers import level, lid, make_jackpot, setup

A, B = lid("A"), lid("B")
COMMON = dict(seed_from="1", seed_to="1", win_from="10", win_to="12", win_max="20", max_contribution="1000",
              evaluation_delay_from=1, evaluation_delay_to=1)
TWO = [level("A", 1, "0.5", **COMMON), level("B", 2, "0.5", **COMMON)]


def _doc(levels, currencies=("EUR",)) -> str:
    return make_jackpot(levels=levels, contribution_rate="1", house_cut="0", currencies=list(currencies)).model_dump_json()


def _schedule(d: Driver, levels, waited, change_id="change-1", currencies=("EUR",)):
    d.base = d.cj
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
    """What the worker does after each input: run the pending change's amounts where they apply,
    take it when due (and adopt it, as any new version)."""
    if not succession.due(d.st):
        if d.st.successor and not d.st.successor["taken"]:
            d.cj = succession.running(d.base, d.st)
        return []
    succession.take(d.st, d.base.fingerprint)
    record = succession.take_record(d.st, d.base.jackpot_id, d.now)
    d.cj = d.base = succession.taken(d.st)
    events = adopt_config(d.cj, d.st, d.seeds, cause_id="config:taken", now=d.now)
    assert not [e for e in events if e.event_type == "JackpotFaulted"], events
    return [record]


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
    assert left != d.cj.fingerprint
    assert not succession.superseded(d.st, left) and succession.taken(d.st) is not None  # live: still the old one
    assert succession.superseded(d.st, d.cj.fingerprint) and d.st.successor == {}  # published: forgotten


def test_every_waited_pool_starts_its_next_cycle_under_the_next_version_and_runs_under_its_amounts():
    """Each waited pool's reseed draws under the new version, and that pool runs under the new
    amounts from then on; the last one takes the change. Lowered limits then never fault a pool
    (the first design drew early pools under the old version, and the take faulted the jackpot)."""
    cj, st = setup(levels=TWO, contribution_rate="1", house_cut="0", currencies=["EUR", "USD"])
    d = Driver(cj, st)
    lowered = [dict(lv, seed_from="2", seed_to="2", win_from="4", win_to="5", win_max="6") for lv in TWO]
    _schedule(d, lowered, [A, B], currencies=("EUR", "USD"))
    for level_id, currency in ((A, "EUR"), (B, "USD"), (A, "USD")):
        _reseed(d, level_id, currency)
        assert d.pool(level_id, currency).cycle == 2 and d.pool(level_id, currency).seed_draw == 2 * UNIT
        assert _take(d) == []  # B/EUR still runs its cycle, under the old amounts
        assert d.cj.level(level_id).limits[currency].win_max == 6 * UNIT
    assert d.cj.level(B).limits["EUR"].win_max == 20 * UNIT
    for _ in range(3):
        d.bet(1, "p2", currency="USD")  # a moved pool grows and drops within the new range
    assert d.pool(A, "USD").visible + d.pool(A, "USD").hidden <= 6 * UNIT
    _reseed(d, B, "EUR")
    assert d.pool(B, "EUR").seed_draw == 2 * UNIT and d.pool(B, "EUR").ranges["win_from"] == 4 * UNIT
    assert len(_take(d)) == 1 and d.cj.level(A).limits["EUR"].win_max == 6 * UNIT


def test_once_a_pool_began_a_cycle_under_it_the_change_can_be_neither_cancelled_nor_replaced():
    cj, st = setup(levels=TWO, contribution_rate="1", house_cut="0", currencies=["EUR"])
    d = Driver(cj, st)
    _schedule(d, [dict(lv, win_from="20", win_to="22", win_max="30") for lv in TWO], [A, B])
    _reseed(d, A)
    out = d.command(succession.CANCEL, change_id="change-1")
    assert out.events[-1].payload["outcome"] == "rejected" and "began a cycle" in out.events[-1].payload["detail"]
    out = d.command(succession.SCHEDULE, change_id="change-2", config_json=_doc(TWO), level_ids=(A, B))
    assert out.events[-1].payload["outcome"] == "rejected" and d.st.successor["change_id"] == "change-1"


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
