"""Drop timing: modes, time windows, deadlines, cooldown, snooze and the must-drop relaxation.

Time is always an argument (epoch milliseconds, UTC); the engine never reads a clock. Local
times (drop windows, schedule deadlines) are computed with ``zoneinfo`` so DST is handled.

Drop modes (spec: Drop Timing Modes):

- range      a qualifying bet drops the pool once it is past its target, every check passes and
             the evaluation delay has run out;
- must_drop  as range, with the conditions relaxed near Win Max (90%: min_players halved; 95%:
             min_bet halved; 98%: time-of-day restrictions lifted; 100%: any eligible player's
             bet drops it, no delay) and, with a recurring schedule, a drop at each window's
             deadline unless the pool already dropped in that window;
- time_drop  no bet triggers: the pool drops at each deadline regardless of its amount;
- manual     no automatic drop at all: only an operator's force drop.

A deadline that cannot be honoured at once (drop in progress, paused, snoozed, nobody to award)
stays overdue: the clock retries it, and the first eligible bet after it drops the pool.
Cooldown: no trigger evaluation for ``drop_cooldown_minutes`` after a reseed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .compiled import CompiledJackpot, CompiledLevel
from .config import DropMode, TimeWindow
from .pool import PoolState

__all__ = [
    "RANGE",
    "MUST_DROP",
    "TIME_DROP",
    "MANUAL",
    "local_time",
    "to_ms",
    "in_windows",
    "schedule_deadline",
    "relax_stage",
    "in_cooldown",
    "snoozed",
    "deadline_overdue",
    "has_deadlines",
    "schedule_open",
]

RANGE = DropMode.RANGE.value
MUST_DROP = DropMode.MUST_DROP.value
TIME_DROP = DropMode.TIME_DROP.value
MANUAL = DropMode.MANUAL.value

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # ZoneInfo caches its instances


def local_time(now: int, tz: str) -> datetime:
    """Epoch ms -> aware local datetime (exact, no float)."""
    return (_EPOCH + timedelta(milliseconds=now)).astimezone(_zone(tz))


def to_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // _MS


def in_windows(windows: list[TimeWindow], tz: str, now: int) -> bool:
    """True when ``now`` falls in any window; no windows means always (24/7)."""
    if not windows:
        return True
    t = local_time(now, tz)
    wd, tod = t.weekday(), t.time().replace(tzinfo=None)
    for w in windows:
        if w.start == w.end:
            if wd in w.weekdays:
                return True
        elif w.start < w.end:
            if wd in w.weekdays and w.start <= tod < w.end:
                return True
        else:  # runs past midnight: opens on a listed weekday, closes the next day
            if (wd in w.weekdays and tod >= w.start) or ((wd - 1) % 7 in w.weekdays and tod < w.end):
                return True
    return False


def _at(d: date, t: time | None, tz: str) -> datetime:
    return datetime.combine(d, t or time(0), tzinfo=_zone(tz))


def schedule_deadline(cj: CompiledJackpot, now: int) -> tuple[int, int] | None:
    """(window opens, deadline) of the recurring schedule window containing ``now`` or the next
    one; None without a recurring schedule (a one-off campaign end is handled as the final drop)."""
    sch = cj.config.schedule
    if sch is None or sch.recurrence == "none":
        return None
    tz = sch.timezone
    t = local_time(now, tz)
    if sch.recurrence == "daily":
        for k in (0, 1):
            d = t.date() + timedelta(days=k)
            close = _at(d, sch.close_time, tz)
            if to_ms(close) >= now:
                return to_ms(_at(d, sch.open_time, tz)), to_ms(close)
        raise AssertionError("unreachable")
    # weekly: open_weekday open_time to the next close_weekday close_time
    assert sch.open_weekday is not None and sch.close_weekday is not None
    base = t.date() - timedelta(days=(t.weekday() - sch.open_weekday) % 7)
    span = (sch.close_weekday - sch.open_weekday) % 7
    for k in (-7, 0, 7):
        od = base + timedelta(days=k)
        opens = _at(od, sch.open_time, tz)
        close = _at(od + timedelta(days=span), sch.close_time, tz)
        if close <= opens:
            close = _at(od + timedelta(days=span + 7), sch.close_time, tz)
        if to_ms(close) >= now:
            return to_ms(opens), to_ms(close)
    raise AssertionError("unreachable")


_FOREVER = 1 << 62
_open_spans: dict[str, tuple[bool, int, int]] = {}  # fingerprint -> (open, from, until): a span of one answer


def schedule_open(cj: CompiledJackpot, now: int) -> bool:
    """Whether a scheduled jackpot takes part at ``now``: inside its campaign (``start_at`` to
    ``end_at``) and, with a recurrence, inside the daily or weekly window.  Outside, bets feed
    nothing and trigger nothing (a Lucky Hour bet at 09:00 is not a Lucky Hour bet); the
    deadline at a window's close still drops it (``handlers.tick``).  Asked for every bet, so
    the answer is kept for the span it holds (a window, or the gap to the next one)."""
    sch = cj.config.schedule
    if sch is None:
        return True
    span = _open_spans.get(cj.fingerprint)
    if span is not None and span[1] <= now < span[2]:
        return span[0]
    span = _schedule_span(cj, now)
    if len(_open_spans) >= 4096:  # one entry per config version: bound it all the same
        _open_spans.clear()
    _open_spans[cj.fingerprint] = span
    return span[0]


def schedule_window(cj: CompiledJackpot, now: int) -> tuple[bool, int | None]:
    """Whether the jackpot takes part at ``now``, and until when that holds (epoch ms; None: for
    good), for what players are shown: "open until 22:00", "opens at 20:00"."""
    if cj.config.schedule is None:
        return True, None
    is_open, _, until = _schedule_span(cj, now)
    if not is_open and until == now + 1:  # exactly at a close: the next window is asked for
        is_open, _, until = _schedule_span(cj, now + 1)
    return is_open, (None if until >= _FOREVER else until)


def _schedule_span(cj: CompiledJackpot, now: int) -> tuple[bool, int, int]:
    sch = cj.config.schedule
    assert sch is not None
    start = to_ms(sch.start_at) if sch.start_at else -_FOREVER
    end = to_ms(sch.end_at) if sch.end_at else _FOREVER
    if now < start:
        return False, -_FOREVER, start
    if now >= end:
        return False, end, _FOREVER
    if sch.recurrence == "none":
        return True, start, end
    opens, closes = schedule_deadline(cj, now)  # type: ignore[misc]  (a recurrence has windows)
    if now < opens:
        return False, now, min(opens, end)
    if now < closes:
        return True, opens, min(closes, end)
    return False, now, now + 1  # exactly at the close: the next window is asked for next time


def has_deadlines(cj: CompiledJackpot) -> bool:
    sch = cj.config.schedule
    return cj.drop_mode in (MUST_DROP, TIME_DROP) and sch is not None and sch.recurrence != "none"


def relax_stage(cj: CompiledJackpot, cl: CompiledLevel, pool: PoolState) -> int:
    """Must-drop relaxation stage: 0 none, 1 at 90% of Win Max, 2 at 95%, 3 at 98%, 4 at 100%."""
    if cj.drop_mode != MUST_DROP:
        return 0
    cur = pool.visible + pool.hidden
    r = cl.limits[pool.currency].relax_at
    stage = 0
    for at in r:
        if cur >= at:
            stage += 1
        else:
            break
    return stage


def in_cooldown(cl: CompiledLevel, pool: PoolState, now: int) -> bool:
    """No trigger evaluation within the cooldown after a reseed that followed a drop."""
    return bool(cl.cooldown_ms and pool.last_drop_at and now < pool.started_at + cl.cooldown_ms)


def snoozed(pool: PoolState, now: int) -> bool:
    return now < pool.snooze_until


def deadline_overdue(cj: CompiledJackpot, pool: PoolState, now: int) -> bool:
    """A must-drop / time-drop deadline passed and the pool has not dropped in that window."""
    return bool(
        pool.deadline_at
        and now >= pool.deadline_at
        and pool.last_drop_at < pool.deadline_open
        and cj.drop_mode in (MUST_DROP, TIME_DROP)
    )
