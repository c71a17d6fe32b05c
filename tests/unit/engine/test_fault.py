"""The fault state (regulatory item 11): a reconciliation difference or a lost configuration stops
contributions and triggers until an operator, not the system, clears it after investigation."""

from .flow import SOLO, solo


def audit_outcome(out):
    return out.events[-1].payload["outcome"]


def test_a_fault_suspends_the_jackpot_and_holds_contributions():
    d = solo()
    d.bet(1, "p1")
    visible = d.pool().visible
    out = d.command("fault", actor="system:reconciliation", reason="ledger differs by 12 micros")
    assert audit_outcome(out) == "applied"
    assert d.st.status == "PAUSED" and d.st.fault["reason"] == "ledger differs by 12 micros"
    changed = [e for e in out.events if e.event_type == "JackpotStateChanged"]
    assert changed and changed[0].payload["new_state"] == "PAUSED"
    assert changed[0].payload["reason"].startswith("FAULT")  # players see it suspended, and why
    assert any(e.event_type == "JackpotFaulted" for e in out.events)  # the operator's alert
    r, _ = d.bet(5, "p1")
    assert r.outcome == "buffered" and d.pool().visible == visible  # held, never lost
    d.tick(60_000)
    assert d.st.status == "PAUSED"  # time alone never resumes it


def test_only_an_operator_clears_a_fault_and_a_plain_resume_is_refused():
    d = solo()
    d.command("fault", actor="system:reconciliation", reason="difference")
    d.bet(2, "p1")
    assert "clear the fault" in d.command("resume").rejected
    assert "operator" in d.command("clear_fault", actor="system:reconciliation", reason="auto").rejected
    assert d.command("clear_fault", reason="").rejected  # a reason is mandatory
    out = d.command("clear_fault", actor="ops-lead", reason="ledger replayed; difference explained")
    assert not out.rejected
    assert d.st.status == "ACTIVE" and not d.st.fault and d.pool().pending == 0  # held bets applied
    assert d.command("clear_fault", reason="again").rejected  # nothing to clear


def test_a_fault_on_an_operator_paused_jackpot_leaves_it_paused_when_cleared():
    d = solo()
    d.command("pause", reason="maintenance")
    d.command("fault", actor="system:reconciliation", reason="difference")
    assert d.st.status == "PAUSED"
    d.command("clear_fault", actor="ops-lead", reason="explained")
    assert d.st.status == "PAUSED" and not d.st.fault


def test_a_fault_during_a_drop_lets_the_payout_finish_then_suspends():
    d = solo()
    d.run_to_drop()
    assert d.st.status == "DROPPING"
    out = d.command("fault", actor="system:reconciliation", reason="difference")
    assert not out.rejected and d.st.status == "DROPPING"  # the winner is still paid
    credit = d.credits()[-1]
    d.wallet(credit)
    assert d.st.status == "PAUSED" and d.st.fault  # the reseeded jackpot does not resume
    assert not d.pool().locked


def test_a_second_fault_adds_nothing_but_its_audit_record():
    d = solo()
    d.command("fault", actor="system:reconciliation", reason="first")
    out = d.command("fault", actor="system:reconciliation", reason="second")
    assert out.rejected and "already" in out.rejected
    assert d.st.fault["reason"] == "first"


def test_the_fault_survives_a_state_round_trip():
    from jackpot.engine.pool import JackpotState

    d = solo()
    d.command("fault", actor="system:reconciliation", reason="difference")
    assert JackpotState.from_dict(d.st.to_dict()).fault == d.st.fault
    assert SOLO in d.st.level_status


def test_a_failed_self_check_faults_the_jackpot_once():
    """Regulatory item 11: the self-check after every batch (each pool's meters reconcile to the
    micro) faults a jackpot whose do not; a jackpot that passes, or is faulted already, is left alone."""
    from jackpot.engine.fault import SELF_CHECK, self_check

    d = solo()
    d.bet(1, "p1")
    assert self_check(d.cj, d.st, now=d.now) == [] and not d.st.fault
    d.pool().visible += 7  # a pool whose amount no meter explains
    events = self_check(d.cj, d.st, now=d.now)
    assert d.st.status == "PAUSED" and d.st.fault["actor"] == SELF_CHECK
    assert "gap -7 micros" in d.st.fault["reason"]
    assert [e.event_type for e in events][:1] == ["JackpotFaulted"]
    assert self_check(d.cj, d.st, now=d.now + 1) == []  # faulted already: one alert, not one per batch
