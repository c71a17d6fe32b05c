"""The reference bet stream: realistic, reproducible, and aimed at the demo portfolio. No Kafka here."""

from __future__ import annotations

import collections
import datetime as dt
import io
from decimal import Decimal

import pytest

from jackpot.engine.catalog import day_one_jackpots
from jackpot.streams.codec import Catalog, load_schemas
from jackpot.streams.loadgen import (
    DAILY_PROFILE,
    BetStream,
    Progress,
    StreamStats,
    portfolio_brands,
    profile_multiplier,
)

CODEC = Catalog(*load_schemas())


NOW = dt.datetime(2026, 5, 1, 20, 0, tzinfo=dt.timezone.utc)


def run(stream: BetStream, spins: int, multiplier=lambda i: 1.0) -> list[tuple[str, dict]]:
    return [e for i in range(spins) for e in stream.step(NOW, multiplier=multiplier(i))] + stream.close_all(NOW)


def test_same_seed_same_stream():
    assert run(BetStream(200, seed=11), 500) == run(BetStream(200, seed=11), 500)
    assert run(BetStream(200, seed=11), 50) != run(BetStream(200, seed=12), 50)


def test_every_event_encodes():
    for name, rec in run(BetStream(300, seed=1), 3000):
        CODEC.encode(name, rec)


def test_sessions_open_before_their_bets_and_close_after():
    events = run(BetStream(300, seed=5), 5000)
    open_sessions: dict[str, str] = {}
    seen_sessions = set()
    bets = 0
    for name, rec in events:
        if name == "PlayerSessionStart":
            assert rec["player_id"] not in open_sessions, "one session per player at a time"
            assert rec["session_id"] not in seen_sessions, "session ids are unique"
            open_sessions[rec["player_id"]] = rec["session_id"]
            seen_sessions.add(rec["session_id"])
        elif name == "BetPlaced":
            bets += 1
            assert open_sessions.get(rec["player_id"]) == rec["session_id"]
        else:
            assert open_sessions.pop(rec["player_id"]) == rec["session_id"]
    assert bets == 5000 and open_sessions == {}
    assert 30 < bets / len(seen_sessions) < 200, "sessions last tens of spins"


def test_bets_hit_the_demo_portfolio():
    jackpots = day_one_jackpots()
    stream = BetStream(1000, seed=2)
    bets = [r for n, r in run(stream, 5000) if n == "BetPlaced"]

    def funds_some_jackpot(b):
        return any(
            b["brand_id"] in jp.brands
            and b["currency"] in jp.currencies
            and b["game_id"] in {g.game_id for g in jp.games}
            for jp in jackpots
        )

    hit = sum(map(funds_some_jackpot, bets)) / len(bets)
    assert 0.85 < hit < 0.99, f"most bets fund a jackpot, a few exercise the router's filter ({hit:.2%})"
    currencies = collections.Counter(b["currency"] for b in bets)
    assert {"EUR", "USD", "RON"} <= set(currencies) and currencies.most_common(1)[0][0] == "EUR"
    assert len({b["game_id"] for b in bets}) >= 6
    assert 0.02 < sum(b["bet_type"] == "bonus" for b in bets) / len(bets) < 0.09


def test_bet_sizes_are_whole_cents_with_a_long_tail():
    stream = BetStream(2000, seed=9)
    bets = [r for n, r in run(stream, 20000) if n == "BetPlaced"]
    eur = sorted(b["bet_amount"] for b in bets if b["currency"] == "EUR")
    assert all(a == a.quantize(Decimal("0.01")) and a >= Decimal("0.10") for a in eur)
    median = eur[len(eur) // 2]
    assert Decimal("0.40") <= median <= Decimal("2.00")
    assert eur[int(len(eur) * 0.99)] > 5 * median, "a few high rollers"
    assert sum(a >= Decimal("2.00") for a in eur) > 0.05 * len(eur), "VIP levels (min bet 2.00) get bets"
    ron = sorted(b["bet_amount"] for b in bets if b["currency"] == "RON")
    assert ron[len(ron) // 2] > 2 * median, "stakes follow the currency"


def test_daily_profile_has_a_peak_and_a_trough_and_mean_one():
    assert sum(DAILY_PROFILE) / 24 == pytest.approx(1.0)
    assert profile_multiplier(20.5) > 1.6 and profile_multiplier(4) < 0.35
    assert profile_multiplier(3.5) == pytest.approx((DAILY_PROFILE[3] + DAILY_PROFILE[4]) / 2)
    assert profile_multiplier(12, "flat") == 1.0
    with pytest.raises(ValueError, match="unknown profile"):
        profile_multiplier(0, "weekly")


def test_concurrent_sessions_follow_the_profile():
    stream = BetStream(1000, seed=4)
    run_peak = [stream.step(multiplier=1.8) for _ in range(2000)]
    peak = len(stream.active)
    for _ in range(2000):
        stream.step(multiplier=0.25)
    assert run_peak and peak > 3 * len(stream.active)


def test_brands_come_from_the_portfolio():
    brands = portfolio_brands()
    portfolio = {b for jp in day_one_jackpots() for b in jp.brands}
    assert portfolio <= {b.brand_id for b in brands}
    assert sum(b.weight for b in brands) == pytest.approx(1.0)


def test_progress_prints_a_final_rate_line():
    out = io.StringIO()
    bar = Progress(out, count=10, every_s=0)
    bar.update(5)
    line = bar.finish(10, StreamStats(sessions_started=2, sessions_ended=2), elapsed=2.0)
    assert line == "bets: 10 in 2.0s = 5 bets/s (sessions: 2 started, 2 ended)"
    assert out.getvalue().splitlines() == ["bets: 5/10  " + out.getvalue().splitlines()[0].split("  ")[1], line]


@pytest.mark.parametrize("count, shown", [(100, "100/100"), (0, "bets  100  ")])
def test_progress_bar_on_a_terminal(count, shown):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = Progress(out, count=count)
    bar.update(40)
    line = bar.finish(100, StreamStats(), elapsed=0.5)
    screen = out.getvalue()
    assert shown in screen and "bets/s" in screen
    assert screen.rstrip("\n").endswith(line) and line.startswith("bets: 100 in 0.5s = 200 bets/s")
