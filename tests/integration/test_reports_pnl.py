"""The P&L report from SQL on a scripted scenario: equal to the hand-computed figures to the last unit."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import pytest
from click.testing import CliRunner

from jackpot.engine.budget import budget_report
from jackpot.engine.money import from_micros
from jackpot.gateway.admin.publication import publish_config
from jackpot.sinks.events import EventSink
from jackpot.sinks.ledger import LedgerWriter
from jackpot.sinks.reports import PNL_COLUMNS, expected_value, pnl, report, to_csv

from ..unit.sinks.scenario import hand_pnl, run
from .test_ledger_events import private_database

pytestmark = pytest.mark.integration


async def test_pnl_matches_the_hand_computed_figures_to_the_micro(settings, tmp_path):
    sc = run()
    hand = hand_pnl(sc)
    async with private_database(settings) as dsn:
        sink, ledger = EventSink(dsn), LedgerWriter(dsn)
        try:
            await sink.write(sc.events)
            await ledger.write(sc.ledger)
            await sink.write(sc.events)  # a replay changes nothing in the report
        finally:
            await sink.close()
            await ledger.close()
        conn = await asyncpg.connect(dsn)
        try:
            [row] = await pnl(conn, sc.jackpot_id)
        finally:
            await conn.close()
        for k, v in hand.items():
            assert row[k] == v, (k, row[k], v)
            assert row[k].as_tuple().exponent == -6  # NUMERIC(20,6)
        # and it is the engine's own budget model, line by line
        eng = budget_report(sc.driver.st, "EUR", chain_prizes=9_000_000)
        for k in ("gross_contributions", "house_cut", "net_pool_contributions", "pre_seed", "seeds", "prizes_main",
                  "prizes_chain", "adjustments_in", "adjustments_out", "net_position"):
            assert row[k] == from_micros(getattr(eng, k)), k
        assert (row["cycles"], row["hits"], row["bets"], row["seeds_estimated"]) == (2, 1, len(sc.ledger), 1)
        # CSV export, from the API and from the CLI
        text = to_csv([row], PNL_COLUMNS)
        assert text.splitlines()[1].split(",")[PNL_COLUMNS.index("net_position")] == \
            format(hand["net_position"].quantize(Decimal("0.000001")), "f")
        out = tmp_path / "pnl.csv"
        res = await asyncio.to_thread(CliRunner().invoke, report, ["pnl", "--jackpot", sc.jackpot_id,
                                                                   "--csv", str(out), "--database-url", dsn])
        assert res.exit_code == 0, res.output
        assert out.read_text() == text


async def test_expected_value_per_cycle_from_the_recorded_config(settings):
    from .helpers import one_level_config

    doc = one_level_config()  # seeds 1000, wins 5000-6000, house cut 10%
    async with private_database(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await publish_config(conn, doc, topic="", actor="ops", audit_key=None, source="test",
                                     back_office=False, send=False)
            [ev] = await expected_value(conn, doc["jackpot_id"])
        finally:
            await conn.close()
    assert ev["avg_seed"] == Decimal("1000.000000") and ev["avg_prize"] == Decimal("5500.000000")
    # (5500 - 1000) / 0.9 * 0.1 = 500 of house cut, less the operator's seed draw of 1000
    assert ev["house_cut_per_cycle"] == Decimal("500.000000") and ev["net_per_cycle"] == Decimal("-500.000000")
    assert ev["seed_cost"] == Decimal("1000.000000") and ev["carried_reserve"] == Decimal("0.000000")
    assert ev["actual_cycles"] == 0 and ev["cycle_hours"] is None


@pytest.mark.parametrize("mode", ["revenue", "buffer"])
async def test_overflow_destination_is_in_the_ledger_and_the_pnl(settings, mode):
    """Regulatory items 2 and 6: the ledger records where each overflow went, and overflow booked
    to revenue is in the SQL net position exactly as in the engine's budget model."""
    from ..unit.sinks.scenario import run_overflow

    sc = run_overflow(mode=mode)
    async with private_database(settings) as dsn:
        sink, ledger = EventSink(dsn), LedgerWriter(dsn)
        try:
            await sink.write(sc.events)
            await ledger.write(sc.ledger)
        finally:
            await sink.close()
            await ledger.close()
        conn = await asyncpg.connect(dsn)
        try:
            [row] = await pnl(conn, sc.jackpot_id)
            parts = await conn.fetchrow(
                "SELECT sum(overflow_amount) AS overflow, sum(overflow_reserve_amount) AS reserve, "
                "sum(overflow_revenue_amount) AS revenue FROM contribution_levels WHERE jackpot_id = $1", sc.jackpot_id)
        finally:
            await conn.close()
    eng = budget_report(sc.driver.st, "EUR")
    assert parts["overflow"] == Decimal(8)  # seed 1 + 27 net, Win Max 20
    assert (parts["reserve"], parts["revenue"]) == ((Decimal(0), Decimal(8)) if mode == "revenue" else (Decimal(8), Decimal(0)))
    assert row["overflow_revenue"] == from_micros(eng.overflow_revenue) == parts["revenue"]
    assert row["net_position"] == from_micros(eng.net_position) == Decimal(3) + parts["revenue"] - Decimal(1)
    assert row["overflow_unknown"] == 0
