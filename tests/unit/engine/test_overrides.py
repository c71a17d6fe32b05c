"""Operator overrides as engine commands: effects, audit records, refusals that change nothing."""

import pytest

from jackpot.engine import OperatorCommand, compile_jackpot, handle_command, new_jackpot_state
from jackpot.engine.catalog import CURACAO
from jackpot.engine.events import CYCLE_REVEALED, OPERATOR_ACTION, POOL_ADJUSTED, WINNER_SELECTED
from jackpot.engine.rng import derive_int, master_seed_source

from .flow import SOLO, UNIT, solo
from .helpers import MASTER, lid, make_jackpot


def audit(out):
    rec = [e for e in out.events if e.event_type == OPERATOR_ACTION]
    assert len(rec) == 1 and out.events[-1] is rec[0]
    return rec[0].payload


def test_every_command_leaves_an_audit_record_with_actor_and_reason():
    d = solo()
    d.bet(0.5, "p1")
    out = d.command("delay_drop", actor="mgr-7", reason="peak hours", delay_seconds=600, level_id=SOLO,
                    approvals=("mgr-8",))
    a = audit(out)
    assert (a["action"], a["actor"], a["reason"], a["approvals"], a["outcome"]) == (
        "delay_drop", "mgr-7", "peak hours", ["mgr-8"], "applied")
    assert a["delay_seconds"] == 600 and d.pool().snooze_until == d.now + 600_000
    assert d.pool(currency="USD").snooze_until == d.now + 600_000  # no currency: every pool of the level


@pytest.mark.parametrize(
    "action, kw, match",
    [
        ("force_drop", {"level_id": SOLO, "currency": "EUR", "reason": ""}, "needs a reason"),
        ("force_drop", {"currency": "EUR"}, "needs a level"),
        ("delay_drop", {"level_id": SOLO, "delay_seconds": 0}, "positive delay_seconds"),
        ("cancel_drop", {"level_id": "nope"}, "has no level nope"),
        ("manual_adjust", {"level_id": SOLO, "currency": "EUR", "amount": -10 * UNIT}, "below its reset amount"),
        ("manual_adjust", {"level_id": SOLO, "currency": "EUR", "amount": 5, "adjustment_reason": "X"}, "unknown reason code"),
        ("void_win", {"win_id": "w", "approvals": ("sup",)}, "no win in progress"),
        ("approve_win", {"win_id": "w"}, "no prize awaiting approval"),
        ("resume", {"reason": ""}, "only a PAUSED jackpot"),
        ("launch_rocket", {}, "unknown action"),
        ("force_drop", {"level_id": SOLO, "currency": "GBP"}, "currency GBP is not supported"),
    ],
)
def test_refused_commands_change_nothing(action, kw, match):
    d = solo()
    d.bet(0.5, "p1")
    before = d.st.to_dict()
    out = d.command(action, **kw)
    assert out.rejected and match in out.rejected, out.rejected
    a = audit(out)
    assert a["outcome"] == "rejected" and match in a["detail"]
    assert d.st.to_dict() == before and len(out.events) == 1 and out.commands == []


def test_a_command_failing_half_way_is_rolled_back():
    from .flow import Driver
    from .helpers import classic_levels, setup

    cj, st = setup(levels=classic_levels())
    d = Driver(cj, st)
    d.bet(0.5, "p1")
    d.command("force_drop", level_id=lid("Mini"), currency="EUR")  # Mini has a drop in progress
    before = d.st.to_dict()
    out = d.command("no_win_on", reason="migration")  # Grand, Major, Minor change, then Mini refuses
    assert out.rejected and "has a drop in progress" in out.rejected
    assert d.st.to_dict() == before and set(d.st.level_status.values()) == {"ENABLED"}


def test_force_drop_awards_the_current_pool_and_lifts_a_snooze():
    d = solo()
    d.bet(3, "p1")
    d.command("delay_drop", level_id=SOLO, delay_seconds=3600)
    amount = d.pool().visible
    out = d.command("force_drop", level_id=SOLO, currency="EUR", reason="3am reset")
    assert not out.rejected and d.pool().locked and d.pool().lock_amount == amount
    assert d.pool().snooze_until == 0
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert sel["drop_kind"] == "force" and sel["win_amount"] == amount
    win = next(iter(d.st.wins.values()))
    assert win.actor == "op-1" and win.cause == out.events[-1].payload["command_id"]
    # all currencies: USD has nobody to award, EUR already dropping -> refused as a whole
    out = d.command("force_drop", level_id=SOLO, reason="again")
    assert out.rejected and "already in progress" in out.rejected and "USD" in out.rejected


def test_cancel_drop_draws_a_new_target_from_the_cycle_seed():
    d = solo({"win_from": "10", "win_to": "30", "win_max": "40", "evaluation_delay_from": 5, "evaluation_delay_to": 9})
    p = d.pool()
    old_target, old_delay = p.win_target, p.eval_delay
    d.fill_to_target()
    cur = p.current_amount
    out = d.command("cancel_drop", level_id=SOLO, currency="EUR", reason="too early")
    assert not out.rejected and p.armed_at == 0
    assert cur < p.win_target <= 30 * UNIT and 5 <= p.eval_delay <= 9
    assert p.retargets == [[cur + 1, 30 * UNIT, old_target, old_delay]]
    assert str(p.win_target) not in str(out.events)  # the new target stays secret
    # the auditor re-derives the redraw from the revealed seed
    new_target = p.win_target
    d.bet(0.5, "p2")
    d.wallet(d.credits(d.command("force_drop", level_id=SOLO, currency="EUR"))[0])
    rev = d.of(CYCLE_REVEALED)[0].payload
    label = f"{d.cj.jackpot_id}/{SOLO}/EUR/1/retarget/0"
    assert derive_int(bytes.fromhex(rev["seed"]), label, cur + 1, 30 * UNIT) == new_target == rev["final_win_target"]
    assert rev["win_target"] == old_target and rev["retargets"][0][:2] == [cur + 1, 30 * UNIT]


def test_cancel_drop_above_win_to_draws_up_to_win_max():
    d = solo({"win_from": "10", "win_to": "10", "win_max": "40"})
    d.bet(15, "x", self_excluded=True)
    d.command("cancel_drop", level_id=SOLO, currency="EUR")
    assert 16 * UNIT <= d.pool().win_target <= 40 * UNIT


def test_pause_resume_and_no_win_for_the_jackpot_or_a_level():
    d = solo()
    d.command("pause")
    assert d.st.status == "PAUSED"
    r, _ = d.bet(1)
    assert r.outcome == "buffered"
    d.command("resume")
    assert d.st.status == "ACTIVE" and d.pool().pending == 0
    d.command("pause", level_id=SOLO)
    assert d.st.level_status[SOLO] == "PAUSED"
    d.command("resume", level_id=SOLO)
    d.command("no_win_on", level_id=SOLO, reason="migration")
    assert d.st.level_status[SOLO] == "NO_WIN"
    assert d.command("no_win_on", reason="x").rejected  # no ENABLED level left
    d.command("no_win_off", reason="done")
    assert d.st.level_status[SOLO] == "ENABLED"


def test_manual_adjust_pre_seed_and_transfer():
    d = solo()
    out = d.command("manual_adjust", level_id=SOLO, currency="EUR", amount=2 * UNIT, reason="launch boost",
                    adjustment_reason="PRE_SEED")
    assert d.of(POOL_ADJUSTED, out)[0].payload["reason"] == "PRE_SEED" and d.pool().seed_amount == 3 * UNIT
    out = d.command("manual_adjust", level_id=SOLO, currency="EUR", amount=UNIT, reason="goodwill")
    assert d.of(POOL_ADJUSTED, out)[0].payload["reason"] == "OPERATOR_FUNDING"
    from .helpers import classic_levels, setup
    from .flow import Driver

    cj, st = setup(levels=classic_levels())
    d2 = Driver(cj, st)
    out = d2.command("transfer", level_id=lid("Grand"), target_level_id=lid("Mini"), currency="EUR", amount=1,
                     reason="x")
    assert out.rejected and "below its reset amount" in out.rejected


def test_prohibited_actions_are_refused():
    prof = CURACAO.model_dump(mode="python") | {"prohibited_actions": ["force_drop", "void_win", "delay_drop",
                                                                       "cancel_drop", "manual_adjust"]}
    d = solo(compliance_profile=prof)
    d.bet(1)
    for action, kw in [("force_drop", {"level_id": SOLO}), ("delay_drop", {"delay_seconds": 5}),
                       ("cancel_drop", {"level_id": SOLO}), ("void_win", {"win_id": "x"}),
                       ("manual_adjust", {"level_id": SOLO, "currency": "EUR", "amount": 1})]:
        out = d.command(action, **kw)
        assert out.rejected and "prohibits" in out.rejected, action


def test_lifecycle_commands():
    cj = compile_jackpot(make_jackpot())
    st = new_jackpot_state(cj)
    out = handle_command(cj, st, OperatorCommand("c1", "activate", "admin"), 5, master_seed_source(MASTER))
    assert not out.rejected and st.status == "ACTIVE"
    out = handle_command(cj, st, OperatorCommand("c2", "expire", "admin", reason="end"), 6)
    assert out.rejected and "only TIMED or PROMOTIONAL" in out.rejected
    out = handle_command(cj, st, OperatorCommand("c3", "archive", "admin", reason="retired"), 7)
    assert out.rejected and "decommission the jackpot" in out.rejected  # the pools hold their seeds
    out = handle_command(cj, st, OperatorCommand("c4", "decommission", "admin", reason="retired"), 8)
    assert not out.rejected and st.status == "ARCHIVED"  # nobody ever played: the seeds return to the operator


def test_command_from_an_avro_record():
    cmd = OperatorCommand.from_dict({"event_id": "e-1", "action": "delay_drop", "actor": "a", "reason": None,
                                     "approvals": ["b"], "delay_seconds": 60, "level_id": None})
    assert cmd.command_id == "e-1" and cmd.approvals == ("b",) and cmd.reason == ""
