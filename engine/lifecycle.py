"""Lifecycle state machines for jackpots and levels; illegal transitions are refused with a reason.

Jackpot (spec: Lifecycle States)::

    DRAFT    -> ACTIVE
    ACTIVE   -> PAUSED, DROPPING, EXPIRED, ARCHIVED
    PAUSED   -> ACTIVE, ARCHIVED
    DROPPING -> ACTIVE (after reseed), EXPIRED
    EXPIRED  -> ARCHIVED
    ARCHIVED    terminal

Guards on top of the table: DRAFT->ACTIVE starts a cycle on every pool (``activate``); DROPPING
is entered and left only by the drop functions in ``drops.py``, never by hand; only TIMED and
PROMOTIONAL jackpots expire; archiving needs no drop in progress and nothing pending; a pause
may be prohibited by the compliance profile.

Levels (the spec lists the states, not the transitions; these are the engine's)::

    ENABLED  -> PAUSED, NO_WIN, DISABLED
    PAUSED   -> ENABLED, NO_WIN, DISABLED
    NO_WIN   -> ENABLED, PAUSED, DISABLED
    DISABLED -> ENABLED

PAUSED holds the level's contributions in pending (display frozen); NO_WIN grows but never
drops; DISABLED takes no new contributions (its split goes to the other levels) but keeps its
balance. A level with a drop in progress cannot change state. Pending contributions are applied
when the jackpot resumes or the level leaves PAUSED.
"""

from __future__ import annotations

from .compiled import CompiledJackpot
from .config import JackpotStatus, JackpotType, LevelStatus, OperatorAction
from .contribution import flush_pending, pool_updated_event
from .errors import IllegalTransition
from .events import JACKPOT_STATE_CHANGED, EngineEvent, make_event
from .pool import JackpotState, PoolState
from .rng import SeedSource
from .seeding import pre_seed, start_cycle

__all__ = [
    "JACKPOT_TRANSITIONS",
    "LEVEL_TRANSITIONS",
    "new_jackpot_state",
    "can_transition",
    "transition_jackpot",
    "activate",
    "pause",
    "resume",
    "expire",
    "archive",
    "set_level_status",
    "ensure_pools",
    "SYSTEM",
]

SYSTEM = "system"

J = JackpotStatus
L = LevelStatus

JACKPOT_TRANSITIONS: dict[str, frozenset[str]] = {
    J.DRAFT: frozenset({J.ACTIVE}),
    J.ACTIVE: frozenset({J.PAUSED, J.DROPPING, J.EXPIRED, J.ARCHIVED}),
    J.PAUSED: frozenset({J.ACTIVE, J.ARCHIVED}),
    J.DROPPING: frozenset({J.ACTIVE, J.EXPIRED}),
    J.EXPIRED: frozenset({J.ARCHIVED}),
    J.ARCHIVED: frozenset(),
}

LEVEL_TRANSITIONS: dict[str, frozenset[str]] = {
    L.ENABLED: frozenset({L.PAUSED, L.NO_WIN, L.DISABLED}),
    L.PAUSED: frozenset({L.ENABLED, L.NO_WIN, L.DISABLED}),
    L.NO_WIN: frozenset({L.ENABLED, L.PAUSED, L.DISABLED}),
    L.DISABLED: frozenset({L.ENABLED}),
}


def new_jackpot_state(cj: CompiledJackpot) -> JackpotState:
    """A DRAFT jackpot: one empty pool per level per currency, levels in their configured status."""
    return JackpotState(
        jackpot_id=cj.jackpot_id,
        status=J.DRAFT.value,
        level_status={cl.level_id: cl.initial_status for cl in cj.levels},
        pools={c: {cl.level_id: PoolState(cl.level_id, c) for cl in cj.levels} for c in cj.currencies},
    )


def can_transition(current: str, new: str) -> bool:
    return new in JACKPOT_TRANSITIONS.get(current, frozenset())


def _state_changed(
    cj: CompiledJackpot,
    state: JackpotState,
    old: str,
    new: str,
    *,
    actor: str,
    reason: str,
    cause_id: str,
    now: int,
    level_id: str | None = None,
) -> EngineEvent:
    return make_event(
        JACKPOT_STATE_CHANGED,
        cj.jackpot_id,
        f"{cause_id}|{level_id or ''}|{old}>{new}",
        now,
        {"level_id": level_id, "old_state": old, "new_state": new, "changed_by": actor, "reason": reason},
    )


def transition_jackpot(
    cj: CompiledJackpot,
    state: JackpotState,
    new_status: str,
    *,
    actor: str,
    reason: str,
    cause_id: str,
    now: int,
    _internal: bool = False,
) -> list[EngineEvent]:
    """Move the jackpot to ``new_status`` if the table and the guards allow it.

    Side effects of the transition (starting cycles, applying pending contributions) are done
    by the named helpers (``activate``, ``resume``...), which call this.
    """
    old = state.status
    new = JackpotStatus(new_status).value
    if old == new:
        raise IllegalTransition(f"jackpot is already {old}")
    if not can_transition(old, new):
        allowed = ", ".join(sorted(JACKPOT_TRANSITIONS[old])) or "nothing (terminal state)"
        raise IllegalTransition(f"jackpot cannot go from {old} to {new}; {old} may go to {allowed}")
    if not reason:
        raise IllegalTransition("a state change needs a reason")
    if not _internal:
        if new == J.DROPPING:
            raise IllegalTransition("DROPPING is entered by starting a drop (drops.begin_drop), not by hand")
        if old == J.DROPPING:
            locked = state.locked_pools()
            if locked:
                names = ", ".join(f"{p.level_id}/{p.currency}" for p in locked)
                raise IllegalTransition(f"a drop is still in progress on {names}")
        if old == J.DRAFT:
            raise IllegalTransition("DRAFT -> ACTIVE starts every pool's first cycle: use lifecycle.activate")
    if new == J.EXPIRED and cj.type not in (JackpotType.TIMED.value, JackpotType.PROMOTIONAL.value):
        raise IllegalTransition(f"only TIMED or PROMOTIONAL jackpots expire; this one is {cj.type}")
    if new == J.ARCHIVED:
        if state.locked_pools():
            raise IllegalTransition("cannot archive while a drop is in progress")
        pending = [p for p in state.iter_pools() if p.pending]
        if pending:
            names = ", ".join(f"{p.level_id}/{p.currency}" for p in pending)
            raise IllegalTransition(
                f"cannot archive with pending contributions on {names}; resume the jackpot or its paused levels first"
            )
    if new == J.PAUSED and OperatorAction.PAUSE.value in cj.prohibited_actions and actor != SYSTEM:
        raise IllegalTransition("the compliance profile prohibits pausing this jackpot")
    state.status = new
    state.status_changed_at = now
    events = [_state_changed(cj, state, old, new, actor=actor, reason=reason, cause_id=cause_id, now=now)]
    if new == J.EXPIRED:
        events += _apply_held_at_expiry(cj, state, cause_id, now)
    return events


def _apply_held_at_expiry(cj: CompiledJackpot, state: JackpotState, cause_id: str, now: int) -> list[EngineEvent]:
    """An expired jackpot takes no more contributions, so what paused levels held is applied to
    their pools now (capped and routed like any contribution) instead of waiting forever."""
    events: list[EngineEvent] = []
    touched: dict = {}
    for currency in cj.currencies:
        for cl in cj.levels:
            pool = state.pools[currency][cl.level_id]
            if (pool.pending or pool.pending_house) and pool.cycle and not pool.closed and not pool.locked:
                flush_pending(cj, state, cl.index, currency, cause_id, now, events, touched)
    for pool, cause, at in touched.values():
        events.append(pool_updated_event(cj, pool, cause, at))
    return events


def activate(
    cj: CompiledJackpot,
    state: JackpotState,
    seed_source: SeedSource,
    *,
    actor: str,
    reason: str = "activated",
    cause_id: str,
    now: int,
    pre_seeds: dict[tuple[str, str], int] | None = None,
) -> list[EngineEvent]:
    """DRAFT -> ACTIVE: start cycle 1 of every pool from a fresh seed, then apply pre-seeds
    ((level_id, currency) -> micros; by default the config's launch ``pre_seed`` of each level)
    before any contribution can arrive."""
    if state.status != J.DRAFT:
        raise IllegalTransition(f"only a DRAFT jackpot can be activated; this one is {state.status}")
    if pre_seeds is None:
        pre_seeds = {(cl.level_id, c): cl.limits[c].pre_seed for cl in cj.levels for c in cj.currencies
                     if cl.limits[c].pre_seed > 0}
    for key in pre_seeds or {}:
        state.pool(*key)  # unknown pool -> KeyError before anything changes
    events: list[EngineEvent] = []
    events += transition_jackpot(cj, state, J.ACTIVE, actor=actor, reason=reason, cause_id=cause_id, now=now, _internal=True)
    for currency in cj.currencies:
        for cl in cj.levels:
            pool = state.pools[currency][cl.level_id]
            if pool.cycle:
                continue
            start_cycle(cj, state, cl.level_id, currency, seed_source(cl.level_id, currency, 1), cause=cause_id, now=now, events=events)
    for (level_id, currency), amount in (pre_seeds or {}).items():
        events += pre_seed(cj, state, level_id, currency, amount, actor=actor, cause_id=f"{cause_id}|pre-seed", now=now)
    for pool in state.iter_pools():
        events.append(pool_updated_event(cj, pool, cause_id, now))
    return events


def pause(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str, now: int) -> list[EngineEvent]:
    """ACTIVE -> PAUSED: display freezes, contributions are held in pending, no drops."""
    return transition_jackpot(cj, state, J.PAUSED, actor=actor, reason=reason, cause_id=cause_id, now=now)


def resume(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str, now: int) -> list[EngineEvent]:
    """PAUSED -> ACTIVE, then apply the contributions held during the pause."""
    if state.status != J.PAUSED:
        raise IllegalTransition(f"only a PAUSED jackpot can be resumed; this one is {state.status}")
    events = transition_jackpot(cj, state, J.ACTIVE, actor=actor, reason=reason, cause_id=cause_id, now=now)
    events += _flush_all(cj, state, cause_id, now)
    return events


def expire(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str, now: int) -> list[EngineEvent]:
    """ACTIVE -> EXPIRED for a timed/promotional jackpot past its end (no more contributions)."""
    return transition_jackpot(cj, state, J.EXPIRED, actor=actor, reason=reason, cause_id=cause_id, now=now)


def archive(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str, now: int) -> list[EngineEvent]:
    return transition_jackpot(cj, state, J.ARCHIVED, actor=actor, reason=reason, cause_id=cause_id, now=now)


def _flush_all(cj: CompiledJackpot, state: JackpotState, cause_id: str, now: int, level_id: str | None = None) -> list[EngineEvent]:
    events: list[EngineEvent] = []
    if state.status not in (J.ACTIVE, J.DROPPING):
        return events
    touched: dict = {}
    for currency in cj.currencies:
        for cl in cj.levels:
            if level_id is not None and cl.level_id != level_id:
                continue
            pool = state.pools[currency][cl.level_id]
            if not pool.pending and not pool.pending_house:
                continue
            if pool.locked or pool.closed or pool.cycle == 0 or state.level_status[cl.level_id] == L.PAUSED:
                continue
            flush_pending(cj, state, cl.index, currency, cause_id, now, events, touched)
    for pool, cause, at in touched.values():
        events.append(pool_updated_event(cj, pool, cause, at))
    return events


def set_level_status(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    new_status: str,
    *,
    actor: str,
    reason: str,
    cause_id: str,
    now: int,
) -> list[EngineEvent]:
    """Change a level's status; leaving PAUSED applies the level's pending contributions."""
    cl = cj.level(level_id)
    old = state.level_status[cl.level_id]
    new = LevelStatus(new_status).value
    if old == new:
        raise IllegalTransition(f"level '{cl.name}' is already {old}")
    if new not in LEVEL_TRANSITIONS[old]:
        allowed = ", ".join(sorted(LEVEL_TRANSITIONS[old]))
        raise IllegalTransition(f"level '{cl.name}' cannot go from {old} to {new}; {old} may go to {allowed}")
    if not reason:
        raise IllegalTransition("a state change needs a reason")
    if state.status in (J.EXPIRED, J.ARCHIVED):
        raise IllegalTransition(f"the jackpot is {state.status}; its levels no longer change")
    if new == L.NO_WIN and OperatorAction.NO_WIN_MODE.value in cj.prohibited_actions:
        raise IllegalTransition("the compliance profile prohibits no-win mode")
    if new == L.PAUSED and OperatorAction.PAUSE.value in cj.prohibited_actions and actor != SYSTEM:
        raise IllegalTransition("the compliance profile prohibits pausing")
    locked = [p for p in state.iter_pools() if p.level_id == cl.level_id and p.locked]
    if locked:
        raise IllegalTransition(f"level '{cl.name}' has a drop in progress")
    state.level_status[cl.level_id] = new
    events = [
        _state_changed(cj, state, old, new, actor=actor, reason=reason, cause_id=cause_id, now=now, level_id=cl.level_id)
    ]
    if old == L.PAUSED:
        events += _flush_all(cj, state, cause_id, now, level_id=cl.level_id)
    return events


def ensure_pools(
    cj: CompiledJackpot, state: JackpotState, seed_source: SeedSource, *, cause_id: str, now: int
) -> list[EngineEvent]:
    """Add the pools and level statuses that a newer config version introduces (a new level or
    currency). New pools of a live jackpot start their first cycle at once; existing pools and
    their balances are never touched. Call ``adjustments.check_limits`` for the other direction."""
    events: list[EngineEvent] = []
    if state.jackpot_id != cj.jackpot_id:
        raise ValueError(f"state of jackpot {state.jackpot_id} given the config of {cj.jackpot_id}")
    live = state.status in (J.ACTIVE, J.PAUSED, J.DROPPING)
    for cl in cj.levels:
        state.level_status.setdefault(cl.level_id, cl.initial_status)
    for currency in cj.currencies:
        by_level = state.pools.setdefault(currency, {})
        for cl in cj.levels:
            if cl.level_id in by_level:
                continue
            by_level[cl.level_id] = PoolState(cl.level_id, currency)
            if live:
                start_cycle(cj, state, cl.level_id, currency, seed_source(cl.level_id, currency, 1),
                            cause=cause_id, now=now, events=events)
                events.append(pool_updated_event(cj, by_level[cl.level_id], cause_id, now))
    return events
