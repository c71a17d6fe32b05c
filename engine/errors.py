"""Engine errors: every refusal carries a reason an operator or auditor can read."""

from __future__ import annotations

__all__ = [
    "EngineError",
    "IllegalTransition",
    "AdjustmentRejected",
    "DropRejected",
    "SeedingRejected",
    "CommitmentMismatch",
    "ReconciliationError",
    "LimitBelowCurrent",
]


class EngineError(Exception):
    """Base class: a domain rule refused an operation. ``reason`` is the readable cause."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IllegalTransition(EngineError):
    """A lifecycle transition that the state machine or its guards do not allow."""


class AdjustmentRejected(EngineError):
    """A manual adjustment, transfer or pre-seed that breaks a pool rule."""


class DropRejected(EngineError):
    """A drop operation (lock, settle, abort) that is not allowed in the pool's state."""


class SeedingRejected(EngineError):
    """A cycle could not be started (missing seed, bad seed, pool not in a startable state)."""


class CommitmentMismatch(EngineError):
    """A revealed cycle seed does not hash to the commitment published at cycle start."""


class ReconciliationError(EngineError):
    """A pool's meters do not reconcile: a fault state (regulatory item 11)."""


class LimitBelowCurrent(EngineError):
    """A new limit (win_max) below a pool's current amount (WAC 230-15-685(4))."""
