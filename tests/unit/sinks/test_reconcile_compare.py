"""Reconciliation of ledger sums with table states (pure comparison)."""

import copy

from jackpot.sinks.reconcile import compare, table_sums

from .scenario import SOLO, run


def ledger_from(sc) -> dict:
    """What the ledger tables would sum to for the scenario's ContributionApplied records."""
    out: dict = {}
    for rec in sc.ledger:
        j, c = rec["jackpot_id"], rec["currency"]
        for k, v in (("gross", rec["gross_amount"]), ("house_cut", rec["house_cut_amount"])):
            out[(j, "", c, k)] = out.get((j, "", c, k), 0) + int(v.scaleb(6))
        for lv in rec["levels"]:
            for k, f in (("net_contributions", "net_amount"), ("transfers_in", "transfer_in_amount")):
                key = (j, lv["level_id"], c, k)
                out[key] = out.get(key, 0) + int(lv[f].scaleb(6))
    return out


def test_ledger_equal_to_table_reconciles_to_zero():
    sc = run()
    res = compare(ledger_from(sc), {sc.jackpot_id: sc.driver.st})
    assert res.ok and res.status == "ok" and res.pools == 1
    events = res.events()
    assert [e["event_type"] for e in events] == ["ReconciliationCompleted"]


def test_a_missing_ledger_row_is_lag_then_a_mismatch_with_the_amounts():
    sc = run()
    ledger = ledger_from(sc)
    ledger[(sc.jackpot_id, SOLO, "EUR", "net_contributions")] -= 900_000
    res = compare(ledger, {sc.jackpot_id: sc.driver.st.to_dict()})
    assert res.status == "ledger_behind"
    [d] = res.differences
    assert (d.metric, d.difference) == ("net_contributions", -900_000)
    assert res.only_behind()
    # while it may be lag: reported, but no alert and no fault
    assert [e["payload"]["status"] for e in res.events()] == ["ledger_behind"]
    assert res.faulted() == []
    res.status = "mismatch"  # what reconcile_settled says once the settle time has passed
    ev = res.events()
    mismatch = [e for e in ev if e["event_type"] == "ReconciliationMismatch"][0]
    assert mismatch["payload"]["action"] == "fault"
    assert mismatch["payload"]["differences"][0]["ledger_amount"] + 900_000 == \
        mismatch["payload"]["differences"][0]["table_amount"]
    assert res.faulted() == [sc.jackpot_id]


def test_more_in_the_ledger_than_in_the_table_is_a_mismatch_at_once():
    sc = run()
    ledger = ledger_from(sc)
    ledger[(sc.jackpot_id, "", "EUR", "gross")] += 1
    assert compare(ledger, {sc.jackpot_id: sc.driver.st}).status == "mismatch"


def test_a_table_whose_meters_do_not_reconcile_is_a_mismatch():
    sc = run()
    st = copy.deepcopy(sc.driver.st)
    st.pools["EUR"][SOLO].visible += 1
    res = compare(ledger_from(sc), {sc.jackpot_id: {"state": st.to_dict()}})
    assert res.status == "mismatch" and [d.metric for d in res.differences] == ["meter_gap"]


def test_table_sums_include_events_meters_on_request():
    sc = run()
    sums, pools = table_sums({sc.jackpot_id: sc.driver.st}, include_events=True)
    assert sums[(sc.jackpot_id, SOLO, "EUR", "hits")] == 1 and pools == 1
