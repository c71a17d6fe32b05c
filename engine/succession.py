"""A ``next_cycle`` change taking effect exactly when the current cycle ends (regulatory item 7).

Under a compliance profile that lets math change only after the current jackpot is won, an
operator's edit waits for the levels whose math it touches to drop and reseed. The engine, not a
scheduler polling the database, draws that boundary, in the order of the jackpot's own inputs:

- the admin API sends the following version as a ``schedule_change`` command (the config and the
  levels it waits for); the state keeps it (:func:`schedule`) with the cycle each waited-for pool
  is in, so a restart or a replay decides exactly as the first run did. A ``cancel_change``
  command withdraws it, unless it was taken (:func:`cancel`);
- each waited-for pool's reseed draws its new cycle from the following version's level
  (:func:`cycle_level`, used by ``seeding.start_cycle``: seed range, win range, warn band,
  evaluation delay), and from then on that pool runs under the following version's amounts (Win
  Max, bet limits, maximum contribution: :func:`running`), so a cycle never meets the limits of
  the version it was not drawn under. Fields that span the jackpot (rates, splits, games) switch
  for every pool together, at the take;
- once every waited-for pool has started a new cycle (or closed), the following version is taken
  (:func:`due`, :func:`take`, with the input that ended the last cycle): from the next input on it
  runs the jackpot, and the ``OperatorActionRecorded`` it emits under the change's id
  (:func:`take_record`) is the admin API's cue to record it as the published version. Until the
  live config record is another version than the one it replaced, the jackpot keeps running it.

A following version may not remove a level or a currency (its pools hold players' money and a
running cycle): that is refused here and by the admin API.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .compiled import CompiledJackpot, CompiledLevel, compile_jackpot
from .config import Jackpot
from .errors import DropRejected
from .events import OPERATOR_ACTION, EngineEvent, make_event
from .pool import JackpotState

SCHEDULE = "schedule_change"
CANCEL = "cancel_change"
ACTOR = "system:config"
TAKEN = "next_cycle"  # the action of the engine's own record that it took a change

_compiled: dict[str, CompiledJackpot] = {}  # fingerprint -> a following version, compiled (a few at a time)


def schedule(cj: CompiledJackpot, state: JackpotState, *, change_id: str, config_json: str, levels: list[str]) -> str:
    """Keep the version that follows at the end of the current cycles of ``levels``; it replaces
    one not taken yet. Refused on a jackpot being decommissioned or ended, while another change is
    taking effect, or for a config the engine cannot compile."""
    if not change_id or not config_json:
        raise DropRejected("schedule_change needs the change id and the config that follows")
    if state.closing or state.status in ("EXPIRED", "ARCHIVED"):
        raise DropRejected(f"the jackpot is {'being decommissioned' if state.closing else state.status}")
    if state.successor.get("taken") or _moved(state):
        raise DropRejected(f"change {state.successor['change_id']} is taking effect; send this one after it")
    try:
        doc = json.loads(config_json)
        nxt = compile_jackpot(Jackpot.model_validate(doc))
    except Exception as exc:  # a version this engine refuses never waits in the state
        raise DropRejected(f"the following config is refused: {type(exc).__name__}: {str(exc)[:500]}") from None
    if nxt.jackpot_id != cj.jackpot_id:
        raise DropRejected(f"the following config is for jackpot {nxt.jackpot_id}")
    removed = removals(cj, nxt)
    if removed:
        raise DropRejected(f"a next_cycle change may not remove {', '.join(removed)}: their pools hold money")
    waited = {str(lv) for lv in levels}
    replaced = state.successor.get("change_id")
    _remember(nxt)
    state.successor = {"change_id": change_id, "config": doc, "fingerprint": nxt.fingerprint,
                       "levels": sorted(waited), "taken": False,
                       "cycles": {_key(p.level_id, p.currency): p.cycle for p in state.iter_pools()
                                  if p.level_id in waited and not p.closed
                                  and _math_differs(cj, nxt, p.level_id, p.currency)}}
    return f"waits for {len(state.successor['cycles'])} pool(s) to reseed" + (f"; replaces {replaced}" if replaced else "")


def _math_differs(cj: CompiledJackpot, nxt: CompiledJackpot, level_id: str, currency: str) -> bool:
    """Whether this pool's cycle runs under different math in ``nxt``: the jackpot's rates, games
    or levels, the level's own fields, or its amounts in this currency (a change to one currency's
    amounts does not wait for the level's other currencies)."""
    if (cj.net_num, cj.net_den, cj.network_rates, cj.games) != (nxt.net_num, nxt.net_den, nxt.network_rates, nxt.games) \
            or [cl.level_id for cl in cj.levels] != [cl.level_id for cl in nxt.levels]:
        return True
    a, b = cj.level(level_id), nxt.level(level_id)
    return replace(a, limits={}) != replace(b, limits={}) or a.limits.get(currency) != b.limits.get(currency)


def removals(cj: CompiledJackpot, nxt: CompiledJackpot) -> list[str]:
    """The levels and currencies of ``cj`` that ``nxt`` no longer has."""
    return ([f"level {cl.name}" for cl in cj.levels if cl.level_id not in nxt.level_index]
            + [f"currency {c}" for c in cj.currencies if c not in nxt.currencies])


def cancel(state: JackpotState, change_id: str | None) -> str:
    if not state.successor or state.successor["change_id"] != change_id:
        raise DropRejected(f"no pending change {change_id}")
    if state.successor["taken"]:
        raise DropRejected(f"change {change_id} is in effect: it was taken at the reseed")
    if _moved(state):
        raise DropRejected(f"change {change_id} is in effect: pools already began a cycle under it")
    state.successor = {}
    return f"change {change_id} withdrawn"


def drop_pending(state: JackpotState) -> str:
    """Forget a change not taken yet (decommissioning: no cycle follows); ``""`` if none."""
    if state.successor and not state.successor["taken"]:
        change_id = state.successor["change_id"]
        state.successor = {}
        return f"; pending change {change_id} dropped"
    return ""


def following(state: JackpotState) -> CompiledJackpot | None:
    """The compiled version the state keeps (pending or taken), or None."""
    if not state.successor:
        return None
    s = state.successor
    return _compiled.get(s["fingerprint"]) or _remember(compile_jackpot(Jackpot.model_validate(s["config"])))


def taken(state: JackpotState) -> CompiledJackpot | None:
    """The version the jackpot runs under since it was taken, until the live record names it."""
    return following(state) if state.successor.get("taken") else None


def superseded(state: JackpotState, live_fingerprint: str) -> bool:
    """Forget a taken version once the live config record is not the one it replaced any more
    (it is the taken version, published, or a later one); whether the state changed."""
    s = state.successor
    if s.get("taken") and live_fingerprint != s.get("left"):
        state.successor = {}
        return True
    return False


def _moved(state: JackpotState) -> list[str]:
    """The waited-for pools that already began a cycle under the pending change."""
    waiting = set(_waiting(state))
    return [k for k in state.successor.get("cycles", {}) if k not in waiting]


def _waiting(state: JackpotState) -> list[str]:
    """The noted pools still in the cycle they were in (a closed pool never reseeds: not waited for)."""
    out = []
    for key, cycle in state.successor.get("cycles", {}).items():
        level_id, currency = key.split("|", 1)
        pool = state.pools.get(currency, {}).get(level_id)
        if pool is not None and not pool.closed and pool.cycle <= cycle:
            out.append(key)
    return out


def cycle_level(cj: CompiledJackpot, state: JackpotState, level_id: str, currency: str) -> CompiledLevel:
    """The level a new cycle of this pool is drawn under: the following version's for the reseed a
    pending change waits for, else the running one."""
    s = state.successor
    if s and not s["taken"] and _key(level_id, currency) in _waiting(state):
        nxt = following(state)
        if level_id in nxt.level_index and currency in nxt.level(level_id).limits:
            return nxt.level(level_id)
    return cj.level(level_id)


_mixed: dict[tuple, CompiledJackpot] = {}  # (running, following, pools moved) -> the view of both


def running(cj: CompiledJackpot, state: JackpotState) -> CompiledJackpot:
    """``cj`` as the engine must apply it while a change waits: the pools that already began their
    next cycle under the following version take its amounts in their currency; anything else is
    ``cj``'s. The same object (and fingerprint) when no pool has moved."""
    s = state.successor
    if not s or s["taken"]:
        return cj
    moved = tuple(sorted(_moved(state)))
    if not moved:
        return cj
    key = (cj.fingerprint, s["fingerprint"], moved)
    hit = _mixed.get(key)
    if hit is None:
        nxt = following(state)
        take: dict[str, dict] = {}
        for k in moved:
            level_id, currency = k.split("|", 1)
            if level_id in nxt.level_index and currency in nxt.level(level_id).limits:
                take.setdefault(level_id, {})[currency] = nxt.level(level_id).limits[currency]
        hit = replace(cj, levels=tuple(replace(cl, limits={**cl.limits, **take[cl.level_id]}) if cl.level_id in take
                                       else cl for cl in cj.levels), _plans={})
        while len(_mixed) >= 64:
            del _mixed[next(iter(_mixed))]
        _mixed[key] = hit
    return hit


def due(state: JackpotState) -> bool:
    """Whether the pending version is to be taken now: every pool it waits for started a new cycle
    (or closed), and the jackpot is neither being decommissioned nor ended."""
    s = state.successor
    return bool(s) and not s["taken"] and not state.closing and state.status not in ("EXPIRED", "ARCHIVED") \
        and not _waiting(state)


def take(state: JackpotState, running_fingerprint: str) -> None:
    """Take the pending version (see :func:`due`), noting the version it replaces."""
    state.successor["taken"], state.successor["left"] = True, running_fingerprint


def take_record(state: JackpotState, jackpot_id: str, now: int) -> EngineEvent:
    """The engine's record of a taken version, under the change's id (the same event id however
    often it is sent: a replay after a crash sends it again)."""
    s = state.successor
    cycles = {key: _pool_cycle(state, key) for key in s["cycles"]}
    return make_event(OPERATOR_ACTION, jackpot_id, f"{s['change_id']}|taken", now, {
        "command_id": s["change_id"], "action": TAKEN, "actor": ACTOR, "approvals": [],
        "reason": "next_cycle change in effect from the reseed that ended the cycle", "outcome": "applied",
        "detail": f"version {s['fingerprint'][:12]}; cycles now "
                  + (", ".join(f"{k}: {c}" for k, c in sorted(cycles.items())) or "none waited for")})


def _remember(cj: CompiledJackpot) -> CompiledJackpot:
    while len(_compiled) >= 64:
        del _compiled[next(iter(_compiled))]
    _compiled[cj.fingerprint] = cj
    return cj


def _pool_cycle(state: JackpotState, key: str) -> int:
    level_id, currency = key.split("|", 1)
    pool = state.pools.get(currency, {}).get(level_id)
    return pool.cycle if pool is not None else 0


def _key(level_id: str, currency: str) -> str:
    return f"{level_id}|{currency}"
