"""A paid win taken back in the wallet is reversed into its pool: once, four eyes, meters exact."""

from jackpot.engine.events import WIN_REVERSED

from .flow import SOLO, solo


def paid_win(d):
    out = d.run_to_drop(("p1", "p2"))
    [credit] = d.credits(out)
    win_id = credit.payload["win_id"]
    amount = credit.payload["amount"]
    d.wallet(credit)
    assert win_id not in d.st.wins and d.pool().cycle == 2  # settled and reseeded: a plain void cannot touch it
    return win_id, amount


def test_a_paid_win_reversed_in_the_wallet_returns_to_its_pool_once():
    d = solo()
    win_id, amount = paid_win(d)
    shown, won = d.pool().visible, d.pool().meters.won
    kw = dict(win_id=win_id, level_id=SOLO, currency="EUR", amount=amount, reason="chargeback, wallet ref DB-991")
    refused = d.command("reverse_win", actor="admin-1", **kw)
    assert refused.rejected and "co-approval" in refused.rejected
    refused = d.command("void_win", actor="admin-1", approvals=("admin-2",), win_id=win_id, reason="too late")
    assert refused.rejected and "no win in progress" in refused.rejected
    out = d.command("reverse_win", actor="admin-1", approvals=("admin-2",), **kw)
    assert not out.rejected, out.rejected
    [ev] = d.of(WIN_REVERSED, out)
    assert ev.payload["amount"] == amount and ev.payload["approvals"] == ["admin-2"]
    pool = d.pool()
    assert pool.visible + pool.carry == shown + amount  # display up to Win Max, the rest in reserve
    assert pool.meters.won == won - amount  # the win is undone (the driver reconciles the meters)
    again = d.command("reverse_win", actor="admin-1", approvals=("admin-3",), **kw)
    assert again.rejected and "already reversed" in again.rejected
    assert d.pool().meters.won == won - amount


def test_a_reversal_cannot_return_more_than_the_level_paid():
    d = solo()
    win_id, amount = paid_win(d)
    out = d.command("reverse_win", actor="admin-1", approvals=("admin-2",), win_id=win_id, level_id=SOLO,
                    currency="EUR", amount=amount * 10, reason="typo")
    assert out.rejected and "more than level" in out.rejected


def test_no_reversal_into_an_archived_or_closing_jackpot():
    d = solo()
    win_id, amount = paid_win(d)
    d.command("decommission", reason="retire")
    out = d.command("reverse_win", actor="admin-1", approvals=("admin-2",), win_id=win_id, level_id=SOLO,
                    currency="EUR", amount=amount, reason="chargeback")
    assert out.rejected and "decommissioned" in out.rejected
