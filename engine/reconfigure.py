"""A live jackpot meets a newer version of its configuration (regulatory items 5 and 11).

The stream worker calls :func:`adopt_config` once, before the first input it applies under a
config version the jackpot's state has not seen yet:

- pools the new version introduces (a level added, a currency added) are created, and on a live
  jackpot their first cycle starts at once, so the very next bet can feed them; existing pools and
  their balances are never touched (``lifecycle.ensure_pools``);
- a ``win_max`` below a pool's current amount (visible plus hidden) is a limit the jackpot already
  breaks: the admin API refuses such an edit, so one that arrives anyway (published around it)
  faults the jackpot instead of letting a pool sit above its legal maximum or drop above it.  Only
  an operator clears the fault, after publishing a config whose limits hold (``fault.py``).

New pools need seeds: :func:`missing_pools` names them, so the caller can draw and persist their
seeds before anything derived from them is published (see ``tables/jackpots.py``).
"""

from __future__ import annotations

from .adjustments import check_limits
from .compiled import CompiledJackpot
from .errors import LimitBelowCurrent
from .events import EngineEvent
from .fault import enter_fault
from .lifecycle import ensure_pools
from .pool import JackpotState
from .rng import SeedSource

CONFIG_ACTOR = "system:config"


def missing_pools(cj: CompiledJackpot, state: JackpotState) -> list[tuple[str, str]]:
    """(level_id, currency) of every pool ``cj`` has and ``state`` does not."""
    return [(cl.level_id, currency) for currency in cj.currencies for cl in cj.levels
            if cl.level_id not in state.pools.get(currency, {})]


def adopt_config(cj: CompiledJackpot, state: JackpotState, seed_source: SeedSource, *, cause_id: str,
                 now: int) -> list[EngineEvent]:
    """Bring ``state`` under ``cj``: the events of the pools it starts, then, when a limit is below
    a pool's amount and the jackpot is not faulted yet, those of the fault."""
    events = ensure_pools(cj, state, seed_source, cause_id=cause_id, now=now)
    try:
        check_limits(cj, state)
    except LimitBelowCurrent as exc:
        if not state.fault and state.status not in ("EXPIRED", "ARCHIVED"):
            events += enter_fault(cj, state, actor=CONFIG_ACTOR, reason=f"configuration refused: {exc}",
                                  cause_id=f"{cause_id}|fault", now=now)
    return events
