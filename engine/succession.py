"""A ``next_cycle`` change taking effect exactly when the current cycle ends (regulatory item 7).

Under a compliance profile that lets math change only after the current jackpot is won, an
operator's edit waits for the levels whose math it touches to drop and reseed. The engine, not a
scheduler polling the database, draws that boundary, so no bet is applied under the old math
after it and the new cycle itself is drawn under the new math:

- the published record of the jackpot's live version carries the version that follows it
  (``next_cycle``: the config and the levels it waits for); the worker compiles it as the live
  version's ``successor``;
- the first time the state meets a successor it notes the cycle every waited-for pool is in
  (:func:`note`);
- the reseed that ends the last of those cycles draws its new cycle from the successor's level
  (:func:`cycle_level`, used by ``seeding.start_cycle``): seed range, win range, warn band,
  evaluation delay;
- from the next input on, the successor is the jackpot's version (:func:`due`); the caller adopts
  it (new pools, limits) like any new version and publishes :func:`taken`, the engine's word
  that the change is in effect, from which the admin API records it as the published version. A
  cancellation that reaches the engine after that is too late, and the admin API says so.

Levels that reseeded earlier, while another waited-for cycle still ran, began that cycle under the
old version: one version applies to the whole jackpot at a time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .compiled import CompiledJackpot, CompiledLevel
from .events import OPERATOR_ACTION, EngineEvent, make_event
from .pool import JackpotState

NEXT_CYCLE = "next_cycle"  # the key of the following version in a published config record
ACTOR = "system:config"
ACTION = "next_cycle"


def split(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A published record as (the live config, ``{"config", "levels"}`` of its successor or None)."""
    if NEXT_CYCLE not in doc:
        return doc, None
    doc = dict(doc)
    return doc, doc.pop(NEXT_CYCLE)


def attach(cj: CompiledJackpot, successor: CompiledJackpot, following: dict[str, Any]) -> CompiledJackpot:
    """``cj`` carrying the version that follows it once the current cycles of the levels named in
    ``following`` (the record's ``next_cycle``) end."""
    return replace(cj, successor=successor, successor_levels=frozenset(str(lv) for lv in following["levels"]),
                   successor_change=str(following.get("change_id") or ""))


def note(cj: CompiledJackpot, state: JackpotState) -> bool:
    """Record the cycle each waited-for pool is in when a successor is first met, and forget one
    that was withdrawn (the change was cancelled); whether the state changed."""
    nxt = cj.successor
    if nxt is None:
        if state.successor:
            state.successor = {}
            return True
        return False
    if state.successor.get("fingerprint") == nxt.fingerprint:
        return False
    state.successor = {"fingerprint": nxt.fingerprint, "cycles": {
        _key(p.level_id, p.currency): p.cycle for p in state.iter_pools()
        if p.level_id in cj.successor_levels and not p.closed}}
    return True


def _waiting(cj: CompiledJackpot, state: JackpotState) -> list[str]:
    """The noted pools still in the cycle they were in (a closed pool never reseeds: not waited for)."""
    if cj.successor is None or state.successor.get("fingerprint") != cj.successor.fingerprint:
        return ["unnoted"]
    out = []
    for key, cycle in state.successor["cycles"].items():
        level_id, currency = key.split("|", 1)
        pool = state.pools.get(currency, {}).get(level_id)
        if pool is not None and not pool.closed and pool.cycle <= cycle:
            out.append(key)
    return out


def due(cj: CompiledJackpot, state: JackpotState) -> bool:
    """Whether every cycle the successor waits for has ended: it is the jackpot's version now."""
    return cj.successor is not None and not _waiting(cj, state)


def cycle_level(cj: CompiledJackpot, state: JackpotState, level_id: str, currency: str) -> CompiledLevel:
    """The level a new cycle of this pool is drawn under: the successor's when this reseed ends the
    last cycle the successor waits for (and the successor still has this pool), else the live one."""
    nxt = cj.successor
    if nxt is not None and _waiting(cj, state) == [_key(level_id, currency)] and level_id in nxt.level_index:
        cl = nxt.level(level_id)
        if currency in cl.limits:
            return cl
    return cj.level(level_id)


def taken(cj: CompiledJackpot, state: JackpotState, now: int) -> EngineEvent:
    """The audit record of a successor taken (an operator-action record under the change's id),
    with the cycle each waited-for pool is now in."""
    cycles = {key: _pool_cycle(state, key) for key in state.successor.get("cycles", {})}
    return make_event(OPERATOR_ACTION, cj.jackpot_id, f"{cj.successor_change}|{cj.successor.fingerprint}|taken",
                      now, {"command_id": cj.successor_change, "action": ACTION, "actor": ACTOR, "approvals": [],
                            "reason": "next_cycle change in effect from the reseed that ended the cycle",
                            "outcome": "applied", "detail": f"version {cj.successor.fingerprint[:12]}; cycles now "
                            + ", ".join(f"{k}: {c}" for k, c in sorted(cycles.items()))})


def _pool_cycle(state: JackpotState, key: str) -> int:
    level_id, currency = key.split("|", 1)
    pool = state.pools.get(currency, {}).get(level_id)
    return pool.cycle if pool is not None else 0


def _key(level_id: str, currency: str) -> str:
    return f"{level_id}|{currency}"
