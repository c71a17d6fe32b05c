"""Drop timing: windows, schedule deadlines, must-drop relaxation, time drops, campaign end."""

from datetime import datetime, time, timezone

from jackpot.engine.config import TimeWindow
from jackpot.engine.events import DROP_DEFERRED, JACKPOT_STATE_CHANGED, WARN_STATE_CHANGED, WINNER_SELECTED
from jackpot.engine.eligibility import BET_BELOW_MIN, OUTSIDE_TIME_WINDOW, PLAYERS_BELOW_MIN
from jackpot.engine.timing import in_windows, relax_stage, schedule_deadline, to_ms

from .flow import SOLO, UNIT, solo

MONDAY = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday
HOUR = 3_600_000
DAY = 24 * HOUR


def ms(*args, tz=timezone.utc) -> int:
    return to_ms(datetime(*args, tzinfo=tz))


def test_windows_weekdays_midnight_and_whole_days():
    w = [TimeWindow(weekdays={4}, start=time(18), end=time(2))]  # Friday 18:00 - Saturday 02:00
    assert in_windows(w, "UTC", ms(2024, 1, 5, 18, 0))
    assert in_windows(w, "UTC", ms(2024, 1, 6, 1, 59))
    assert not in_windows(w, "UTC", ms(2024, 1, 6, 2, 0))
    assert not in_windows(w, "UTC", ms(2024, 1, 5, 17, 59))
    assert not in_windows(w, "UTC", ms(2024, 1, 4, 23, 0))  # Thursday night
    assert in_windows([TimeWindow(weekdays={5, 6})], "UTC", ms(2024, 1, 6, 12))
    assert not in_windows([TimeWindow(weekdays={5, 6})], "UTC", ms(2024, 1, 8, 12))
    assert in_windows([], "UTC", 0)
    # local time: 20:00-22:00 in Bucharest is 18:00-20:00 UTC in winter, 17:00-19:00 in summer
    peak = [TimeWindow(start=time(20), end=time(22))]
    assert in_windows(peak, "Europe/Bucharest", ms(2024, 1, 10, 18, 30))
    assert not in_windows(peak, "Europe/Bucharest", ms(2024, 7, 10, 19, 30))
    assert in_windows(peak, "Europe/Bucharest", ms(2024, 7, 10, 17, 30))


def test_daily_and_weekly_deadlines():
    d = solo(type="TIMED", drop_mode="must_drop",
             schedule={"recurrence": "daily", "open_time": "20:00:00", "close_time": "22:00:00"})
    assert schedule_deadline(d.cj, ms(2024, 1, 1, 12)) == (ms(2024, 1, 1, 20), ms(2024, 1, 1, 22))
    assert schedule_deadline(d.cj, ms(2024, 1, 1, 22, 0, 0, 1000)) == (ms(2024, 1, 2, 20), ms(2024, 1, 2, 22))
    w = solo(type="PROMOTIONAL", drop_mode="must_drop",
             schedule={"recurrence": "weekly", "open_weekday": 4, "open_time": "18:00:00", "close_weekday": 6,
                       "close_time": "23:59:00", "timezone": "Europe/Bucharest"})
    fri = datetime(2024, 1, 5, 18, tzinfo=__import__("zoneinfo").ZoneInfo("Europe/Bucharest"))
    sun = datetime(2024, 1, 7, 23, 59, tzinfo=fri.tzinfo)
    assert schedule_deadline(w.cj, ms(2024, 1, 6, 12)) == (to_ms(fri), to_ms(sun))
    assert schedule_deadline(w.cj, ms(2024, 1, 3, 12)) == (to_ms(fri), to_ms(sun))  # Wednesday: the coming weekend
    assert schedule_deadline(w.cj, ms(2024, 1, 8, 12))[1] == to_ms(sun) + 7 * DAY


def must_drop(level_kw=None, **kw):
    lk = dict(min_players=10, min_bet="2", win_from="10", win_to="10", win_max="100", evaluation_delay_to=1)
    lk.update(level_kw or {})
    return solo(lk, drop_mode="must_drop", **kw)


def test_relaxation_stages_at_90_95_98_100_percent_of_win_max():
    d = must_drop(drop_windows={"windows": [{"weekdays": [6], "start": "00:00:00", "end": "00:00:00"}]})  # Sundays only
    d.now = MONDAY
    d.bet(12, "p1")  # 13: armed, far below 90
    cl = d.cj.level(SOLO)
    assert relax_stage(d.cj, cl, d.pool()) == 0
    _, out = d.bet(2, "p1")
    assert set(out.evaluations[0].failed) == {PLAYERS_BELOW_MIN, OUTSIDE_TIME_WINDOW}
    # 90%: min_players halved (10 -> 5)
    d.bet(75, "p1")  # 90
    for p in ("p2", "p3", "p4"):
        d.bet(0.001, p, dt=10)
    assert relax_stage(d.cj, cl, d.pool()) == 1
    _, out = d.bet(0.001, "p1", dt=10)
    assert set(out.evaluations[0].failed) == {BET_BELOW_MIN, PLAYERS_BELOW_MIN, OUTSIDE_TIME_WINDOW}
    d.bet(0.001, "p5", dt=10)  # 5 active players now
    _, out = d.bet(2, "p1", dt=10)
    assert out.evaluations[0].failed == (OUTSIDE_TIME_WINDOW,)
    # 95%: min_bet halved (2 -> 1)
    d.bet(3, "p6", dt=10)  # 95.005
    assert relax_stage(d.cj, cl, d.pool()) == 2
    _, out = d.bet(1, "p1", dt=10)
    assert out.evaluations[0].failed == (OUTSIDE_TIME_WINDOW,)
    # 98%: time-of-day restriction lifted -> the next qualifying bet drops
    _, out = d.bet(2, "p7", dt=10)  # 98.005: the restriction is lifted, this bet drops it
    assert relax_stage(d.cj, cl, d.pool()) == 3 and d.pool().current_amount < 100 * UNIT
    assert out.evaluations[0].outcome == "drop" and out.evaluations[0].stage == 3


def test_at_win_max_any_eligible_players_bet_drops_it_without_delay():
    d = must_drop({"evaluation_delay_from": 50, "evaluation_delay_to": 50, "min_spins": 100, "max_bet": "3"},
                  drop_windows={"windows": [{"weekdays": [6]}]})
    d.now = MONDAY
    for _ in range(40):
        _, out = d.bet(3, "self-excluded", spins=0, self_excluded=True)
    assert d.pool().current_amount == 100 * UNIT and not d.pool().locked
    assert out.evaluations[0].stage == 4 and out.evaluations[0].failed == ("player_excluded",)
    _, out = d.bet(0.01, "tiny", spins=0, game="g0")  # every level condition waived: a tiny bet on a non-trigger game
    assert out.evaluations[0].outcome == "drop" and out.evaluations[0].stage == 4
    sel = d.of(WINNER_SELECTED, out)[0].payload
    assert sel["stage"] == 4


def test_at_win_max_personal_conditions_still_apply():
    d = must_drop(player_segments=["VIP"])
    for _ in range(40):
        d.bet(3, "p1")
    _, out = d.bet(1, "outsider")
    assert out.evaluations[0].outcome == "failed" and not d.pool().locked
    _, out = d.bet(1, "vip", segments=("VIP",))
    assert out.evaluations[0].outcome == "drop"


def test_range_mode_is_not_relaxed():
    d = solo({"min_players": 10, "win_max": "20"})
    for _ in range(25):
        _, out = d.bet(1, "p1")
    assert out.evaluations[0].failed == (PLAYERS_BELOW_MIN,) and not d.pool().locked


def daily_must_drop(mode="must_drop", **lk):
    kw = dict(win_from="50", win_to="50", win_max="100")
    kw.update(lk)
    d = solo(kw, type="TIMED", drop_mode=mode,
             schedule={"recurrence": "daily", "open_time": "00:00:00", "close_time": "23:00:00"})
    d.now = MONDAY + 10 * HOUR
    return d


def test_must_drop_deadline_drops_at_the_deadline_and_warns_an_hour_before():
    d = daily_must_drop()
    d.bet(2, "p1")
    d.tick()
    assert d.pool().deadline_at == MONDAY + 23 * HOUR
    d.now = MONDAY + 22 * HOUR
    d.bet(1, "p1")
    out = d.tick()
    warn = d.of(WARN_STATE_CHANGED, out)
    assert [e.payload["new_state"] for e in warn][-1] == "must_drop"
    assert not d.pool().locked
    d.now = MONDAY + 23 * HOUR - 500
    d.bet(1, "p1", dt=0)
    out = d.tick(dt=500)  # the deadline
    assert d.pool().locked and d.of(WINNER_SELECTED, out)[0].payload["drop_kind"] == "deadline"
    d.wallet(d.credits()[-1])
    assert d.pool().cycle == 2 and d.pool().last_drop_at == MONDAY + 23 * HOUR
    d.tick()
    assert d.pool().deadline_at == MONDAY + DAY + 23 * HOUR  # next window


def test_deadline_skipped_when_the_pool_already_dropped_in_the_window():
    d = daily_must_drop(win_from="3", win_to="3", evaluation_delay_to=1)
    d.tick()
    d.run_to_drop()
    d.wallet(d.credits()[-1])
    assert d.pool().cycle == 2
    d.now = MONDAY + 23 * HOUR
    d.tick()
    assert not d.pool().locked and d.pool().deadline_at == MONDAY + DAY + 23 * HOUR


def test_deadline_with_nobody_to_award_is_deferred_then_the_first_eligible_bet_drops():
    d = daily_must_drop(min_bet="5")
    d.tick()
    d.now = MONDAY + 23 * HOUR
    out = d.tick()
    deferred = d.of(DROP_DEFERRED, out)
    assert sorted(e.payload["currency"] for e in deferred) == ["EUR", "USD"]  # one per pool
    assert "no eligible player" in deferred[0].payload["reason"]
    assert not d.of(DROP_DEFERRED, d.tick())  # published once
    assert d.bet(0.5, "closed")[1].evaluations == []  # after the close: outside the window, nothing
    d.now = MONDAY + DAY + HOUR  # the next window: the deadline is still overdue
    _, out = d.bet(0.5, "late")  # below min_bet, but the deadline is overdue: any eligible player
    assert out.evaluations[0].outcome == "drop" and out.evaluations[0].stage == 4


def test_time_drop_mode_drops_only_at_the_deadline():
    d = daily_must_drop(mode="time_drop")
    d.tick()
    for _ in range(110):
        _, out = d.bet(1, "p1", dt=10)
        assert out.evaluations == []
    assert d.pool().current_amount == 100 * UNIT and not d.pool().locked
    d.now = MONDAY + 23 * HOUR
    d.tick()
    assert d.pool().locked and d.st.wins[next(iter(d.st.wins))].kind == "deadline"


def test_campaign_end_force_drops_finally_and_expires():
    end = datetime.fromtimestamp((MONDAY + 12 * HOUR) // 1000, timezone.utc).isoformat()
    d = solo({"win_from": "50", "win_to": "50", "win_max": "100"}, type="PROMOTIONAL",
             schedule={"end_at": end, "end_action": "force_drop"})
    d.now = MONDAY
    d.bet(3, "p1")
    d.tick()
    assert d.st.status == "ACTIVE"
    d.now = MONDAY + 12 * HOUR
    out = d.tick()
    assert d.pool().locked and d.of(WINNER_SELECTED, out)[0].payload["drop_kind"] == "final"
    d.wallet(d.credits()[-1])
    assert d.pool().closed and d.st.status == "EXPIRED"
    usd = d.pool(currency="USD")
    assert usd.visible > 0 and not usd.closed  # nobody ever played in USD: nothing to award, funds kept

    c = solo(type="PROMOTIONAL", schedule={"end_at": end, "end_action": "carry_over"})
    c.now = MONDAY + 12 * HOUR
    out = c.tick()
    assert c.st.status == "EXPIRED" and c.pool().visible > 0
    assert c.of(JACKPOT_STATE_CHANGED, out)[0].payload["new_state"] == "EXPIRED"
