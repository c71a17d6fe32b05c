"""Decommissioning (regulatory item 9): everything a jackpot holds goes to players by forced drops,
then it archives itself; nothing is stranded in a hidden reserve, and nothing is paid twice."""

from jackpot.engine.events import (
    DROP_DEFERRED,
    JACKPOT_STATE_CHANGED,
    POOL_ADJUSTED,
    RESERVE_RELEASED,
    WALLET_CREDIT_COMMAND,
)

from .flow import SOLO, UNIT, Driver, solo
from .helpers import lid, setup

HIDDEN = {"hidden_increment": {"enabled": True, "coefficient": "0.25"}}


def credits_of(out):
    return [c for c in out.commands if c.event_type == WALLET_CREDIT_COMMAND]


def pay_all(d: Driver, out) -> None:
    for c in credits_of(out):
        d.wallet(c)


def test_everything_held_is_paid_out_then_the_jackpot_archives_itself():
    d = solo(HIDDEN)
    for i in range(5):
        d.bet(1, f"p{i}")
    grand = d.pool()
    assert grand.hidden > 0 and not grand.armed_at
    held = {(p.level_id, p.currency): p.balance for p in d.st.iter_pools()}
    hidden = grand.hidden
    out = d.command("decommission", reason="retiring the product")
    assert not out.rejected and d.st.closing["reason"] == "retiring the product"
    eur = next(e for e in d.of(RESERVE_RELEASED, out) if e.payload["currency"] == "EUR")
    assert eur.payload["hidden"] == hidden
    assert eur.payload["amount"] == eur.payload["hidden"] + eur.payload["carry"] + eur.payload["pending"] > 0
    assert grand.locked and grand.lock_amount == held[(SOLO, "EUR")] and grand.meters.released == eur.payload["amount"]
    # the USD pool never took a bet: only the operator funded it and nobody is there to award it
    usd = d.pool(currency="USD")
    back = [e for e in d.of(POOL_ADJUSTED, out) if e.payload["currency"] == "USD"]
    assert back and back[0].payload["reason"] == "DECOMMISSION_RETURN" and back[0].payload["amount"] == -held[(SOLO, "USD")]
    assert usd.balance == 0 and usd.closed

    _, late = d.bet(1, "p1")
    assert late.events == [] and d.pool().lock_amount == held[(SOLO, "EUR")]  # no contribution while closing
    r, _ = d.bet(1, "p1")
    assert r.reason == "jackpot_not_accepting" and "decommissioned" in r.detail

    pay_all(d, out)
    assert grand.balance == 0 and grand.closed and d.st.status == "ACTIVE"  # released, not yet archived
    assert grand.meters.won == held[(SOLO, "EUR")]
    t = d.tick()
    assert d.st.status == "ARCHIVED"
    changed = d.of(JACKPOT_STATE_CHANGED, t)[-1].payload
    assert changed["new_state"] == "ARCHIVED" and changed["reason"] == "decommissioned: retiring the product"
    assert all(p.balance == 0 for p in d.st.iter_pools()) and not d.st.wins
    assert d.tick().events == []  # archived: nothing more happens


def test_a_jackpot_holding_money_is_not_simply_archived():
    d = solo()
    d.bet(1, "p1")
    out = d.command("archive", reason="done")
    assert out.rejected and "decommission the jackpot" in out.rejected and d.st.status == "ACTIVE"


def test_a_declined_decommission_win_is_dropped_again_until_the_money_is_paid():
    d = solo(payout={"large_win_threshold": "0.5"})  # every win needs approval
    d.bet(1, "p1")
    held = d.pool().balance
    d.command("decommission", reason="retire")
    win = next(iter(d.st.wins.values()))
    key = win.mains()[0].key
    out = d.command("decline_win", win_id=key, reason="KYC failed", actor="mgr")
    assert not out.rejected
    pool = d.pool()
    left = pool.balance
    assert left == held and not pool.locked  # back in the pool: no reseed, nothing lost
    t = d.tick()
    assert pool.locked and pool.lock_amount == held and d.st.status != "ARCHIVED"
    key = next(iter(d.st.wins.values())).mains()[0].key
    out = d.command("approve_win", win_id=key, actor="mgr")
    pay_all(d, out)
    d.tick()
    assert d.st.status == "ARCHIVED" and pool.meters.won == held
    assert len(d.credits()) == 1  # the declined prize was never sent; the approved one once
    assert d.credits(t) == [] and t.commands  # the new drop waits for approval again


def test_a_drop_running_when_decommissioning_begins_settles_without_reseed():
    d = solo()
    out = d.run_to_drop(("p1", "p2"))
    pool = d.pool()
    assert pool.locked
    first_cycle = pool.cycle
    d.bet(1, "p3")  # held in pending while the drop runs
    d.command("decommission", reason="retire")
    assert pool.pending > 0  # the held bet waits for the running drop to end
    pay_all(d, out)
    assert pool.cycle == first_cycle  # no new cycle: no new operator seed goes in
    t = d.tick()  # what was held (the pending bet, any remainder) drops next
    assert pool.locked and pool.lock_amount > 0
    pay_all(d, t)
    d.tick()
    assert d.st.status == "ARCHIVED" and pool.balance == 0 and pool.cycle == first_cycle


def test_faulted_and_repeated_decommissions_are_refused():
    d = solo()
    d.bet(1, "p1")
    d.command("fault", reason="meters", actor="system:reconciliation")
    out = d.command("decommission", reason="retire")
    assert out.rejected and "clear the fault" in out.rejected
    d.command("clear_fault", reason="checked", actor="mgr")
    assert not d.command("decommission", reason="retire").rejected
    again = d.command("decommission", reason="retire")
    assert again.rejected and "already being decommissioned" in again.rejected


def test_integer_only_and_paused_levels_pay_to_the_last_micro():
    d = solo({"integer_wins_only": True})
    d.bet(0.3333, "p1")
    d.command("pause", level_id=SOLO, reason="maintenance")
    d.bet(0.25, "p1")  # held while the level is paused
    pool = d.pool()
    held = pool.balance
    assert pool.pending > 0 and held % UNIT
    out = d.command("decommission", reason="retire")
    assert pool.lock_amount == held  # not floored to a whole unit: nothing may remain
    pay_all(d, out)
    d.tick()
    assert d.st.status == "ARCHIVED" and pool.meters.won == held


def test_an_expired_campaign_with_a_reserve_left_is_paid_out():
    cj, st = setup(type="TIMED", levels=[dict(level_id=lid("Solo"), name="Solo", display_order=1,
                                               contribution_split="1", seed_from="1", seed_to="1", win_from="10",
                                               win_to="12", win_max="20", **HIDDEN)],
                   contribution_rate="1", house_cut="0", schedule={"end_at": "2030-01-01T00:00:00Z"})
    d = Driver(cj, st)
    d.bet(1, "p1")
    d.command("expire", reason="campaign over")
    pool = d.pool()
    assert d.st.status == "EXPIRED" and pool.balance > 0
    out = d.command("decommission", reason="retire")
    assert not out.rejected and pool.locked
    pay_all(d, out)
    d.tick()
    assert d.st.status == "ARCHIVED" and pool.balance == 0
    assert [e for e in d.events if e.event_type == DROP_DEFERRED] == []


def test_a_paused_jackpot_is_decommissioned_with_what_it_held_during_the_pause():
    d = solo()
    d.bet(1, "p1")
    d.command("pause", reason="maintenance")
    d.bet(2, "p1")  # held in pending while paused
    pool = d.pool()
    held = pool.balance
    assert d.st.status == "PAUSED" and pool.pending > 0
    out = d.command("decommission", reason="retire")
    assert pool.locked and pool.lock_amount == held and d.st.status == "PAUSED"
    for c in d.credits(out):
        d.wallet(c)
    d.tick()
    assert d.st.status == "ARCHIVED" and pool.meters.won == held
