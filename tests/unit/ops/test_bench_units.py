"""The bench's pure parts: result lines, the latency matching, the portfolio, the row-lock shares."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import namedtuple
from decimal import Decimal

import pytest

from jackpot.bench.benchmarks import NAMES, Result, latency_samples, level_shares, pct, table
from jackpot.bench.harness import HOT_BRAND, bench_portfolio, with_database
from jackpot.streams.codec import catalog
from jackpot.streams.publish import normalise

Msg = namedtuple("Msg", "topic key value timestamp")
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_result_line_has_the_agreed_keys_and_ratio():
    r = Result("e2e_throughput", 250.0, "bets/s", 1000.0, "passthrough", {"bets": 10})
    assert r.line() == {"bench": "e2e_throughput", "value": 250.0, "unit": "bets/s", "baseline": 1000.0,
                        "ratio": 0.25, "detail": {"bets": 10}}
    no_base = Result("recovery_s", 7.5, "s").line()
    assert no_base["baseline"] is None and no_base["ratio"] is None
    text = table([r, Result("recovery_s", 7.5, "s")])
    assert text.splitlines()[0].split()[:5] == ["benchmark", "value", "unit", "baseline", "ratio"]
    assert "0.250" in text and "recovery_s" in text


def test_percentiles():
    values = list(range(1, 101))
    assert pct(values, 0.5) in (50, 51) and pct(values, 0.99) == 99 and pct(values, 1.0) == 100


def _ledger(bet_id: str, jid: str, level: str, visible: str) -> bytes:
    z = Decimal("0")
    return catalog().encode("ContributionApplied", {
        "event_id": uuid.uuid4(), "timestamp": NOW, "jackpot_id": jid, "bet_id": uuid.UUID(bet_id),
        "player_id": "p", "game_id": "g", "brand_id": "b", "currency": "EUR", "bet_amount": Decimal("1"),
        "gross_amount": Decimal("0.01"), "house_cut_amount": Decimal("0.001"), "bet_timestamp": NOW,
        "levels": [{"level_id": level, "net_amount": Decimal(visible), "visible_amount": Decimal(visible),
                    "hidden_amount": z, "overflow_amount": z, "pending_amount": z, "transfer_in_amount": z}]})


def _pool(jid: str, level: str, seq: int) -> bytes:
    return catalog().encode("PoolUpdated", {
        "event_id": uuid.uuid4(), "timestamp": NOW, "jackpot_id": jid, "level_id": level, "currency": "EUR",
        "current_amount": Decimal("10"), "visible_amount": Decimal("9"), "state": "normal", "sequence": seq})


def test_latency_matches_a_bet_to_the_pool_update_of_its_batch_and_the_frame_carrying_it():
    b1, b2, b3 = (str(uuid.uuid4()) for _ in range(3))
    j = b"jp-1"
    sent = {b1: 100.000, b2: 100.010, b3: 100.020}
    seen = [
        # an older update of the same jackpot (before the bet's ledger event): not the bet's
        (100.001, Msg("pool", j, _pool("jp-1", "L", 4), 99_990)),
        (100.050, Msg("ledger", j, _ledger(b1, "jp-1", "L", "0.5"), 100_040)),
        (100.051, Msg("ledger", j, _ledger(b2, "jp-1", "L", "0.5"), 100_040)),
        (100.060, Msg("pool", j, _pool("jp-1", "L", 6), 100_041)),
        # a bet that moved no visible pool is not a sample
        (100.070, Msg("ledger", j, _ledger(b3, "jp-1", "L", "0"), 100_060)),
        # someone else's bet
        (100.080, Msg("ledger", j, _ledger(str(uuid.uuid4()), "jp-1", "L", "1"), 100_061)),
    ]
    frames = [(100.005, "jp-1", "L", "EUR", 4), (100.090, "jp-1", "L", "EUR", 6)]
    pool_ms, ws_ms = latency_samples(sent, seen, "ledger", "pool", frames)
    assert sorted(pool_ms) == pytest.approx([50.0, 60.0])
    assert sorted(ws_ms) == pytest.approx([80.0, 90.0])


def test_bench_portfolio_is_twenty_valid_jackpots_with_one_hot_brand():
    docs, brands, hot = bench_portfolio(20)
    assert len(docs) == 20 and hot in docs
    ids = [normalise(d)[0] for d in docs]  # every config passes the engine's validation
    assert len(set(ids)) == 20
    levels = [lv["level_id"] for d in docs for lv in d["levels"]]
    assert len(set(levels)) == len(levels)
    assert hot["brands"] == [HOT_BRAND] and hot["currencies"] == ["EUR"]
    assert HOT_BRAND not in {b.brand_id for b in brands}  # the mixed stream never feeds the hot jackpot


def test_rowlock_shares_split_the_net_contribution_exactly():
    _, _, hot = bench_portfolio(20)
    game = hot["games"][0]
    shares = level_shares(hot, game["game_id"])
    net = Decimal(hot["contribution_rate"]) * Decimal(game["coefficient"]) * (1 - Decimal(hot["house_cut"]))
    assert sum(s for _, s in shares) == net
    assert [lid for lid, _ in shares] == [lv["level_id"] for lv in hot["levels"]]


def test_database_urls_and_names():
    assert with_database("postgresql://u:p@h:5/jackpot?sslmode=require", "x") == "postgresql://u:p@h:5/x?sslmode=require"
    assert len(NAMES) == 7
