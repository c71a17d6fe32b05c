"""The fault state (regulatory-requirements.md item 11).

When the ledger and the live pools disagree, or a configuration is lost, the jackpot must stop
taking contributions and evaluating triggers, the operator must be alerted, players must see it
suspended, and only an operator may bring it back after investigating.

The engine reuses the PAUSED status for the effects (contributions are held in pending, so no
bet is lost; no drop can start; the display freezes) and keeps the fault itself in
``JackpotState.fault``, which a plain resume cannot clear.  A drop already in progress still pays
its winner (the win was decided before the fault); the jackpot then pauses instead of resuming.
"""

from __future__ import annotations

from .compiled import CompiledJackpot
from .config import JackpotStatus
from .errors import DropRejected, ReconciliationError
from .events import FAULT_CLEARED, JACKPOT_FAULTED, EngineEvent, make_event
from .lifecycle import SYSTEM, pause, resume
from .pool import JackpotState, reconcile

__all__ = ["enter_fault", "clear_fault", "suspend_for_fault", "is_system", "fault_once", "self_check", "SELF_CHECK"]

SELF_CHECK = "system:self-check"

J = JackpotStatus
_FINISHED = (J.EXPIRED, J.ARCHIVED)


def is_system(actor: str) -> bool:
    """System actors ("system", "system:reconciliation", ...) may raise a fault, never clear one."""
    return actor == SYSTEM or actor.startswith(f"{SYSTEM}:")


def _reason(state: JackpotState) -> str:
    return f"FAULT: {state.fault.get('reason', '')}"


def suspend_for_fault(cj: CompiledJackpot, state: JackpotState, *, cause_id: str, now: int) -> list[EngineEvent]:
    """Pause an ACTIVE faulted jackpot (also called when a drop ends on a faulted jackpot)."""
    if state.status != J.ACTIVE:
        return []
    state.fault["paused_by_fault"] = True
    return pause(cj, state, actor=SYSTEM, reason=_reason(state), cause_id=cause_id, now=now)


def enter_fault(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str,
                now: int) -> list[EngineEvent]:
    if state.fault:
        raise DropRejected(f"the jackpot is already in the fault state ({state.fault.get('reason', '')})")
    if state.status in _FINISHED:
        raise DropRejected(f"a {state.status} jackpot takes no contributions: nothing to suspend")
    state.fault = {"reason": reason, "actor": actor, "at": now, "cause": cause_id,
                   "paused_by_fault": False, "status_before": state.status}
    events = [make_event(JACKPOT_FAULTED, cj.jackpot_id, cause_id, now, {
        "reason": reason, "raised_by": actor, "status_before": state.status,
        "severity": "critical", "action": "contributions and triggers stopped until an operator clears the fault",
    })]
    # the fault's own pause is a system action: a compliance ban on operator pauses does not apply
    events += suspend_for_fault(cj, state, cause_id=f"{cause_id}|pause", now=now)
    return events


def clear_fault(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str,
                now: int) -> list[EngineEvent]:
    if not state.fault:
        raise DropRejected("the jackpot is not in the fault state")
    if is_system(actor):
        raise DropRejected("only an operator can clear a fault, after investigation")
    fault, state.fault = state.fault, {}
    events = [make_event(FAULT_CLEARED, cj.jackpot_id, cause_id, now, {
        "reason": reason, "cleared_by": actor, "fault_reason": fault.get("reason", ""),
        "faulted_at": fault.get("at", 0), "raised_by": fault.get("actor", ""),
    })]
    if fault.get("paused_by_fault") and state.status == J.PAUSED:
        events += resume(cj, state, actor=actor, reason=f"fault cleared: {reason}", cause_id=f"{cause_id}|resume",
                         now=now)
    return events


def fault_once(cj: CompiledJackpot, state: JackpotState, *, actor: str, reason: str, cause_id: str,
               now: int) -> list[EngineEvent]:
    """The fault state raised by the system (lost or rejected configuration, a failed self-check):
    nothing for a jackpot already faulted or finished."""
    if state.fault or state.status in _FINISHED:
        return []
    return enter_fault(cj, state, actor=actor, reason=reason, cause_id=cause_id, now=now)


def self_check(cj: CompiledJackpot, state: JackpotState, *, now: int, cause_id: str | None = None) -> list[EngineEvent]:
    """Regulatory item 11's self-check, after every batch: each pool's meters reconcile to the
    micro (``pool.reconcile``). A jackpot whose do not is faulted: its amounts are in question, so
    it takes no contribution and starts no drop until an operator has looked."""
    try:
        reconcile(state)
    except ReconciliationError as e:
        return fault_once(cj, state, actor=SELF_CHECK, reason=f"self-check failed: {e.reason}",
                          cause_id=cause_id or f"self-check:{now}", now=now)
    return []
