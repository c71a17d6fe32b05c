"""Each fraud detector on hand-made signals: what it flags, what it leaves alone, its evidence."""

from __future__ import annotations

import math
import random

import pytest

from jackpot.fraud.alerts import Pattern
from jackpot.fraud.detectors import (BotPlay, Collusion, ContributionManipulation, MultiAccounting, VelocitySpike,
                                     WinFrequency, poisson_tail)
from jackpot.fraud.engine import FraudEngine
from jackpot.fraud.signals import BetSeen, SessionSeen, WinSeen
from jackpot.fraud.thresholds import MINUTE_MS, Thresholds

T = Thresholds()
MIN = 100_000
_ids = iter(range(10**9))


def bet(player: str, at: int, *, jackpot: str = "jp", game: str = "g1", amount: int = 5 * MIN, chance: float = 0.0,
        hot: bool = False, bet_id: str | None = None, session: str | None = None, autoplay: bool = False) -> BetSeen:
    return BetSeen(bet_id or f"b{next(_ids)}", player, jackpot, game, amount, MIN, at, session, chance, hot, autoplay)


def human_times(rng: random.Random, start: int, n: int, mean_ms: float = 8_000) -> list[int]:
    out, at = [], start
    for _ in range(n):
        at += int(rng.lognormvariate(math.log(mean_ms) - 0.2, 0.63))
        out.append(at)
    return out


def test_multi_accounting_needs_four_accounts_of_one_device_on_one_jackpot_within_the_window():
    d = MultiAccounting(T)
    for i in range(4):
        d.on_session(SessionSeen(f"p{i}", f"s{i}", 0, device="dev-x", network=f"net-{i}"))
    assert [a for i in range(3) for a in d.on_bet(bet(f"p{i}", 1_000 * (i + 1), session=f"s{i}"))] == []  # a household
    assert d.on_bet(bet("p3", 3_500, jackpot="other", session="s3")) == []  # another jackpot
    [alert] = d.on_bet(bet("p3", 4_000, session="s3"))
    assert alert.pattern is Pattern.MULTI_ACCOUNTING and alert.player_ids == ("p0", "p1", "p2", "p3")
    assert alert.evidence["shared"] == "device" and alert.evidence["accounts"] == 4
    # the first account's bet is older than the window now: three accounts left
    assert d.on_bet(bet("p3", 1_000 + T.multi_window_ms + 1, session="s3")) == []


def test_a_bet_counts_where_its_own_session_came_from():
    d = MultiAccounting(T)
    for i in range(4):
        d.on_session(SessionSeen(f"p{i}", f"tablet-{i}", 0, device="dev-shared"))
    d.on_session(SessionSeen("p3", "phone-3", 500, device="dev-phone"))  # p3 also opens a phone session
    for i in range(3):
        d.on_bet(bet(f"p{i}", 1_000 + i, session=f"tablet-{i}"))
    assert d.on_bet(bet("p3", 2_000, session="phone-3")) == []  # from the phone: not the shared tablet
    [alert] = d.on_bet(bet("p3", 2_500, session="tablet-3"))  # still betting from the tablet too
    assert alert.evidence["hash"] == "dev-shared"


def test_a_shared_network_alone_needs_eight_accounts():
    d = MultiAccounting(T)
    for i in range(8):
        d.on_session(SessionSeen(f"p{i}", f"s{i}", 0, device=f"dev-{i}", network="net-cafe"))
    assert all(d.on_bet(bet(f"p{i}", 1_000 * i, session=f"s{i}")) == [] for i in range(7))  # a carrier's NAT
    [alert] = d.on_bet(bet("p7", 8_000, session="s7"))
    assert alert.evidence == {"shared": "network", "hash": "net-cafe", "accounts": 8, "window_ms": T.multi_window_ms}


def test_bot_play_is_a_cadence_too_regular_for_a_person():
    d, rng = BotPlay(T), random.Random(3)
    alerts = [a for i in range(60) for a in d.on_bet(bet("bot", 10_000 + i * 5_000 + rng.randint(-50, 50)))]
    assert alerts and alerts[0].evidence["cv"] <= T.bot_max_cv and alerts[0].evidence["intervals"] == T.bot_intervals
    human = BotPlay(T)
    assert not [a for at in human_times(rng, 0, 300) for a in human.on_bet(bet("human", at))]
    # one bet contributing to two jackpots is one bet, not an interval of zero
    twice = BotPlay(T)
    for i in range(60):
        b = bet("bot", i * 5_000)
        twice.on_bet(b)
        assert twice.on_bet(BetSeen(b.bet_id, "bot", "jp-2", "g1", b.amount_micros, MIN, b.at_ms)) == []


def test_contribution_manipulation_is_many_minimum_bets_across_games_within_a_minute():
    d = ContributionManipulation(T)
    one_game = [a for i in range(30) for a in d.on_bet(bet("p", i * 2_000, amount=MIN))]
    assert one_game == []  # fast minimum bets on one game only
    d = ContributionManipulation(T)
    above = [a for i in range(30) for a in d.on_bet(bet("p", i * 2_000, amount=2 * MIN, game=f"g{i % 3}"))]
    assert above == []  # fast, across games, but above the minimum
    d = ContributionManipulation(T)
    alerts = [a for i in range(30) for a in d.on_bet(bet("p", i * 2_000, amount=MIN, game=f"g{i % 3}"))]
    assert alerts and alerts[0].evidence["minimum_bets"] == 15 and alerts[0].evidence["games"] == ["g0", "g1", "g2"]
    d = ContributionManipulation(T)
    slow = [a for i in range(30) for a in d.on_bet(bet("p", i * 6_000, amount=MIN, game=f"g{i % 3}"))]
    assert slow == []  # ten a minute is not rapid succession


def test_poisson_tail_against_closed_forms():
    assert poisson_tail(0, 0.5) == 1.0
    assert poisson_tail(1, 0.5) == pytest.approx(1 - math.exp(-0.5))
    assert poisson_tail(3, 0.1) == pytest.approx(1 - math.exp(-0.1) * (1 + 0.1 + 0.005), rel=1e-9)
    assert poisson_tail(3, 0.0) == 0.0
    # far in the tail, no cancellation: the leading term dominates
    assert poisson_tail(10, 0.01) == pytest.approx(0.01 ** 10 / math.factorial(10), rel=1e-3)
    assert poisson_tail(5, 20.0) == pytest.approx(1 - sum(math.exp(-20) * 20 ** i / math.factorial(i) for i in range(5)))


def test_win_frequency_is_a_one_sided_poisson_test_against_the_bets_own_odds():
    d = WinFrequency(T)
    for i in range(1000):
        d.on_bet(bet("lucky", i * 1_000, chance=1e-4))  # 0.1 wins explained
    assert d.on_win(WinSeen("lucky", "jp", 1_000_001, "w1")) == []
    assert d.on_win(WinSeen("lucky", "jp", 1_000_002, "w2")) == []  # fewer than win_min_wins
    assert d.on_win(WinSeen("lucky", "jp", 1_000_003, "w3")) == []  # P = 1.5e-4: not below alpha
    assert d.on_win(WinSeen("lucky", "jp", 1_000_004, "w4")) == []  # P = 3.8e-6
    [alert] = d.on_win(WinSeen("lucky", "jp", 1_000_005, "w5"))
    assert alert.evidence["wins"] == 5 and alert.evidence["expected_wins"] == pytest.approx(0.1)
    assert alert.evidence["p_value"] < T.win_alpha and "Poisson" in alert.evidence["test"]
    # a heavy bettor's wins are explained by its odds
    busy = WinFrequency(T)
    for i in range(1000):
        busy.on_bet(bet("busy", i, chance=0.01))
    assert not [a for k in range(12) for a in busy.on_win(WinSeen("busy", "jp", 2_000 + k, f"w{k}"))]


def _steady_then(d: VelocitySpike, rng: random.Random, spike_every_ms: int, *, hot: bool = True,
                 pause_ms: int = 0) -> list:
    times = human_times(rng, 0, 35, mean_ms=60_000)
    at = times[-1] + pause_ms
    out = [a for t in times for a in d.on_bet(bet("p", t))]
    for _ in range(60):
        at += spike_every_ms
        out += d.on_bet(bet("p", at, hot=hot))
    return out


def test_a_velocity_spike_is_a_steady_players_sudden_pace_in_a_trigger_window():
    rng = random.Random(5)
    [alert, *_] = _steady_then(VelocitySpike(T), rng, 2_000)
    assert alert.pattern is Pattern.VELOCITY_SPIKE and alert.evidence["ratio"] >= T.velocity_ratio
    assert _steady_then(VelocitySpike(T), rng, 2_000, hot=False) == []  # no trigger window: no spike to time
    assert _steady_then(VelocitySpike(T), rng, 30_000) == []  # a little faster is not a spike
    # back from a break: no baseline to deviate from
    assert _steady_then(VelocitySpike(T), rng, 2_000, pause_ms=20 * MINUTE_MS) == []


def test_collusion_is_accounts_betting_together_beyond_chance():
    rng = random.Random(9)
    leader = human_times(rng, 0, 40, mean_ms=9_000)
    d = Collusion(T)
    alerts = []
    for t in leader:
        for who in ("c1", "c2", "c3"):
            alerts += d.on_bet(bet(who, t + int(rng.gauss(0, 200))))
        alerts += d.on_bet(bet("loner", t + 4_000))
    [alert] = [a for a in alerts][:1]
    assert alert.pattern is Pattern.COLLUSION and alert.player_ids == ("c1", "c2", "c3")
    assert alert.evidence["min_share_together"] >= T.collusion_min_share
    # fast players betting on their own are often side by side, by chance: not flagged
    fast = Collusion(T)
    streams = [human_times(rng, 0, 200, mean_ms=1_500) for _ in range(4)]
    merged = sorted((t, f"fast{i}") for i, ts in enumerate(streams) for t in ts)
    assert [a for t, who in merged for a in fast.on_bet(bet(who, t))] == []


def test_the_engine_raises_one_alert_per_subject_per_cooldown_with_ids_a_replay_reproduces():
    def run() -> list:
        e = FraudEngine()
        return [a for i in range(400) for a in e.on_bet(bet("bot", i * 5_000, bet_id=f"bet-{i}"))]

    first, again = run(), run()
    span = 399 * 5_000
    assert len(first) == 1 + span // Thresholds().cooldown_ms
    assert [a.alert_id for a in first] == [a.alert_id for a in again]
    assert first[0].to_dict()["pattern"] == "bot_play"


def test_a_bets_copies_for_other_jackpots_are_one_bet_however_they_interleave_and_autoplay_is_not_a_bot():
    d = BotPlay(T)
    alerts, previous = [], None
    for i in range(60):
        b = bet("bot", i * 5_000)
        alerts += d.on_bet(b)
        if previous is not None:  # the previous bet's copy for a second jackpot arrives one bet late
            alerts += d.on_bet(BetSeen(previous.bet_id, "bot", "jp-2", "g1", previous.amount_micros, MIN, previous.at_ms))
        previous = b
    assert alerts
    auto = BotPlay(T)
    assert [a for i in range(60) for a in auto.on_bet(bet("spinner", i * 2_500, autoplay=True))] == []


def test_alert_ids_differ_per_subject_and_cooldown_bucket_and_repeat_for_the_same_alert():
    e = FraudEngine()
    for i in range(2000):  # 0.1 wins explained
        e.on_bet(bet("lucky", i * 1_000, chance=5e-5))
    alerts = [a for k in range(12) for a in e.on_win(WinSeen("lucky", "jp", 2_000_000 + k * 40 * MINUTE_MS, f"w{k}"))]
    ids = [a.alert_id for a in alerts]
    assert len(alerts) >= 3 and len(set(ids)) == len(ids)  # an hour apart: separate alerts
    assert FraudEngine()._fresh([alerts[0]])[0].alert_id == ids[0]  # raised again (a replay): the same id
    bots = [a for a in run_bot("bot-a")] + [a for a in run_bot("bot-b")]
    assert len({a.alert_id for a in bots}) == len(bots) == 2


def run_bot(player: str) -> list:
    e = FraudEngine()
    return [a for i in range(100) for a in e.on_bet(bet(player, i * 5_000, bet_id=f"{player}-{i}"))]


def test_binomial_tail_against_closed_forms():
    from jackpot.fraud.detectors import binomial_tail

    assert binomial_tail(10, 10, 0.5) == pytest.approx(1 / 1024)
    assert binomial_tail(0, 10, 0.3) == 1.0 and binomial_tail(11, 10, 0.3) == 0.0
    assert binomial_tail(1, 10, 0.3) == pytest.approx(1 - 0.7 ** 10)
    assert binomial_tail(100, 100, 0.63) == pytest.approx(0.63 ** 100, rel=1e-9)


def test_collusion_in_lockstep_is_caught_at_any_pace_and_a_crowd_closing_a_round_is_not():
    rng = random.Random(4)
    for pace in (3_000, 5_000, 9_000):
        d = Collusion(T)
        at, alerts = 0, []
        for _ in range(150):
            at += int(pace * rng.uniform(0.7, 1.3))
            for who in ("c1", "c2", "c3"):
                alerts += d.on_bet(bet(who, at + int(rng.gauss(0, 150))))
        assert {a.player_ids for a in alerts} == {("c1", "c2", "c3")}, pace
    live = Collusion(T)
    alerts = []
    for r in range(40):  # a live game: 20 players each bet in the last second of a 30 s round
        for p in range(20):
            alerts += live.on_bet(bet(f"live{p}", r * 30_000 + 29_000 + rng.randint(0, 900)))
    assert alerts == []


def test_a_slow_player_warming_up_is_not_a_velocity_spike():
    rng = random.Random(8)
    assert _steady_then(VelocitySpike(T), rng, 9_000) == []  # a bet a minute, then one every 9 s


def test_win_frequency_compares_the_last_thirty_days_only():
    d = WinFrequency(T)
    day = 24 * 60 * MINUTE_MS
    for i in range(1000):
        d.on_bet(bet("p", i * 1_000, chance=1e-4))
    for k in range(4):
        d.on_win(WinSeen("p", "jp", 2_000_000 + k, f"old{k}"))  # four wins long ago
    later = 40 * day
    for i in range(1000):
        d.on_bet(bet("p", later + i * 1_000, chance=1e-4))
    assert d.on_win(WinSeen("p", "jp", later + 1_000_001, "new")) == []  # one win in the window


def test_idle_state_is_swept_so_memory_follows_the_active_players():
    e = FraudEngine()
    for i in range(300):
        e.on_session(SessionSeen(f"p{i}", f"s{i}", i, device=f"d{i}", network=f"n{i}"))
    for at, i in sorted((i * 100 + k * 7_000, i) for i in range(300) for k in range(20)):  # in time order
        e.on_bet(bet(f"p{i}", at, session=f"s{i}", chance=1e-5))
    busy = e.size()
    e.on_bet(bet("late", 60 * 24 * 60 * MINUTE_MS))  # two months later, one player
    assert busy > 1000 and e.size() < 10
