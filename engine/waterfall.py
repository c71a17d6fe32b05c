"""Waterfall cascade: a level's drop sets off the levels below it.

``drop_level`` is the one way every drop starts (a bet's trigger, an operator's force drop, a
deadline, a cascade, the campaign's final drop): it runs the payout flow's first steps
(``payout.start_drop``) and, when the dropping level has its waterfall enabled, schedules the
cascade: scope ``full`` drops every lower level (display order), ``partial`` only the next one;
level k of the cascade drops ``k x cascade_delay_seconds`` after the origin (0 = in the same
call, in order). Winner mode ``same`` gives each cascaded level to the origin's winners;
``independent`` draws a new winner per level from the snapshot at its own drop, excluding the
cascade's earlier winners (unless nobody else is eligible). Only the origin level's waterfall
applies: cascaded drops do not cascade further.

Scheduled cascades live in ``JackpotState.cascades`` and are fired by the clock tick when due;
while the jackpot is PAUSED they wait. A level that cannot drop when its turn comes (not
ENABLED, locked, closed, snoozed, in cooldown, nobody to award) is skipped with a
``CascadeSkipped`` event naming the reason.
"""

from __future__ import annotations

from .compiled import CompiledJackpot, CompiledLevel
from .config import JackpotStatus, LevelStatus
from .errors import DropRejected
from .events import CASCADE_SCHEDULED, CASCADE_SKIPPED, make_event
from .payout import Output, start_drop
from .pool import JackpotState
from .timing import in_cooldown, relax_stage, snoozed
from .wins import WinRecord

__all__ = ["drop_level", "cascade_targets", "fire_due"]

SAME = "same"


def cascade_targets(cj: CompiledJackpot, cl: CompiledLevel) -> list[CompiledLevel]:
    enabled, _, scope, _ = cl.waterfall
    if not enabled:
        return []
    below = list(cj.levels[cl.index + 1:])
    return below if scope == "full" else below[:1]


def drop_level(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    *,
    kind: str,
    cause: str,
    actor: str,
    now: int,
    stage: int = 0,
    trigger: tuple[str, str, str, str] | None = None,
    final: bool = False,
) -> tuple[WinRecord, Output]:
    """Start a drop (payout steps 1-5) and the waterfall it sets off."""
    win, out = start_drop(cj, state, level_id, currency, kind=kind, cause=cause, actor=actor, now=now,
                          stage=stage, trigger=trigger, final=final)
    cl = cj.level(level_id)
    targets = cascade_targets(cj, cl)
    if targets and not final:
        _, delay_ms, _, mode = cl.waterfall
        players: list[str] = []
        for c in win.mains():
            players += [c.player_id, c.brand_id, c.game_id, c.jurisdiction] if mode == SAME else [c.player_id]
        for k, t in enumerate(targets, 1):
            due = now + delay_ms * k
            state.cascades.append([due, t.level_id, currency, win.win_id, mode, list(players)])
            out.events.append(
                make_event(CASCADE_SCHEDULED, cj.jackpot_id, f"{win.win_id}|cascade|{t.level_id}", now,
                           {"origin_win_id": win.win_id, "origin_level_id": cl.level_id, "due_at": due,
                            "order": k, "winner_mode": mode}, level_id=t.level_id, currency=currency)
            )
        if delay_ms == 0:
            out.extend(fire_due(cj, state, now))
    return win, out


def fire_due(cj: CompiledJackpot, state: JackpotState, now: int) -> Output:
    """Fire the scheduled cascade drops that are due, in order."""
    out = Output()
    if not state.cascades or state.status == JackpotStatus.PAUSED:
        return out
    while True:
        due = [e for e in state.cascades if e[0] <= now]
        if not due:
            return out
        entry = min(due, key=lambda e: e[0])  # stable: the earliest scheduled first
        state.cascades.remove(entry)
        _fire(cj, state, entry, now, out)


def _fire(cj: CompiledJackpot, state: JackpotState, entry: list, now: int, out: Output) -> None:
    _, level_id, currency, origin, mode, players = entry
    cl = cj.level(level_id)
    pool = state.pool(level_id, currency)
    reason = None
    if state.status not in (JackpotStatus.ACTIVE, JackpotStatus.DROPPING):
        reason = f"jackpot is {state.status}"
    elif state.level_status[cl.level_id] != LevelStatus.ENABLED:
        reason = f"level is {state.level_status[cl.level_id]}"
    elif snoozed(pool, now):
        reason = "drop delayed by an operator"
    elif in_cooldown(cl, pool, now):
        reason = "level in drop cooldown"
    else:
        try:
            stage = relax_stage(cj, cl, pool)
            if mode == SAME:
                same = [players[i:i + 4] for i in range(0, len(players), 4)]
                start = start_drop(cj, state, level_id, currency, kind="cascade", cause=f"{origin}|cascade",
                                   actor="system", now=now, stage=stage, same=same, origin=origin)
            else:
                start = start_drop(cj, state, level_id, currency, kind="cascade", cause=f"{origin}|cascade",
                                   actor="system", now=now, stage=stage, exclude=frozenset(players), origin=origin)
            win, o = start
            out.extend(o)
            if mode != SAME:
                won = [c.player_id for c in win.mains()]
                for e in state.cascades:
                    if e[3] == origin:
                        e[5].extend(won)
        except DropRejected as e:
            reason = e.reason
    if reason:
        out.events.append(
            make_event(CASCADE_SKIPPED, cj.jackpot_id, f"{origin}|cascade|{level_id}|skip", now,
                       {"origin_win_id": origin, "reason": reason}, level_id=level_id, currency=currency)
        )
