"""Pure domain core of the jackpot engine: no I/O, deterministic given its inputs.

Typical use by the streams layer (one agent per jackpot partition)::

    from jackpot.engine import (
        Jackpot, compile_jackpot, new_jackpot_state, activate, apply_batch, Bet, JackpotState,
    )

    cj = compile_jackpot(Jackpot.model_validate(config_dict))   # once per config version
    state = JackpotState.from_dict(table[jackpot_id])           # or new_jackpot_state(cj)
    result = apply_batch(cj, state, bets)                       # mutates state in place
    table[jackpot_id] = state.to_dict()                         # re-assign: one changelog record
    publish(result.events)

Triggers, winners and payouts (``handlers`` has the four entry points)::

    result, out = process_batch(cj, state, [BetContext(bet, segments=..., ...), ...])   # or, per bet:
    out = evaluate_after_contribution(cj, state, BetContext(bet, segments=..., ...), result, now)
    out = handle_command(cj, state, OperatorCommand(...), now, seed_source)
    out = handle_wallet_result(cj, state, WalletResult(...), now, seed_source)
    out = tick(cj, state, now, seed_source)
    publish(out.events); send(out.commands)

Modules: ``money`` (exact micros and rounding), ``config`` (validated models), ``compiled``
(integer form for the hot path), ``pool`` (pool state and meters), ``contribution`` (the
8-step pipeline), ``seeding``, ``lifecycle``, ``drops``, ``adjustments``, ``rng`` (provably
fair), ``budget``, ``events``, ``catalog`` (profiles, templates, day-one jackpots);
``activity`` (active-player window), ``eligibility`` (win conditions), ``timing`` (drop modes,
windows, deadlines), ``triggers`` (the 7 checks, armed state), ``warn`` (warn states, ticker
smoothing), ``selection`` (Modes 1-4, split), ``chain`` (chain reaction), ``waterfall``,
``tax``, ``wins`` (win records), ``payout`` (the 10-step state machine), ``overrides``
(operator commands), ``handlers`` (entry points).
"""

from .activity import BetContext
from .adjustments import AdjustmentReason, adjust, check_limits, transfer
from .budget import budget_report, cycle_counters, expected_cycle
from .compiled import CompiledJackpot, compile_jackpot
from .config import (
    BetType,
    ComplianceProfile,
    GameConfig,
    Jackpot,
    JackpotStatus,
    JackpotType,
    Level,
    LevelStatus,
    OverflowMode,
    ScheduleConfig,
)
from .contribution import (
    BatchResult,
    Bet,
    ContributionResult,
    LevelContribution,
    Outcome,
    Reason,
    apply_batch,
    apply_contribution,
)
from .drops import Winner, abort_drop, begin_drop, settle_drop
from .errors import (
    AdjustmentRejected,
    CommitmentMismatch,
    DropRejected,
    EngineError,
    IllegalTransition,
    LimitBelowCurrent,
    ReconciliationError,
    SeedingRejected,
)
from .events import EngineEvent
from .handlers import (
    EngineOutput,
    evaluate_after_contribution,
    handle_command,
    handle_wallet_result,
    process_batch,
    process_bet,
    tick,
)
from .lifecycle import (
    activate,
    archive,
    ensure_pools,
    expire,
    new_jackpot_state,
    pause,
    resume,
    set_level_status,
    transition_jackpot,
)
from .money import from_micros, to_micros
from .overrides import OperatorCommand
from .payout import NoWinner, WalletResult
from .pool import JackpotState, PoolState, reconcile, regulatory_meters
from .rng import commitment, new_cycle_seed, rederive_cycle
from .seeding import pre_seed
from .triggers import TriggerEvaluation

__all__ = [
    "AdjustmentReason",
    "BetContext",
    "EngineOutput",
    "NoWinner",
    "OperatorCommand",
    "TriggerEvaluation",
    "WalletResult",
    "evaluate_after_contribution",
    "handle_command",
    "handle_wallet_result",
    "process_batch",
    "process_bet",
    "tick",
    "AdjustmentRejected",
    "BatchResult",
    "Bet",
    "BetType",
    "CommitmentMismatch",
    "CompiledJackpot",
    "ComplianceProfile",
    "ContributionResult",
    "DropRejected",
    "EngineError",
    "EngineEvent",
    "GameConfig",
    "IllegalTransition",
    "Jackpot",
    "JackpotState",
    "JackpotStatus",
    "JackpotType",
    "Level",
    "LevelContribution",
    "LevelStatus",
    "LimitBelowCurrent",
    "Outcome",
    "OverflowMode",
    "PoolState",
    "Reason",
    "ReconciliationError",
    "ScheduleConfig",
    "SeedingRejected",
    "Winner",
    "abort_drop",
    "activate",
    "adjust",
    "apply_batch",
    "apply_contribution",
    "archive",
    "begin_drop",
    "budget_report",
    "check_limits",
    "commitment",
    "compile_jackpot",
    "cycle_counters",
    "ensure_pools",
    "expected_cycle",
    "expire",
    "from_micros",
    "new_cycle_seed",
    "new_jackpot_state",
    "pause",
    "pre_seed",
    "reconcile",
    "rederive_cycle",
    "regulatory_meters",
    "resume",
    "set_level_status",
    "settle_drop",
    "to_micros",
    "transfer",
    "transition_jackpot",
]
