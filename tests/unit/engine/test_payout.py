"""The 10-step payout flow: lock, record, approval, tax, credit, confirm/retry, chain, JackpotWon,
reseed, JackpotReseeded; failed-win handling."""

from jackpot.engine.events import (
    CREDIT_UPDATED,
    CYCLE_REVEALED,
    CYCLE_STARTED,
    DROP_ABORTED,
    DROP_STARTED,
    JACKPOT_RESEEDED,
    JACKPOT_STATE_CHANGED,
    JACKPOT_WON,
    PAYOUT_ALERT,
    POOL_UPDATED,
    WALLET_CREDIT_COMMAND,
    WIN_APPROVAL_DECIDED,
    WIN_APPROVAL_ESCALATED,
    WIN_APPROVAL_REQUESTED,
    WIN_RECORDED,
    WIN_VOIDED,
    WINNER_SELECTED,
)
from jackpot.engine.payout import backoff_ms
from jackpot.engine.tax import withholding

from .flow import SOLO, UNIT, solo

HOUR = 3_600_000


def dropped(d, players=("p1",), **kw):
    out = d.run_to_drop(players=players, **kw)
    win = d.st.wins[out.evaluations[0].win_id]
    return out, win


def test_the_ten_steps_in_order():
    d = solo({"chain_reaction": {"enabled": True, "prize_count": 2, "prize_amounts": ["5", "2"]}},
             payout={"wagering_requirement": 3})
    for p in ("c1", "c2", "c3"):
        d.bet(0.01, p)
    out, win = dropped(d)
    pool = d.pool()
    # 1 lock: DROPPING, contributions queue
    assert d.types(out)[-4:] == [JACKPOT_STATE_CHANGED, DROP_STARTED, WINNER_SELECTED, CREDIT_UPDATED]
    assert d.st.status == "DROPPING" and pool.locked and pool.lock_amount == win.amount
    d.bet(2, "c1")
    assert pool.pending == 2 * UNIT and pool.visible == win.amount
    # 2 record: winner + chain recipients chosen at the drop; 5 credit command for the main prize only
    [cmd] = d.credits(out)
    p = cmd.payload
    assert p["player_id"] == "p1" and p["amount"] == win.amount and p["net_amount"] == win.amount
    assert p["tax_amount"] == 0 and p["wagering_requirement"] == 3 and p["attempt"] == 1 and p["kind"] == "main"
    assert p["win_event_id"] == win.win_id and p["currency"] == "EUR" and p["brand_id"] == "brand-1"
    assert [c.status for c in win.chains()] == ["held", "held"] and len({c.player_id for c in win.chains()}) == 2
    assert "p1" not in {c.player_id for c in win.chains()}
    # 6 confirm -> 7 chain credits -> 8 JackpotWon -> 9 reseed, queue applied -> 10 JackpotReseeded
    out = d.wallet(cmd)
    t = d.types(out)
    chain_sent = [i for i, e in enumerate(out.events)
                  if e.event_type == CREDIT_UPDATED and e.payload["kind"] == "chain_reaction" and e.payload["status"] == "sent"]
    assert len(chain_sent) == 2 and max(chain_sent) < t.index(JACKPOT_WON)  # step 7 before step 8
    assert [c.payload["kind"] for c in d.credits(out)] == ["chain_reaction", "chain_reaction"]
    assert [c.payload["amount"] for c in d.credits(out)] == [5 * UNIT, 2 * UNIT]
    order = [x for x in t if x in (WIN_RECORDED, CYCLE_REVEALED, JACKPOT_WON, CYCLE_STARTED, JACKPOT_RESEEDED)]
    assert order == [WIN_RECORDED, CYCLE_REVEALED, JACKPOT_WON, CYCLE_STARTED, JACKPOT_RESEEDED]
    assert t[-1] == JACKPOT_STATE_CHANGED and d.st.status == "ACTIVE"
    won = d.of(JACKPOT_WON, out)[0].payload
    assert won["winner_player_id"] == "p1" and won["win_amount"] == win.amount
    assert [w["rank"] for w in won["chain_reaction_winners"]] == [1, 2]
    assert won["trigger_bet_id"] == win.trigger[0] and won["selection_method"] == "trigger_player"
    assert pool.cycle == 2 and pool.pending == 0 and pool.visible == pool.seed_amount + 2 * UNIT
    assert pool.meters.won == win.amount and pool.hits[-1].player_id == "p1"
    assert win.win_id in d.st.wins  # chain prizes outstanding
    for c in d.credits(out):
        d.wallet(c)
    assert d.st.wins == {}


def test_a_win_is_credited_once_whatever_the_wallet_repeats():
    d = solo()
    out, win = dropped(d)
    [cmd] = d.credits(out)
    d.wallet(cmd)
    won = pool_won = d.pool().meters.won
    for status in ("confirmed", "failed", "escrow"):
        again = d.wallet(cmd, status)
        assert again.ignored and again.events == [] and again.commands == []
    assert d.pool().meters.won == pool_won == won and len(d.of(JACKPOT_WON)) == 1


def test_retry_with_exponential_backoff_then_manual_resolution():
    d = solo(payout={"wallet_max_attempts": 4, "wallet_retry_base_ms": 1000, "wallet_retry_max_ms": 3000})
    out, win = dropped(d)
    key = d.credits(out)[0].payload["idempotency_key"]
    waits = []
    for attempt in (1, 2, 3):
        cmd = d.credits()[-1]
        assert cmd.payload["attempt"] == attempt and cmd.payload["idempotency_key"] == key
        failed_at = d.now + 100
        d.wallet(cmd, "failed", retryable=True, error="timeout")
        c = win.credits[0]
        assert c.status == "retry_wait" and c.note == "timeout"
        waits.append(c.next_at - failed_at)
        assert not d.credits(d.tick(dt=c.next_at - d.now - 1))  # not yet
        resent = d.credits(d.tick(dt=1))
        assert len(resent) == 1 and resent[0].payload["attempt"] == attempt + 1
    assert waits == [1000, 2000, 3000] == [backoff_ms(d.cj, n) for n in (1, 2, 3)]
    out = d.wallet(d.credits()[-1], "failed", retryable=True, error="timeout")  # 4th attempt: the last
    assert win.credits[0].status == "manual"
    alert = d.of(PAYOUT_ALERT, out)[0].payload
    assert alert["state"] == "PENDING_MANUAL_RESOLUTION" and alert["attempts"] == 4
    change = d.of(JACKPOT_STATE_CHANGED, out)[0].payload
    assert change["new_state"] == "PENDING_MANUAL_RESOLUTION" and change["level_id"] == SOLO
    assert d.pool().locked and d.st.status == "DROPPING"  # no reseed until paid
    assert not d.credits(d.tick(dt=HOUR))
    # operator: retry once more, the wallet confirms
    out = d.command("retry_payout", win_id=win.win_id)
    assert d.credits(out)[0].payload["attempt"] == 5 and d.credits(out)[0].payload["idempotency_key"] == key
    d.wallet(d.credits(out)[0])
    assert d.pool().cycle == 2 and d.st.status == "ACTIVE"


def test_non_retryable_failure_and_stale_answers():
    d = solo()
    out, win = dropped(d)
    cmd = d.credits(out)[0]
    d.wallet(cmd, "failed", retryable=True)
    d.tick(dt=1_000)
    cmd2 = d.credits()[-1]
    stale = d.wallet(cmd, "failed", attempt=1)  # a late answer to attempt 1
    assert stale.ignored and "stale" in stale.ignored
    d.wallet(cmd2, "failed", retryable=False, error="account closed")
    assert win.credits[0].status == "manual" and win.credits[0].note == "account closed"
    # a late confirmation of an earlier attempt still counts: the wallet credits a key once
    d.wallet(cmd, "confirmed")
    assert d.pool().cycle == 2
    assert d.of(JACKPOT_STATE_CHANGED)[-2].payload["new_state"] == "DROPPING"  # left manual resolution


def test_alternative_payout_resolves_a_manual_prize():
    d = solo()
    out, win = dropped(d)
    d.wallet(d.credits(out)[0], "pending_manual_resolution")
    assert win.credits[0].status == "manual"
    refused = d.command("resolve_payout", win_id=win.win_id, reason="")
    assert refused.rejected
    d.command("resolve_payout", win_id=win.credits[0].key, reason="bank transfer #42")
    assert d.pool().cycle == 2 and d.pool().hits[-1].amount == win.amount


def test_escrow_counts_as_paid_and_a_later_confirmation_closes_it():
    d = solo({"chain_reaction": {"enabled": True, "prize_count": 1, "prize_amounts": ["1"]}})
    d.bet(0.01, "other")
    out, win = dropped(d)
    cmd = d.credits(out)[0]
    d.wallet(cmd, "escrow")
    assert d.pool().cycle == 2 and win.credits[0].status == "escrow"
    d.wallet(cmd, "confirmed")
    assert win.credits[0].status == "confirmed"


def test_void_before_payment_returns_the_amount_without_reseeding():
    d = solo()
    out, win = dropped(d)
    pool = d.pool()
    locked, cycle, commitment = pool.lock_amount, pool.cycle, pool.commitment
    refused = d.command("void_win", win_id=win.win_id, approvals=("sup-1",))
    assert refused.rejected and "in flight" in refused.rejected
    d.wallet(d.credits(out)[0], "failed", retryable=False)
    refused = d.command("void_win", win_id=win.win_id)
    assert refused.rejected and "co-approval" in refused.rejected
    refused = d.command("void_win", win_id=win.win_id, approvals=("op-1",))  # self-approval does not count
    assert refused.rejected
    out = d.command("void_win", win_id=win.win_id, approvals=("sup-1",), reason="fraud")
    assert not out.rejected
    voided = d.of(WIN_VOIDED, out)[0].payload
    assert voided["returned_to_pool"] == locked and voided["actor"] == "op-1"
    assert DROP_ABORTED in d.types(out) and JACKPOT_RESEEDED not in d.types(out)
    assert not pool.locked and pool.cycle == cycle and pool.commitment == commitment
    assert pool.visible == locked and pool.meters.won == 0 and d.st.status == "ACTIVE"
    assert d.st.wins == {} and pool.armed_at == 0
    # continues from the pre-drop amount: the next drop of the same cycle pays it
    out, win2 = dropped(d)
    assert win2.seq == 2 and win2.cycle == cycle and win2.amount >= locked
    refused = d.command("void_win", win_id=win.win_id, approvals=("sup-1",), reason="again")
    assert refused.rejected


def large(**payout):
    p = {"large_win_threshold": "5"}
    p.update(payout)
    return solo(payout=p)


def test_large_win_waits_for_approval_then_is_credited():
    d = large()
    for p in ("a", "b"):
        d.bet(0.01, p)
    out, win = dropped(d)
    assert d.credits(out) == []
    [req] = [c for c in out.commands if c.event_type == WIN_APPROVAL_REQUESTED]
    r = req.payload
    assert r["approval_id"] == win.credits[0].key and r["amount"] == win.amount and r["threshold"] == 5 * UNIT
    assert r["expires_at"] == d.now + 72 * HOUR and r["alert_at"] == [d.now + h * HOUR for h in (24, 48, 72)]
    assert win.candidates and d.pool().locked
    out = d.command("approve_win", win_id=r["approval_id"])
    assert d.of(WIN_APPROVAL_DECIDED, out)[0].payload["decision"] == "approved"
    d.wallet(d.credits(out)[0])
    assert d.pool().cycle == 2


def test_approval_escalates_at_24_48_72h_and_expiry_falls_back_to_another_winner():
    d = large()
    for p in ("a", "b", "c"):
        d.bet(0.01, p)
    out, win = dropped(d)
    start = d.now
    alerts = []
    for h in range(1, 73):
        d.now = start + h * HOUR - 1
        alerts += [e.payload["escalation"] for e in d.of(WIN_APPROVAL_ESCALATED, d.tick(dt=0))]
    assert alerts == [1, 2]
    d.now = start + 72 * HOUR
    out = d.tick(dt=0)
    assert [e.payload["escalation"] for e in d.of(WIN_APPROVAL_ESCALATED, out)] == [3]
    assert d.of(WIN_APPROVAL_DECIDED, out)[0].payload["decision"] == "expired"
    fallback = d.of(WINNER_SELECTED, out)[0].payload
    assert fallback["drop_kind"] == "fallback" and fallback["replaces"] == "p1"
    assert fallback["winners"][0][1] in {"a", "b", "c"}
    [req] = [c for c in out.commands if c.event_type == WIN_APPROVAL_REQUESTED]
    assert req.payload["player_id"] == fallback["winners"][0][1] and req.payload["amount"] == win.amount
    assert [c.status for c in win.mains()] == ["declined", "awaiting_approval"]


def test_decline_returns_to_the_pool_when_fallback_is_disabled():
    d = large(on_decline="return_to_pool")
    out, win = dropped(d)
    locked, cycle = win.amount, d.pool().cycle
    assert d.command("decline_win", win_id=win.win_id, reason="").rejected
    out = d.command("decline_win", win_id=win.win_id, reason="bonus abuse")
    assert d.of(WIN_APPROVAL_DECIDED, out)[0].payload["reason"] == "bonus abuse"
    assert not d.pool().locked and d.pool().cycle == cycle and d.pool().visible == locked
    assert d.st.wins == {} and JACKPOT_RESEEDED not in d.types(out)


def test_decline_with_no_other_candidate_returns_to_the_pool():
    d = large()
    out, win = dropped(d)
    d.command("decline_win", win_id=win.win_id, reason="kyc failed")
    assert not d.pool().locked and d.pool().meters.won == 0


def test_tax_is_withheld_by_the_winners_jurisdiction():
    profile = {
        "jurisdiction_code": "CW", "allowed_distribution_modes": [1, 2, 3, 4],
        "withholding": [
            {"jurisdiction": "RO", "currency": "EUR",
             "brackets": [{"above": "0", "rate": "0.03"}, {"above": "10", "rate": "0.20"}]},
            {"currency": "EUR", "brackets": [{"above": "5", "rate": "0.10"}]},
        ],
    }
    d = solo({"win_from": "15", "win_to": "15", "win_max": "30"}, compliance_profile=profile)
    assert withholding(d.cj, "RO", "EUR", 15 * UNIT) == 300_000 + 1_000_000  # 3% of 10 + 20% of 5
    assert withholding(d.cj, "MT", "EUR", 15 * UNIT) == 1_000_000  # 10% above 5
    assert withholding(d.cj, "RO", "USD", 15 * UNIT) == 0
    assert withholding(d.cj, "RO", "EUR", 333_333) == 9_999  # rounded down to the micro
    out, win = dropped(d, jurisdiction="RO")
    p = d.credits(out)[0].payload
    assert p["tax_amount"] == withholding(d.cj, "RO", "EUR", p["amount"]) and p["net_amount"] == p["amount"] - p["tax_amount"]
    d.wallet(d.credits(out)[0])
    w = d.of(JACKPOT_WON)[0].payload["winners"][0]
    assert w["tax_amount"] == p["tax_amount"] and w["amount"] == p["amount"]


def test_the_drop_event_payloads_name_the_pool():
    d = solo()
    out, win = dropped(d)
    for e in out.events + out.commands:
        if e.event_type in (WINNER_SELECTED, WALLET_CREDIT_COMMAND, CREDIT_UPDATED):
            assert e.payload["level_id"] == SOLO and e.payload["currency"] == "EUR"
            assert e.payload["win_id"] == win.win_id
    assert POOL_UPDATED not in d.types(out)[-3:]


def test_wins_in_progress_serialise_exactly_and_plainly():
    import json

    from jackpot.engine import JackpotState

    from .test_state import walk

    d = solo({"chain_reaction": {"enabled": True, "prize_count": 2, "prize_amounts": ["1", "1"]}},
             payout={"large_win_threshold": "5"}, distribution_mode=3,
             operator_rules={"win_caps": [{"max_wins": 3, "period_hours": 1}],
                             "guaranteed_winners": [{"segment": "VIP"}]})
    for p in ("a", "b", "c"):
        d.bet(0.01, p, segments=("VIP",), attributes={"x": 1})
    dropped(d)
    d.command("cancel_drop", level_id=SOLO, currency="USD")
    dd = d.st.to_dict()
    walk(dd)
    assert dd["wins"] and dd["player_wins"] and dd["segment_wins"] and dd["pools"]["USD"][SOLO]["retargets"]
    back = JackpotState.from_dict(json.loads(json.dumps(dd)))
    assert back.to_dict() == dd and back == d.st
    # the restored state carries on identically
    win = next(iter(back.wins.values()))
    from jackpot.engine import OperatorCommand, handle_command

    a = handle_command(d.cj, d.st, OperatorCommand("ap", "approve_win", "op", win_id=win.win_id), d.now + 1, d.seeds)
    b = handle_command(d.cj, back, OperatorCommand("ap", "approve_win", "op", win_id=win.win_id), d.now + 1, d.seeds)
    assert [e.to_dict() for e in a.events + a.commands] == [e.to_dict() for e in b.events + b.commands]
    assert d.st.to_dict() == back.to_dict()
