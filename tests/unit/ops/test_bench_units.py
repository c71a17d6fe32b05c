"""The bench's pure parts: result lines, the latency matching, the portfolio, the row-lock shares,
CPU times from /proc, the capacity-share choice, the open-loop schedule and the chart."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
import uuid
from collections import namedtuple
from decimal import Decimal

import pytest

from jackpot.bench.benchmarks import (LATENCY_SHARES, NAMES, Result, capacity_share, latency_samples, ledger_samples,
                                      hop_records, hop_samples, level_shares, median, passthrough_window, pct, per_bet_us,
                                      rate_point,
                                      read_status, table)
from jackpot.bench.chart import chart_points, latency_chart
from jackpot.bench.harness import HOT_BRAND, bench_portfolio, cpu_from_stat, process_cpu_s, with_database
from jackpot.bench.openloop import schedule
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
    assert pct(list(reversed(values)), 0.99) == 99  # order of the samples does not matter
    assert pct([7.0], 0.99) == 7.0 and pct([3.0, 1.0, 2.0], 0.0) == 1.0
    assert math.isnan(pct([], 0.99))
    # one slow sample in a hundred shows at p99 and not at p50
    assert pct([1.0] * 98 + [500.0, 900.0], 0.99) == 500.0 and pct([1.0] * 98 + [500.0, 900.0], 0.5) == 1.0


def test_median_ignores_unmeasured_values():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, None, 5.0]) == 3.0
    assert median([None, None]) is None and median([]) is None


# A real /proc/<pid>/stat line (52 fields), its command name holding spaces and parentheses.
STAT = ("4242 (jackpot (worker) 1) S 1 4242 4242 0 -1 4194560 12000 0 3 0 {utime} {stime} 7 9 20 0 12 0 "
        "1234567 812345344 45678 18446744073709551615 1 1 0 0 0 0 0 16781312 16386 0 0 0 17 1 0 0 0 0 0 "
        "0 0 0 0 0 0 0 0")


def test_cpu_from_stat_adds_user_and_system_ticks_after_the_command_name():
    assert cpu_from_stat(STAT.format(utime=150, stime=50), ticks_per_s=100) == pytest.approx(2.0)
    assert cpu_from_stat(STAT.format(utime=0, stime=0), ticks_per_s=100) == 0.0
    # utime and stime each count, at the given tick rate; the children's times (fields 16, 17) do not
    assert cpu_from_stat(STAT.format(utime=1000, stime=0), ticks_per_s=1000) == pytest.approx(1.0)
    assert cpu_from_stat(STAT.format(utime=0, stime=250), ticks_per_s=100) == pytest.approx(2.5)


def test_process_cpu_is_this_process_cpu_time_not_wall_time():
    pid = os.getpid()
    before, cpu_before = process_cpu_s(pid), time.process_time()
    x = 0
    while time.process_time() - cpu_before < 0.2:  # burn CPU: the figure must follow it
        x += 1
    after, cpu_after = process_cpu_s(pid), time.process_time()
    assert after > before
    # the same clock as the kernel's per-process CPU time, to its tick resolution
    assert after - before == pytest.approx(cpu_after - cpu_before, abs=0.05)


def test_per_bet_cpu():
    assert per_bet_us(2.0, 4000) == pytest.approx(500.0)
    assert per_bet_us(None, 4000) is None and per_bet_us(1.0, 0) is None


def _point(share: float, ws_p99: float | None) -> dict:
    return {"share": share, "ws_p99_ms": ws_p99}


def test_capacity_share_is_the_highest_rate_under_the_target():
    assert capacity_share([_point(0.25, 12.0), _point(0.5, 31.0), _point(0.75, 420.0)]) == 0.5
    assert capacity_share([_point(0.25, 12.0), _point(0.5, 31.0), _point(0.75, 49.9)]) == 0.75
    assert capacity_share([_point(0.75, 1.0), _point(0.25, 2.0)]) == 0.75  # whatever the order
    # at the target is not under it; a rate without WebSocket samples does not qualify
    assert capacity_share([_point(0.25, 50.0), _point(0.5, None)]) == 0.0
    assert capacity_share([_point(0.25, 600.0), _point(0.5, 3000.0), _point(0.75, 5000.0)]) == 0.0
    assert capacity_share([]) == 0.0
    assert capacity_share([_point(0.25, 60.0)], limit_ms=100.0) == 0.25
    assert capacity_share([{"share": 0.5, "pool_p99_ms": 10.0, "ws_p99_ms": 80.0}], key="pool_p99_ms") == 0.5


def test_rate_point_lists_both_percentiles_and_none_without_samples():
    sender = {"achieved_rate": 249.96, "late_p99_ms": 1.5}
    p = rate_point(0.25, 1000.0, sender, [float(i) for i in range(1, 101)], [], [5.0, 7.0])
    assert p["share"] == 0.25 and p["offered_bets_s"] == 250.0 and p["achieved_bets_s"] == 250.0
    assert p["pool_p50_ms"] in (50.0, 51.0) and p["pool_p99_ms"] == 99.0 and p["pool_max_ms"] == 100.0
    assert p["ws_p99_ms"] is None and p["ws_samples"] == 0 and p["samples"] == 100
    assert p["ledger_p99_ms"] == 7.0 and p["router_p99_ms"] is None
    assert rate_point(0.25, 1000.0, sender, [1.0], [], [5.0], [2.0, 3.0])["router_p99_ms"] == 3.0
    assert capacity_share([p]) == 0.0


def test_open_loop_schedule_is_fixed_whatever_the_sends_take():
    due = schedule(1000.0, 250.0, 5)
    assert due == pytest.approx([1000.0, 1000.004, 1000.008, 1000.012, 1000.016])
    assert schedule(0.0, 10.0, 0) == []
    assert len(schedule(5.0, 1000.0, 3000)) == 3000 and schedule(5.0, 1000.0, 3000)[-1] == pytest.approx(7.999)


def test_faust_passthrough_window_excludes_start_up():
    events = [
        {"event": "assigned", "cpu_s": 0.40, "t": 10.0, "partitions": 9},  # an early assignment, then a rebalance
        {"event": "assigned", "cpu_s": 0.55, "t": 11.0, "partitions": 9},
        {"event": "first", "cpu_s": 0.57, "t": 11.1},
        {"event": "done", "cpu_s": 1.55, "t": 12.1, "count": 4000},
    ]
    w = passthrough_window(events, 4000)
    assert w["us_per_msg"] == pytest.approx(250.0)  # (1.55 - 0.55) s / 4000
    assert w["msgs_per_s"] == pytest.approx(4000.0)  # from the first message to the last acknowledged
    assert w["startup_cpu_s"] == pytest.approx(0.55)
    # no assignment line: from the first message
    assert passthrough_window(events[2:], 4000)["us_per_msg"] == pytest.approx(245.0)


def test_status_lines_skip_a_line_being_written():
    text = '{"event": "assigned", "cpu_s": 0.5, "t": 1.0}\n{"event": "first", "cpu_s": 0.6, "t": 2.0}\n{"event": "do'
    assert [e["event"] for e in read_status(text)] == ["assigned", "first"]


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


def test_ledger_latency_is_from_the_send_to_the_ledger_record_timestamp():
    b1, b2 = str(uuid.uuid4()), str(uuid.uuid4())
    sent = {b1: 100.000, b2: 100.500}
    seen = [(100.3, Msg("ledger", b"jp-1", _ledger(b1, "jp-1", "L", "0.5"), 100_250)),
            (100.9, Msg("ledger", b"jp-1", _ledger(b2, "jp-1", "L", "0"), 100_800)),
            (100.9, Msg("pool", b"jp-1", _pool("jp-1", "L", 6), 100_801)),
            (101.0, Msg("ledger", b"jp-1", _ledger(str(uuid.uuid4()), "jp-1", "L", "1"), 100_900))]
    assert sorted(ledger_samples(sent, seen, "ledger")) == pytest.approx([250.0, 300.0])


def test_hop_probe_latency_is_from_each_probe_send_to_its_receipt_and_ignores_other_records():
    probes = hop_records("hop", 3, 1)
    assert [(t, k) for t, k, _, _ in probes] == [("hop", b"1:0"), ("hop", b"1:1"), ("hop", b"1:2")]
    sent = {name: 10.0 + i for i, (_, _, _, name) in enumerate(probes)}
    seen = [(10.004, Msg("hop", b"1:0", b"x", 10_000)), (11.020, Msg("hop", b"1:1", b"x", 11_000)),
            (11.5, Msg("pool", b"1:2", b"x", 11_400)),  # another topic under a probe's key
            (12.0, Msg("hop", b"0:7", b"x", 12_000))]  # an earlier rate's probe
    assert hop_samples(sent, seen, "hop") == pytest.approx([4.0, 20.0])
    p = rate_point(0.5, 100.0, {"achieved_rate": 50.0, "late_p99_ms": 0.0}, [1.0], [], [], [],
                   [float(i) for i in range(1, 101)])
    assert p["hop_p50_ms"] in (50.0, 51.0) and p["hop_p99_ms"] == 99.0


def _latency_result(ws: list[float | None]) -> Result:
    rates = [{"share": sh, "offered_bets_s": sh * 800, "pool_p99_ms": 10.0 * (i + 1), "ws_p99_ms": w}
             for i, (sh, w) in enumerate(zip(LATENCY_SHARES, ws))]
    return Result("latency_capacity_share", capacity_share(rates), "share",
                  detail={"capacity_bets_s": 800.0, "target_p99_ms": 50.0, "seconds_per_rate": 3, "rates": rates})


def test_latency_chart_is_a_png_of_rate_against_p99(tmp_path):
    r = _latency_result([20.0, 45.0, None])
    x, pool, ws = chart_points(r)
    assert x == [200.0, 400.0, 600.0] and pool == [10.0, 20.0, 30.0] and ws == [20.0, 45.0, None]
    path = latency_chart(r, tmp_path / "lat.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    none = latency_chart(_latency_result([900.0, 2000.0, 5000.0]), tmp_path / "none.png")
    assert none.stat().st_size > 0


def test_table_shows_listed_details_as_compact_json():
    r = _latency_result([20.0, 45.0, 70.0])
    assert r.value == 0.5
    text = table([r])
    assert '"share":0.25' in text and "latency_capacity_share" in text
    assert json.loads(json.dumps(r.line()))["detail"]["rates"][2]["ws_p99_ms"] == 70.0


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
    assert len(NAMES) == len(set(NAMES)) == 10
    assert {"cpu_per_bet_vs_faust", "latency_capacity_share"} <= set(NAMES)
