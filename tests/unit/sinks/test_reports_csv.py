"""CSV export of report rows."""

from decimal import Decimal

from jackpot.sinks.reports import PNL_COLUMNS, PNL_SQL, to_csv


def test_csv_keeps_the_full_scale_and_never_uses_floats():
    rows = [{"jackpot_id": "j", "currency": "EUR", "net_position": Decimal("-12.595000"), "bets": 14}]
    text = to_csv(rows, ["jackpot_id", "currency", "bets", "net_position"])
    assert text == "jackpot_id,currency,bets,net_position\nj,EUR,14,-12.595000\n"
    assert to_csv([], PNL_COLUMNS).startswith("jackpot_id,currency,bets,gross_contributions")


def test_pnl_sql_names_every_budget_line():
    for col in PNL_COLUMNS:
        assert f"AS {col}" in PNL_SQL or col in ("jackpot_id",)
