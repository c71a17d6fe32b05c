"""The pool side of a drop: lock the prize, pay it, record the hit, reseed, release.

*When* a drop happens (the 7 trigger checks, evaluation delay, must-drop relaxation) and *who*
wins (distribution modes) belong to the trigger and selection stages; payout talks to the
wallet. They call these three functions, which keep the money rules in one place:

- ``begin_drop``  locks the pool (jackpot -> DROPPING) and fixes the prize: the displayed amount,
  rounded down to a whole unit for ``integer_wins_only``. Contributions to a locked pool are held
  in pending (spec payout step 1: "Contributions queue").
- ``settle_drop`` after the wallet confirms: debits the prize (the only way the displayed amount
  goes down apart from typed adjustments), records the hit (last N kept, N >= 25), reveals the
  cycle seed, starts the next cycle (seed + hidden carry-over), applies the held contributions,
  and returns the jackpot to ACTIVE (or EXPIRED after a final drop) when no drop is left.
- ``abort_drop``  releases the lock without paying (declined approval returning to the pool).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .compiled import CompiledJackpot
from .config import JackpotStatus, JackpotType, LevelStatus
from .contribution import flush_pending, pool_updated_event
from .errors import DropRejected
from .events import DROP_ABORTED, DROP_STARTED, JACKPOT_RESEEDED, WIN_RECORDED, EngineEvent, make_event
from .fault import suspend_for_fault
from .lifecycle import SYSTEM, transition_jackpot
from .money import floor_to_unit
from .pool import Hit, JackpotState
from .rng import SEED_BYTES, CycleDraws
from . import succession
from .seeding import reveal_event, start_cycle

__all__ = ["Winner", "DropTicket", "DropSettlement", "begin_drop", "settle_drop", "abort_drop"]

J = JackpotStatus


@dataclass(slots=True, frozen=True)
class Winner:
    player_id: str
    game_id: str
    brand_id: str
    bet_id: str


@dataclass(slots=True)
class DropTicket:
    level_id: str
    currency: str
    cycle: int
    win_amount: int
    events: list[EngineEvent] = field(default_factory=list)


@dataclass(slots=True)
class DropSettlement:
    level_id: str
    currency: str
    win_amount: int
    hit: Hit
    draws: CycleDraws | None  # the new cycle (None after a final drop)
    events: list[EngineEvent] = field(default_factory=list)


def begin_drop(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    *,
    cause_id: str,
    now: int,
    actor: str = SYSTEM,
    closing: bool = False,
) -> DropTicket:
    """Lock a pool for a drop and fix the prize. Jackpot goes to DROPPING.

    ``closing`` (a decommissioning drop, decommission.py): allowed in any status the jackpot can
    be decommissioned from and on any level status, and the prize is exact (nothing may remain)."""
    cl = cj.level(level_id)
    pool = state.pool(level_id, currency)
    if not closing:
        if state.status not in (J.ACTIVE, J.DROPPING):
            raise DropRejected(f"no drops while the jackpot is {state.status}")
        ls = state.level_status[cl.level_id]
        if ls == LevelStatus.NO_WIN:
            raise DropRejected(f"level '{cl.name}' is in NO_WIN mode: it grows but never drops")
        if ls != LevelStatus.ENABLED:
            raise DropRejected(f"level '{cl.name}' is {ls}")
    if pool.cycle == 0 or pool.closed:
        raise DropRejected(f"pool {level_id}/{currency} has no running cycle")
    if pool.locked:
        raise DropRejected(f"pool {level_id}/{currency} already has a drop in progress")
    win = floor_to_unit(pool.visible) if cl.integer_wins_only and not closing else pool.visible
    if win <= 0:
        raise DropRejected(f"pool {level_id}/{currency} has nothing to pay")
    pool.locked = True
    pool.lock_amount = win
    events: list[EngineEvent] = []
    if state.status == J.ACTIVE:
        events += transition_jackpot(
            cj, state, J.DROPPING, actor=actor, reason=f"drop on level '{cl.name}' ({currency})",
            cause_id=cause_id, now=now, _internal=True,
        )
    events.append(
        make_event(
            DROP_STARTED,
            cj.jackpot_id,
            cause_id,
            now,
            {"cycle_number": pool.cycle, "win_amount": win, "started_by": actor},
            level_id=cl.level_id,
            currency=currency,
        )
    )
    return DropTicket(cl.level_id, currency, pool.cycle, win, events)


def _final_update(cj: CompiledJackpot, pool, cause_id: str, now: int, events: list[EngineEvent]) -> None:
    """Publish the pool's latest PoolUpdated once (applying the queue may already have)."""
    ev = pool_updated_event(cj, pool, cause_id, now)
    events[:] = [e for e in events if e.event_id != ev.event_id]
    events.append(ev)


def _release(cj: CompiledJackpot, state: JackpotState, *, final: bool, cause_id: str, now: int, why: str) -> list[EngineEvent]:
    if state.status != J.DROPPING or state.locked_pools():
        return []
    new = J.EXPIRED if final and not state.closing else J.ACTIVE  # a decommission ends in ARCHIVED, on the tick
    events = transition_jackpot(cj, state, new, actor=SYSTEM, reason=why, cause_id=cause_id, now=now, _internal=True)
    if new == J.ACTIVE and state.fault:
        events += suspend_for_fault(cj, state, cause_id=f"{cause_id}|fault", now=now)
    return events


def settle_drop(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    winner: Winner | None,
    *,
    next_seed: bytes | None,
    cause_id: str,
    now: int,
    final: bool = False,
    payouts: list[tuple[Winner, int]] | None = None,
    announce: list[EngineEvent] | None = None,
) -> DropSettlement:
    """Pay the locked prize, record the hit, reveal the seed, reseed, release.

    ``payouts`` (the payout flow's multi-winner form) lists (winner, amount) pairs paying at most
    the locked prize; a part not paid (a declined or voided share) stays in the pool's reserve
    and funds the next seed. Without it, ``winner`` takes the whole locked prize. ``announce``
    events (JackpotWon) are published after the reveal and before the reseed (payout steps 8-9).
    ``final=True`` (timed/promotional end, or a decommission): no new cycle; the remaining reserve
    stays on the pool's meters, and the jackpot goes to EXPIRED once no drop is left (a
    decommissioned one back to ACTIVE, for the clock tick to pay what is left or archive it).
    """
    cl = cj.level(level_id)
    pool = state.pool(level_id, currency)
    if not pool.locked:
        raise DropRejected(f"pool {level_id}/{currency} has no drop in progress")
    if final and not state.closing and cj.type not in (JackpotType.TIMED.value, JackpotType.PROMOTIONAL.value):
        raise DropRejected(f"a final drop ends a TIMED or PROMOTIONAL jackpot or a decommission; this one is {cj.type}")
    if not final and (next_seed is None or len(next_seed) != SEED_BYTES):
        raise DropRejected(f"reseeding needs the next cycle's {SEED_BYTES}-byte seed")
    locked = pool.lock_amount
    if payouts is None:
        if winner is None:
            raise DropRejected("settling a drop needs a winner")
        payouts = [(winner, locked)]
    win = sum(a for _, a in payouts)
    if not payouts or any(a < 0 for _, a in payouts) or not 0 < win <= locked:
        raise DropRejected(f"payouts of {win} micros do not fit the locked prize of {locked} micros")

    pool.visible -= win
    m = pool.meters
    m.won += win
    m.hits += 1
    hits = [Hit(a, now, w.player_id, w.game_id, w.brand_id, w.bet_id, pool.cycle) for w, a in payouts]
    hit = hits[0]
    pool.hits.extend(hits)
    if len(pool.hits) > cj.hit_history:
        del pool.hits[: len(pool.hits) - cj.hit_history]
    # what the prize left on display (fraction of an integer-only win, unpaid shares) funds the next seed
    pool.carry += pool.visible
    pool.visible = 0

    first = payouts[0][0]
    recorded = {
        "cycle_number": pool.cycle,
        "win_amount": win,
        "winner_player_id": first.player_id,
        "winner_game_id": first.game_id,
        "winner_brand_id": first.brand_id,
        "trigger_bet_id": first.bet_id,
    }
    if len(payouts) > 1 or win != locked:
        recorded["winners"] = [[w.player_id, a] for w, a in payouts]
        recorded["returned_amount"] = locked - win
    events: list[EngineEvent] = [
        make_event(WIN_RECORDED, cj.jackpot_id, cause_id, now, recorded, level_id=cl.level_id, currency=currency),
        reveal_event(cj, pool, cause_id, now),
    ]
    events.extend(announce or ())
    pool.locked = False
    pool.lock_amount = 0
    draws = None
    if final:
        pool.carry += pool.hidden + pool.pending
        pool.hidden = pool.pending = pool.pending_house = 0
        pool.closed = True
    else:
        draws = start_cycle(cj, state, cl.level_id, currency, next_seed, cause=cause_id, now=now, events=events)
        cj = succession.running(cj, state)  # a cycle drawn under a pending change runs under its amounts
        events.append(
            make_event(
                JACKPOT_RESEEDED,
                cj.jackpot_id,
                cause_id,
                now,
                {"new_seed_amount": pool.seed_amount, "cycle_number": pool.cycle, "commitment": pool.commitment},
                level_id=cl.level_id,
                currency=currency,
            )
        )
        flush_pending(cj, state, cl.index, currency, cause_id, now, events)
    _final_update(cj, pool, cause_id, now, events)
    events += _release(cj, state, final=final, cause_id=cause_id, now=now, why="final drop settled" if final else "drop settled and reseeded")
    return DropSettlement(cl.level_id, currency, win, hit, draws, events)


def abort_drop(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    *,
    actor: str,
    reason: str,
    cause_id: str,
    now: int,
) -> list[EngineEvent]:
    """Release a locked pool without paying; the prize stays in the pool, no reseed."""
    if not reason:
        raise DropRejected("aborting a drop needs a reason")
    cl = cj.level(level_id)
    pool = state.pool(level_id, currency)
    if not pool.locked:
        raise DropRejected(f"pool {level_id}/{currency} has no drop in progress")
    pool.locked = False
    pool.lock_amount = 0
    events = [
        make_event(
            DROP_ABORTED,
            cj.jackpot_id,
            cause_id,
            now,
            {"cycle_number": pool.cycle, "actor": actor, "reason": reason},
            level_id=cl.level_id,
            currency=currency,
        )
    ]
    flush_pending(cj, state, cl.index, currency, cause_id, now, events)
    _final_update(cj, pool, cause_id, now, events)
    events += _release(cj, state, final=False, cause_id=cause_id, now=now, why=f"drop aborted: {reason}")
    return events
