"""Request and response models of the admin API (the OpenAPI document is generated from these).

Money and signed amounts are decimal strings with at most 6 decimal places (the engine's micro
scale); floats never reach the engine.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .impact import Warning_
from .wizard import (
    BrandId,
    Currency,
    EligibilityStep,
    GamesStep,
    IdentityStep,
    Language,
    LevelsStep,
    PresentationStep,
    Review,  # noqa: F401  (re-exported: the review response model)
    Step,
    TriggerStep,
)

Reason = Annotated[str, StringConstraints(min_length=3, max_length=1000, strip_whitespace=True)]
OptionalReason = Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)]
SignedMoney = Annotated[str, StringConstraints(pattern=r"^-?(0|[1-9][0-9]{0,13})(\.[0-9]{1,6})?$")]
Money = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,13})(\.[0-9]{1,6})?$")]
TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
OpaqueId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:|-]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- paths and queries
class JackpotPath(_In):
    jackpot_id: uuid.UUID


class StepPath(_In):
    jackpot_id: uuid.UUID
    step: Step


class WinPath(_In):
    jackpot_id: uuid.UUID
    win_id: OpaqueId


class ChangePath(_In):
    jackpot_id: uuid.UUID
    change_id: uuid.UUID


class CommandPath(_In):
    command_id: uuid.UUID


class ApprovalPath(_In):
    approval_id: OpaqueId


class CoApprovalPath(_In):
    request_id: uuid.UUID


class JobPath(_In):
    job_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class WaitQuery(_In):
    wait_s: float | None = Field(default=None, ge=0, le=30,
                                 description="Seconds to wait for the engine's receipt (default: server setting); "
                                             "0 answers 202 at once.")


class ListQuery(_In):
    brand: BrandId | None = None
    type: Literal["PERSISTENT", "TIMED", "PROMOTIONAL", "MYSTERY"] | None = None
    status: Literal["DRAFT", "SCHEDULED", "ACTIVE", "PAUSED", "ARCHIVED"] | None = None
    warn_state: Literal["CALM", "HEATING", "ON_FIRE", "MUST_DROP"] | None = None
    sort: Literal["pool_size", "closest_to_drop", "most_active", "newest"] = "newest"
    limit: int = Field(default=100, ge=1, le=500)


class ApprovalsQuery(_In):
    tab: Literal["all", "for_approval", "paid", "declined_expired"] = "for_approval"
    jackpot_id: uuid.UUID | None = None
    level_id: uuid.UUID | None = None
    brand: BrandId | None = None
    limit: int = Field(default=100, ge=1, le=500)


class AuditQuery(_In):
    jackpot_id: uuid.UUID | None = None
    event_type: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{1,64}$")] | None = None
    before_seq: int | None = Field(default=None, ge=1, le=2**62)
    limit: int = Field(default=100, ge=1, le=1000)


class RulesQuery(_In):
    lang: Language | None = None


class CoApprovalQuery(_In):
    state: Literal["pending", "approved", "rejected", "expired"] | None = "pending"


# ----------------------------------------------------------------------------- jackpots
class CreateJackpot(_In):
    """Step 1 is required; any later step may be given now or saved later."""

    jackpot_id: uuid.UUID | None = None
    identity: IdentityStep
    levels: LevelsStep | None = None
    games: GamesStep | None = None
    eligibility: EligibilityStep | None = None
    trigger: TriggerStep | None = None
    presentation: PresentationStep | None = None


class FromTemplate(_In):
    """Clone a catalog template (e.g. classic_progressive) or a saved template into a new DRAFT."""

    template: TemplateName
    identity: IdentityStep
    games: GamesStep | None = None


class CloneJackpot(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    brands: list[BrandId] | None = Field(default=None, min_length=1, max_length=50)
    currencies: list[Currency] | None = Field(default=None, min_length=1, max_length=20)


class SaveTemplate(_In):
    name: TemplateName


class JackpotView(BaseModel):
    jackpot_id: str
    name: str
    type: str | None
    brands: list[str]
    status: str
    steps: dict[str, Any]
    presentation: dict[str, Any]
    template: str | None
    cloned_from: str | None
    activate_at: dt.datetime | None
    published_version: int | None
    revision: int
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    updated_by: str


class JackpotSummary(BaseModel):
    jackpot_id: str
    name: str
    type: str | None
    brands: list[str]
    status: str
    pools: list["PoolView"]
    active_players: int
    warn_state: str | None
    closest_to_drop: str | None = Field(description="Smallest remaining share of the drop range, as a decimal string")
    created_at: dt.datetime


class JackpotList(BaseModel):
    items: list[JackpotSummary]


class TemplateInfo(BaseModel):
    name: str
    source: Literal["catalog", "saved"]
    type: str | None
    levels: list[str]


class TemplateList(BaseModel):
    items: list[TemplateInfo]


class ActivateBody(_In):
    """Step 7 launch: activate now or at a time; saving as draft is simply not calling this."""

    mode: Literal["now", "schedule"] = "now"
    activate_at: AwareDatetime | None = None
    confirm: Literal[True] = Field(description="The 'are you sure you want this live?' gate")
    reason: OptionalReason = ""


class ActivateResult(BaseModel):
    jackpot: JackpotView
    version: int | None
    state: Literal["published", "scheduled"]
    published_at: dt.datetime | None


class ChangeSteps(_In):
    levels: LevelsStep | None = None
    games: GamesStep | None = None
    eligibility: EligibilityStep | None = None
    trigger: TriggerStep | None = None
    presentation: PresentationStep | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None


class ChangeBody(_In):
    changes: ChangeSteps
    apply: Literal["immediately", "next_cycle", "scheduled"] = "next_cycle"
    apply_at: AwareDatetime | None = None
    reason: Reason


class CancelChange(_In):
    reason: Reason


class ChangeResult(BaseModel):
    change_id: str | None
    state: Literal["applied", "pending", "saved"]
    apply_timing: str
    apply_at: dt.datetime | None
    version: int | None
    math_changes: list[str]
    warnings: list[Warning_]
    jackpot: JackpotView


class ChangeInfo(BaseModel):
    change_id: str
    apply_timing: str
    apply_at: dt.datetime | None
    state: str
    warnings: list[dict[str, Any]]
    reason: str | None
    version: int | None
    detail: str | None
    created_at: dt.datetime
    created_by: str
    applied_at: dt.datetime | None


class VersionInfo(BaseModel):
    version: int
    config_hash: str
    status: str
    received_at: dt.datetime


class History(BaseModel):
    versions: list[VersionInfo]
    changes: list[ChangeInfo]


class ArchiveBody(_In):
    """Regulatory item 9: a pool with players' money is never simply deleted; ``force_drop`` ends it
    by a forced drop of everything it holds, ``transfer`` moves every pool's balance to the live
    jackpot ``transfer_to`` (same currencies). A jackpot never published (a draft) needs neither."""

    disposition: Literal["none", "force_drop", "transfer"] = "none"
    transfer_to: uuid.UUID | None = Field(None, description="transfer: the live jackpot that receives the balances")
    confirmation: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="Type the jackpot's name to confirm")
    reason: Reason


# ----------------------------------------------------------------------------- commands
class CommandResult(BaseModel):
    command_id: str
    jackpot_id: str
    action: str
    state: Literal["applied", "rejected", "pending"]
    sent_at: dt.datetime | None
    applied_at: dt.datetime | None = Field(description="When the engine applied (or refused) it, in partition order")
    detail: str


class ArchiveResult(BaseModel):
    jackpot: JackpotView
    commands: list[CommandResult]


class ForceDropBody(_In):
    level_id: uuid.UUID
    currency: Currency | None = None
    reason: Reason
    confirmation: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="Double confirmation: type the jackpot's name")


class DelayDropBody(_In):
    level_id: uuid.UUID | None = None
    currency: Currency | None = None
    delay_seconds: int = Field(ge=1, le=7 * 86_400)
    reason: Reason


class CancelDropBody(_In):
    level_id: uuid.UUID
    currency: Currency | None = None
    reason: Reason


class PauseBody(_In):
    level_id: uuid.UUID | None = None
    reason: OptionalReason = ""


class NoWinBody(_In):
    enabled: bool
    level_id: uuid.UUID | None = None
    reason: Reason


class AdjustBody(_In):
    level_id: uuid.UUID
    currency: Currency
    amount: SignedMoney = Field(description="Signed: positive adds to the pool, negative removes")
    confirm_amount: SignedMoney = Field(description="Double confirmation: repeat the amount")
    adjustment_reason: Literal["MALFUNCTION_CORRECTION", "LIMIT", "OPERATOR_FUNDING", "PRE_SEED"]
    reason: Reason


class VoidWinBody(_In):
    reason: Reason
    confirmation: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Type the win id to confirm")


class ReverseWinBody(_In):
    """A paid win the operator's wallet has taken back (a debit): its amount returns to the pool."""

    reason: Reason
    wallet_reference: Annotated[str, StringConstraints(min_length=3, max_length=200, strip_whitespace=True)] = Field(
        description="The wallet's reference of the debit that took the prize back")
    confirmation: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Type the win id to confirm")


class RetryPayoutBody(_In):
    reason: Reason


class AlternativePayoutBody(_In):
    reference: Annotated[str, StringConstraints(min_length=3, max_length=200, strip_whitespace=True)] = Field(
        description="How the prize was paid outside the wallet (e.g. the bank transfer's reference)")
    reason: Reason
    confirmation: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Type the win id to confirm")


class NamedConfirmation(_In):
    """A reason, and the jackpot's name typed to confirm (clear fault, expire)."""

    reason: Reason
    confirmation: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="Type the jackpot's name to confirm")


class TransferBody(_In):
    from_level_id: uuid.UUID
    to_level_id: uuid.UUID
    currency: Currency
    amount: Money = Field(description="Moved from the first level's pool to the second's")
    confirm_amount: Money = Field(description="Double confirmation: repeat the amount")
    reason: Reason


class PayoutsQuery(_In):
    state: Literal["attention", "all", "manual", "retry_wait", "escrow", "sent", "confirmed", "resolved",
                   "declined", "returned", "voided", "held", "awaiting_approval"] = Field(
        default="attention", description="attention: manual (pending manual resolution), retry_wait and escrow")
    limit: int = Field(default=100, ge=1, le=500)


class PayoutItem(BaseModel):
    win_id: str
    kind: str
    rank: int
    level_id: str
    currency: str
    player_id_masked: str
    amount: str
    net_amount: str | None
    payout_status: str | None
    attempt: int | None
    status_at: dt.datetime | None
    dropped_at: dt.datetime | None


class PayoutList(BaseModel):
    state: str
    items: list[PayoutItem]


class CoApproval(BaseModel):
    request_id: str
    action: str
    jackpot_id: str | None
    payload: dict[str, Any]
    reason: str
    initiated_by: str
    initiated_at: dt.datetime
    expires_at: dt.datetime
    state: str
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_reason: str | None
    command_id: str | None
    can_decide: bool | None = Field(default=None, description="Listing only: whether the caller may decide it "
                                    "(pending, not their own request, and the permission it needs)")


class CoApprovalList(BaseModel):
    items: list[CoApproval]


class CoApprovalDecision(_In):
    approve: bool
    reason: OptionalReason = ""


class CoApprovalResult(BaseModel):
    request: CoApproval
    commands: list[CommandResult]


class SystemBody(_In):
    reason: Reason


class SystemState(BaseModel):
    mode: str
    changed_at: dt.datetime
    changed_by: str
    reason: str | None


class SystemResult(BaseModel):
    state: SystemState
    commands: list[CommandResult]
    co_approval: CoApproval | None = None


# ----------------------------------------------------------------------------- approval queue
class ApprovalItem(BaseModel):
    approval_id: str
    win_id: str
    jackpot_id: str
    level_id: str
    currency: str
    kind: str | None
    player_id_masked: str
    amount: str
    threshold: str | None
    game_id: str | None
    brand_id: str | None
    requested_at: dt.datetime
    expires_at: dt.datetime | None
    decision: str | None
    decided_by: str | None
    decision_reason: str | None
    escalations: int
    payout_status: str | None


class ApprovalList(BaseModel):
    tab: str
    items: list[ApprovalItem]


class DecideBody(_In):
    reason: OptionalReason = ""
    player_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class DeclineBody(_In):
    reason: Reason
    player_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


# ----------------------------------------------------------------------------- monitor, reports
class PoolView(BaseModel):
    level_id: str
    level: str | None
    currency: str
    current_amount: str
    visible_amount: str
    display_state: str
    cycle_number: int | None
    at: dt.datetime


class Velocity(BaseModel):
    level_id: str
    currency: str
    last_minute: str
    last_hour: str
    trend: Literal["up", "stable", "down"]


class DropWindow(BaseModel):
    level_id: str
    currency: str
    earliest_hours: str | None
    latest_hours: str | None
    note: str


class CycleInfo(BaseModel):
    level_id: str
    currency: str
    cycle_number: int
    seed_amount: str | None
    started_at: dt.datetime | None
    win_amount: str | None
    winner_masked: str | None
    won_at: dt.datetime | None
    duration_hours: str | None


class PlayerActivity(BaseModel):
    player_masked: str
    game_id: str
    session_minutes: str
    contribution: str
    spins: int
    last_bet: str
    eligible_levels: list[str] = Field(description="Levels whose min/max bet the player's last bet meets")


class Monitor(BaseModel):
    jackpot_id: str
    status: str
    pools: list[PoolView]
    velocity: list[Velocity]
    active_players: int
    qualifying_spins_this_cycle: int
    warn_state: str | None
    warn_changed_at: dt.datetime | None
    predicted_drop: list[DropWindow]
    cycles: list[CycleInfo]
    recent_operator_actions: list[dict[str, Any]]
    players: list[PlayerActivity]


class Meter(BaseModel):
    level_id: str
    level: str | None
    currency: str
    total_wagers_in: str
    qualifying_bets: int
    displayed_amount: str | None
    current_amount: str | None
    hit_count: int
    total_won: str
    overflow: str
    reserve: str
    adjustments_net: str
    read_at: dt.datetime


class Meters(BaseModel):
    jackpot_id: str
    meters: list[Meter]
    last_hits: list[dict[str, Any]]


class PnlRow(BaseModel):
    currency: str
    bets: int
    gross_contributions: str
    house_cut: str
    net_pool_contributions: str
    pre_seed: str
    seeds: str = Field(description="Operator seed draws (a cost)")
    reserve_carried: str = Field(description="Players' reserve carried into reset amounts (not a cost)")
    prizes_main: str
    prizes_chain: str
    adjustments_in: str
    adjustments_out: str
    adjustments_net: str
    overflow_revenue: str
    balance_transfers: str = Field(description="Players' money moved in (+) or out (-) between levels or jackpots")
    net_position: str
    cycles: int
    hits: int
    overflow_unknown: int = Field(0, description="Ledger rows with an overflow written before its destination was "
                                                 "recorded (counted as no revenue)")


class EvRow(BaseModel):
    """Expected value per cycle (engine/budget.py ``ExpectedCycle``): who funds the reset amount
    (the operator's seed draw, players' carried reserve), the contributions, the operator's net."""

    level_id: str
    level: str
    currency: str
    avg_seed: str | None = Field(description="The operator's seed draw per cycle")
    avg_target: str | None
    carried_reserve: str | None = Field(description="Players' hidden reserve carried into the reset amount")
    reset_amount: str | None
    avg_prize: str | None = Field(description="The prize paid: the target less this cycle's hidden reserve")
    net_contributions: str | None
    contributions_needed: str | None = Field(description="Gross contributions per cycle")
    house_cut_per_cycle: str | None
    chain_cost: str | None
    seed_cost: str | None
    net_per_cycle: str | None = Field(description="House cut less the seed draw and chain prizes")
    cycle_hours: str | None
    monthly_net: str | None
    actual_cycles: int


class Finance(BaseModel):
    jackpot_id: str
    pnl: list[PnlRow]
    expected_value: list[EvRow]
    alerts: list[str]


# ----------------------------------------------------------------------------- budget constraints
class CurrencyPath(_In):
    currency: Currency


class BudgetConstraintBody(_In):
    """Budget Constraint Mode (spec: Budget Model): optional hard limits for one currency, across
    every jackpot. Omitted or null: no limit."""

    max_monthly_cost: Money | None = Field(None, description="Alert when this month's jackpot cost (the negative "
                                                             "of its net position) exceeds it")
    max_single_prize: Money | None = Field(None, description="No level may be configured to pay more")
    max_chain_monthly: Money | None = Field(None, description="Alert when this month's chain prizes exceed it")
    pause_activations: bool = Field(False, description="Refuse activations while the monthly cost is over its limit")
    reason: Reason


class BudgetConstraint(BaseModel):
    currency: str
    max_monthly_cost: str | None
    max_single_prize: str | None
    max_chain_monthly: str | None
    pause_activations: bool
    month_cost: str = Field(description="This calendar month's jackpot cost so far (UTC)")
    month_chain_prizes: str
    updated_by: str | None
    updated_at: AwareDatetime | None


class BudgetConstraints(BaseModel):
    items: list[BudgetConstraint]
    alerts: list[str]


class RulesDocument(BaseModel):
    jackpot_id: str
    language: str
    available_languages: list[str]
    title: str
    sections: list[dict[str, str]]


class AuditEntry(BaseModel):
    seq: int
    event_id: str
    event_type: str
    jackpot_id: str
    actor: str
    occurred_at: dt.datetime
    body: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntry]


class Dashboard(BaseModel):
    jackpots: int
    by_status: dict[str, int]
    alerts: list[dict[str, Any]]
    pending_approvals: int
    activity: list[dict[str, Any]]


class Me(BaseModel):
    actor: str
    role: str
    brands: list[str]
    all_brands: bool
    permissions: list[str]


class TokenPath(_In):
    token_id: uuid.UUID


class RevokeBody(_In):
    reason: Reason


class TokenInfo(BaseModel):
    token_id: str
    actor: str
    role: str
    brands: list[str]
    all_brands: bool
    permissions: list[str]
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenList(BaseModel):
    items: list[TokenInfo]


class Health(BaseModel):
    status: str
    checks: dict[str, bool] = {}


# ----------------------------------------------------------------------------- simulation
class SimulationBody(_In):
    jackpot_id: uuid.UUID | None = None
    template: TemplateName | None = None
    cycles: int = Field(default=1000, ge=10, le=100_000)
    seed: int = Field(default=0, ge=0, le=2**31)


class SimulationJob(BaseModel):
    job_id: str
    specs: list[str]
    state: str
    levels_done: int
    error: str | None
    report_available: bool


JackpotSummary.model_rebuild()
