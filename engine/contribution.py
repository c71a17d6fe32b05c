"""The 8-step contribution pipeline: one bet in, the new pool state and the events out.

Steps (spec: Contribution Pipeline):
1. game eligibility      - game_id must be a participating game, else discarded
2. bet type              - real/bonus must be accepted by the jackpot (default real only)
   (plus the rest of *contribution* eligibility: brand, currency, player not excluded;
   win eligibility - min_bet, max_bet, min_spins, segments - is the trigger's business)
3. gross                 = floor(bet x contribution_rate x game_coefficient)
4. house cut             net = floor(gross x (1 - house_cut)); house = gross - net
5. split across levels   largest remainder by contribution_split (DISABLED levels excluded)
6. hidden increment      hidden = floor(level_net x hidden rate) goes to the reserve
7. pool update           visible part to visible_amount, full part to current_amount, capped at
                         win_max (overflow routed, never dropped); PoolUpdated and threshold
                         events (WarnThresholdReached, PoolApproachingMax, PoolAtMax)
8. hand-off              ``trigger_candidates`` lists the levels of the bet's currency whose
                         current_amount >= win_target; the trigger checks are the next stage.

``apply_contribution`` MUTATES ``state`` in place (for speed) and returns a
``ContributionResult`` describing exactly what happened. A bet whose contribution to any level
exceeds that level's single-contribution bound is REJECTED whole, before anything changes.
While the jackpot is PAUSED, or a level is PAUSED, or a pool is locked for a drop, the level's
share is held in ``pending`` and applied on resume/unlock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .compiled import CompiledJackpot, CompiledLevel, LevelLimits
from .config import JackpotStatus, LevelStatus, OverflowMode
from .events import (
    CONTRIBUTION_REJECTED,
    POOL_APPROACHING_MAX,
    POOL_AT_MAX,
    POOL_UPDATED,
    WARN_THRESHOLD_REACHED,
    EngineEvent,
    make_event,
)
from .money import allocate
from .pool import FLAG_APPROACHING, FLAG_AT_MAX, FLAG_MUST_DROP, FLAG_ON_FIRE, FLAG_WARNED, JackpotState, PoolState
from .timing import schedule_open
from .warn import advance as advance_warn

__all__ = [
    "Bet",
    "Outcome",
    "Reason",
    "LevelContribution",
    "ContributionResult",
    "BatchResult",
    "apply_contribution",
    "apply_batch",
    "flush_pending",
    "credit_level",
    "check_thresholds",
    "display_state",
    "pool_updated_event",
]

_ACTIVE = JackpotStatus.ACTIVE.value
_PAUSED = JackpotStatus.PAUSED.value
_DROPPING = JackpotStatus.DROPPING.value
_ACCEPTING = frozenset({_ACTIVE, _PAUSED, _DROPPING})
_L_ENABLED = LevelStatus.ENABLED.value
_L_PAUSED = LevelStatus.PAUSED.value
_L_NO_WIN = LevelStatus.NO_WIN.value
_L_DISABLED = LevelStatus.DISABLED.value
_RECEIVES = frozenset({_L_ENABLED, _L_NO_WIN})
_REDIRECT = OverflowMode.REDIRECT.value
_REVENUE = OverflowMode.REVENUE.value
_MUST_DROP = "must_drop"
_DONE = FLAG_WARNED | FLAG_APPROACHING | FLAG_AT_MAX | FLAG_ON_FIRE
_DONE_MUST = _DONE | FLAG_MUST_DROP


@dataclass(slots=True, frozen=True)
class Bet:
    """A normalised BetPlaced event. ``bet_amount`` is in micros."""

    bet_id: str
    player_id: str
    game_id: str
    brand_id: str
    currency: str
    bet_amount: int
    bet_type: str = "real"
    session_id: str = ""
    timestamp: int = 0  # epoch ms UTC
    player_excluded: bool = False  # set by the router from the player table

    def to_dict(self) -> dict[str, Any]:
        return {
            "bet_id": self.bet_id,
            "player_id": self.player_id,
            "game_id": self.game_id,
            "brand_id": self.brand_id,
            "currency": self.currency,
            "bet_amount": self.bet_amount,
            "bet_type": self.bet_type,
            "session_id": self.session_id,
            "timestamp": self.timestamp,
            "player_excluded": self.player_excluded,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Bet":
        return cls(
            bet_id=str(d["bet_id"]),
            player_id=str(d["player_id"]),
            game_id=str(d["game_id"]),
            brand_id=str(d["brand_id"]),
            currency=str(d["currency"]),
            bet_amount=d["bet_amount"],
            bet_type=str(d.get("bet_type", "real")),
            session_id=str(d.get("session_id", "")),
            timestamp=int(d.get("timestamp", 0)),
            player_excluded=bool(d.get("player_excluded", False)),
        )


class Outcome:
    APPLIED = "applied"  # reached the pools (some levels may hold it in pending)
    BUFFERED = "buffered"  # jackpot paused: held in pending for every level, applied on resume
    DISCARDED = "discarded"  # not eligible to contribute; nothing changed
    REJECTED = "rejected"  # implausible (single-contribution bound); nothing changed, alert


class Reason:
    JACKPOT_NOT_ACCEPTING = "jackpot_not_accepting"
    GAME_NOT_ELIGIBLE = "game_not_eligible"
    BET_TYPE_NOT_ACCEPTED = "bet_type_not_accepted"
    BRAND_NOT_ELIGIBLE = "brand_not_eligible"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    PLAYER_EXCLUDED = "player_excluded"
    OUTSIDE_SCHEDULE = "outside_schedule"
    INVALID_AMOUNT = "invalid_amount"
    NO_RECEIVING_LEVEL = "no_receiving_level"
    CONTRIBUTION_EXCEEDS_BOUND = "contribution_exceeds_bound"
    JACKPOT_PAUSED = "jackpot_paused"
    ZERO_CONTRIBUTION = "zero_contribution"


@dataclass(slots=True)
class LevelContribution:
    """What one bet did to one level. All micros.

    Own share: ``gross = house_cut + net`` and ``net = visible + hidden + overflow + pending``;
    ``overflow = overflow_reserve + overflow_revenue + sum(redirected amounts)``.
    Received from other levels' overflow: ``transfer_in = transfer_visible + transfer_hidden``.
    """

    level_id: str
    gross: int = 0
    house_cut: int = 0
    net: int = 0
    visible: int = 0
    hidden: int = 0
    overflow: int = 0
    overflow_reserve: int = 0
    overflow_revenue: int = 0
    redirected: tuple[tuple[str, int], ...] = ()
    pending: int = 0
    transfer_in: int = 0
    transfer_visible: int = 0
    transfer_hidden: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "level_id": self.level_id,
            "gross": self.gross,
            "house_cut": self.house_cut,
            "net": self.net,
            "visible": self.visible,
            "hidden": self.hidden,
            "overflow": self.overflow,
            "overflow_reserve": self.overflow_reserve,
            "overflow_revenue": self.overflow_revenue,
            "redirected": [[lid, a] for lid, a in self.redirected],
            "pending": self.pending,
            "transfer_in": self.transfer_in,
            "transfer_visible": self.transfer_visible,
            "transfer_hidden": self.transfer_hidden,
        }


@dataclass(slots=True)
class ContributionResult:
    bet_id: str
    jackpot_id: str
    currency: str
    outcome: str
    reason: str | None = None
    detail: str | None = None
    gross: int = 0
    house_cut: int = 0
    net: int = 0
    levels: tuple[LevelContribution, ...] = ()
    events: list[EngineEvent] = field(default_factory=list)
    trigger_candidates: tuple[str, ...] = ()  # level ids with current_amount >= win_target
    game_trigger_eligible: bool = False  # step 8 input: may this game trigger a win?

    @property
    def applied(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.BUFFERED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bet_id": self.bet_id,
            "jackpot_id": self.jackpot_id,
            "currency": self.currency,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "gross": self.gross,
            "house_cut": self.house_cut,
            "net": self.net,
            "levels": [lc.to_dict() for lc in self.levels],
            "events": [e.to_dict() for e in self.events],
            "trigger_candidates": list(self.trigger_candidates),
            "game_trigger_eligible": self.game_trigger_eligible,
        }


@dataclass(slots=True)
class BatchResult:
    """Results per bet, plus the batch's events with PoolUpdated coalesced per pool."""

    results: list[ContributionResult]
    events: list[EngineEvent]


# --------------------------------------------------------------------------- helpers


def display_state(pool: PoolState, lim: LevelLimits) -> str:
    """PoolUpdated.state: normal | warn (past the cycle's warn threshold) | critical (near win_max).

    'critical' is tied to win_max, never to the secret win target, so it does not leak it.
    """
    cur = pool.visible + pool.hidden
    if cur >= lim.approaching_at:
        return "critical"
    if cur >= pool.warn_threshold:
        return "warn"
    return "normal"


def pool_updated_event(cj: CompiledJackpot, pool: PoolState, cause: str, now: int) -> EngineEvent:
    lim = cj.levels[cj.level_index[pool.level_id]].limits[pool.currency]
    return make_event(
        POOL_UPDATED,
        cj.jackpot_id,
        cause,
        now,
        {
            "current_amount": pool.visible + pool.hidden,
            "visible_amount": pool.visible,
            "state": display_state(pool, lim),
            "cycle_number": pool.cycle,
        },
        level_id=pool.level_id,
        currency=pool.currency,
    )


def check_thresholds(
    cj: CompiledJackpot, cl: CompiledLevel, pool: PoolState, cause: str, now: int, events: list[EngineEvent]
) -> None:
    """Publish WarnThresholdReached, PoolApproachingMax and PoolAtMax once per cycle each, and the
    warn state changes (``warn.py``)."""
    flags = pool.flags
    done = _DONE_MUST if cj.drop_mode == _MUST_DROP else _DONE
    if flags & done == done:
        return
    lim = cl.limits[pool.currency]
    cur = pool.visible + pool.hidden
    if not flags & FLAG_WARNED and cur >= pool.warn_threshold:
        pool.flags |= FLAG_WARNED
        events.append(
            make_event(
                WARN_THRESHOLD_REACHED,
                cj.jackpot_id,
                f"{cause}|c{pool.cycle}",
                now,
                {
                    "current_amount": cur,
                    # the configured range, not this cycle's drawn value (which would reveal the target)
                    "warn_percentage": list(cl.warn_range),
                    "cycle_number": pool.cycle,
                },
                level_id=cl.level_id,
                currency=pool.currency,
            )
        )
    if not flags & FLAG_APPROACHING and cur >= lim.approaching_at:
        pool.flags |= FLAG_APPROACHING
        events.append(
            make_event(
                POOL_APPROACHING_MAX,
                cj.jackpot_id,
                f"{cause}|c{pool.cycle}",
                now,
                {
                    "current_amount": cur,
                    "win_max": lim.win_max,
                    "percentage_of_max": _pct_str(cur, lim.win_max),
                    "cycle_number": pool.cycle,
                },
                level_id=cl.level_id,
                currency=pool.currency,
            )
        )
    if not flags & FLAG_AT_MAX and cur >= lim.win_max:
        pool.flags |= FLAG_AT_MAX
        events.append(
            make_event(
                POOL_AT_MAX,
                cj.jackpot_id,
                f"{cause}|c{pool.cycle}",
                now,
                {"current_amount": cur, "win_max": lim.win_max, "cycle_number": pool.cycle},
                level_id=cl.level_id,
                currency=pool.currency,
            )
        )
    advance_warn(cj, cl, pool, flags, cause, now, events)


def _pct_str(part: int, whole: int) -> str:
    """Exact percentage to 2 places, rounded down, as a string (no floats)."""
    hundredths = part * 10000 // whole
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def credit_level(
    cj: CompiledJackpot,
    state: JackpotState,
    pools_cur: dict[str, PoolState],
    idx: int,
    amount: int,
    lc: LevelContribution | None,
    touched: list[PoolState],
    transfers: list[tuple[int, int, int, int]] | None = None,
) -> None:
    """Steps 6-7 for one level: hidden split, visible update, cap at win_max, overflow routing.

    The pool must be able to receive (started, not locked, not paused). Updates balances and
    meters; ``lc`` (when given) records the parts; pools changed are appended to ``touched``;
    redirected overflow is appended to ``transfers`` as (target index, amount, visible, hidden).
    """
    cl = cj.levels[idx]
    pool = pools_cur[cl.level_id]
    lim = cl.limits[pool.currency]
    room = lim.win_max - pool.visible - pool.hidden
    if amount <= room:
        accepted = amount
        overflow = 0
    else:
        accepted = room if room > 0 else 0
        overflow = amount - accepted
    if accepted:
        hidden = accepted * cl.hidden_num // cl.hidden_den if cl.hidden_num else 0
        visible = accepted - hidden
        pool.visible += visible
        pool.hidden += hidden
        touched.append(pool)
        if lc is not None:
            lc.visible += visible
            lc.hidden += hidden
    if overflow:
        m = pool.meters
        m.overflow += overflow
        if lc is not None:
            lc.overflow += overflow
        mode = cl.overflow_mode
        if mode == _REVENUE:
            m.overflow_revenue += overflow
            if lc is not None:
                lc.overflow_revenue += overflow
            return
        left = overflow
        if mode == _REDIRECT:
            left = _redirect(cj, state, pools_cur, cl, left, lc, touched, transfers)
            m.overflow_redirected += overflow - left
        if left:
            pool.carry += left
            m.overflow_reserve += left
            if lc is not None:
                lc.overflow_reserve += left


def _redirect(
    cj: CompiledJackpot,
    state: JackpotState,
    pools_cur: dict[str, PoolState],
    cl: CompiledLevel,
    amount: int,
    lc: LevelContribution | None,
    touched: list[PoolState],
    transfers: list[tuple[int, int, int, int]] | None,
) -> int:
    """Move overflow to the redirect targets in order, each up to its own win_max. Returns what
    none of them could take (the caller keeps it in the origin's reserve)."""
    left = amount
    lstat = state.level_status
    for t in cl.redirect_to:
        tl = cj.levels[t]
        tp = pools_cur[tl.level_id]
        if tp.locked or tp.cycle == 0 or tp.closed or lstat[tl.level_id] not in _RECEIVES:
            continue
        room = tl.limits[tp.currency].win_max - tp.visible - tp.hidden
        if room <= 0:
            continue
        take = left if left <= room else room
        hidden = take * tl.hidden_num // tl.hidden_den if tl.hidden_num else 0
        tp.visible += take - hidden
        tp.hidden += hidden
        tp.meters.transfers_in += take
        touched.append(tp)
        if lc is not None:
            lc.redirected += ((tl.level_id, take),)
        if transfers is not None:
            transfers.append((t, take, take - hidden, hidden))
        left -= take
        if not left:
            break
    return left


def flush_pending(
    cj: CompiledJackpot,
    state: JackpotState,
    level_idx: int,
    currency: str,
    cause: str,
    now: int,
    events: list[EngineEvent],
    batch_touched: dict[tuple[str, str], tuple[PoolState, str, int]] | None = None,
) -> int:
    """Apply a pool's pending contributions (after resume or unlock). Returns the amount applied.

    With ``batch_touched`` the PoolUpdated events are left to the caller (one per pool when
    several pools are flushed for the same command)."""
    cl = cj.levels[level_idx]
    pools_cur = state.pools[currency]
    pool = pools_cur[cl.level_id]
    amount = pool.pending
    if not amount and not pool.pending_house:
        return 0
    house = pool.pending_house
    pool.pending = 0
    pool.pending_house = 0
    pool.cycle_contributions += amount
    pool.cycle_house += house
    pool.cycle_gross += amount + house
    touched: list[PoolState] = []
    credit_level(cj, state, pools_cur, level_idx, amount, None, touched)
    _after_credit(cj, touched, cause, now, events, batch_touched)
    return amount


def _after_credit(
    cj: CompiledJackpot,
    touched: list[PoolState],
    cause: str,
    now: int,
    events: list[EngineEvent],
    batch_touched: dict[tuple[str, str], tuple[PoolState, str, int]] | None,
) -> None:
    seen: set[int] = set()
    for pool in touched:
        if id(pool) in seen:
            continue
        seen.add(id(pool))
        cl = cj.levels[cj.level_index[pool.level_id]]
        check_thresholds(cj, cl, pool, cause, now, events)
        if batch_touched is None:
            events.append(pool_updated_event(cj, pool, cause, now))
        else:
            batch_touched[(pool.currency, pool.level_id)] = (pool, cause, now)


# --------------------------------------------------------------------------- the pipeline


def _discard(cj: CompiledJackpot, bet: Bet, reason: str, detail: str) -> ContributionResult:
    return ContributionResult(bet.bet_id, cj.jackpot_id, bet.currency, Outcome.DISCARDED, reason, detail)


def apply_contribution(cj: CompiledJackpot, state: JackpotState, bet: Bet, *,
                       touched: dict[tuple[str, str], tuple[PoolState, str, int]] | None = None) -> ContributionResult:
    """Run one bet through the pipeline. Mutates ``state``; returns what happened and the events.

    With ``touched``, the pools the bet changed are collected there, keyed (currency, level_id),
    instead of a PoolUpdated event each: for a caller that publishes one per pool per batch
    (building them for every bet costs a quarter of the pipeline)."""
    return _apply(cj, state, bet, touched)


def apply_batch(cj: CompiledJackpot, state: JackpotState, bets: list[Bet]) -> BatchResult:
    """Apply bets in order; threshold events stay in order, PoolUpdated is coalesced to one
    per touched pool (the latest value, caused by the last bet that touched it)."""
    touched: dict[tuple[str, str], tuple[PoolState, str, int]] = {}
    results = []
    events: list[EngineEvent] = []
    for bet in bets:
        r = _apply(cj, state, bet, touched)
        results.append(r)
        events.extend(r.events)
    for pool, cause, now in touched.values():
        events.append(pool_updated_event(cj, pool, cause, now))
    return BatchResult(results, events)


def _apply(
    cj: CompiledJackpot,
    state: JackpotState,
    bet: Bet,
    batch_touched: dict[tuple[str, str], tuple[PoolState, str, int]] | None,
) -> ContributionResult:
    if state.jackpot_id != cj.jackpot_id:
        raise ValueError(f"state of jackpot {state.jackpot_id} applied with the config of {cj.jackpot_id}")
    status = state.status
    if status not in _ACCEPTING:
        return _discard(cj, bet, Reason.JACKPOT_NOT_ACCEPTING, f"jackpot is {status}")
    if state.closing:
        return _discard(cj, bet, Reason.JACKPOT_NOT_ACCEPTING, "jackpot is being decommissioned")
    # step 1: game eligibility
    game = cj.games.get(bet.game_id)
    if game is None:
        return _discard(cj, bet, Reason.GAME_NOT_ELIGIBLE, f"game {bet.game_id} does not participate")
    # step 2: bet type (and the rest of contribution eligibility)
    if bet.bet_type not in cj.bet_types:
        return _discard(cj, bet, Reason.BET_TYPE_NOT_ACCEPTED, f"{bet.bet_type} bets are not accepted")
    if bet.brand_id not in cj.brands:
        return _discard(cj, bet, Reason.BRAND_NOT_ELIGIBLE, f"brand {bet.brand_id} is not in this jackpot")
    currency = bet.currency
    pools_cur = state.pools.get(currency)
    if pools_cur is None or currency not in cj.currencies:
        return _discard(cj, bet, Reason.CURRENCY_NOT_SUPPORTED, f"currency {currency} is not supported")
    if bet.player_excluded:
        return _discard(cj, bet, Reason.PLAYER_EXCLUDED, "player is excluded")
    if cj.config.schedule is not None and not schedule_open(cj, bet.timestamp):
        return _discard(cj, bet, Reason.OUTSIDE_SCHEDULE, "outside the jackpot's scheduled window")
    amount = bet.bet_amount
    if type(amount) is not int or amount <= 0:
        return _discard(cj, bet, Reason.INVALID_AMOUNT, f"bet_amount must be a positive int of micros, got {amount!r}")
    levels = cj.levels
    lstat = state.level_status
    statuses = [lstat[cl.level_id] for cl in levels]
    # a DISABLED level, or a pool closed by a final drop, takes no new contributions
    plan = cj.split_plan(
        tuple(s == _L_DISABLED or pools_cur[cl.level_id].closed for s, cl in zip(statuses, levels))
    )
    if plan is None:
        return _discard(cj, bet, Reason.NO_RECEIVING_LEVEL, "no level can receive contributions")

    # step 3: gross; step 4: house cut
    gross = amount * game.gross_num // game.gross_den
    net = gross * cj.net_num // cj.net_den
    house = gross - net
    # step 5: split net and house cut across the receiving levels
    if gross:
        nets = allocate(net, plan.weights)
        houses = allocate(house, plan.weights) if house else [0] * len(levels)
    else:
        nets = houses = [0] * len(levels)

    # regulatory item 1: reject an implausible contribution before anything changes
    for i in plan.receiving:
        lim = levels[i].limits[currency]
        if nets[i] > lim.max_contribution:
            detail = (
                f"contribution {nets[i]} micros to level '{levels[i].name}' exceeds the single-contribution "
                f"bound {lim.max_contribution} micros"
            )
            ev = make_event(
                CONTRIBUTION_REJECTED,
                cj.jackpot_id,
                bet.bet_id,
                bet.timestamp,
                {
                    "bet_id": bet.bet_id,
                    "player_id": bet.player_id,
                    "game_id": bet.game_id,
                    "bet_amount": amount,
                    "contribution": nets[i],
                    "bound": lim.max_contribution,
                    "reason": Reason.CONTRIBUTION_EXCEEDS_BOUND,
                },
                level_id=levels[i].level_id,
                currency=currency,
            )
            return ContributionResult(
                bet.bet_id,
                cj.jackpot_id,
                currency,
                Outcome.REJECTED,
                Reason.CONTRIBUTION_EXCEEDS_BOUND,
                detail,
                gross,
                house,
                net,
                events=[ev],
            )

    paused = status == _PAUSED
    lcs = [LevelContribution(cl.level_id) for cl in levels]
    touched: list[PoolState] = []
    now = bet.timestamp
    transfers: list[tuple[int, int, int, int]] = []
    for i in plan.receiving:
        cl = levels[i]
        pool = pools_cur[cl.level_id]
        n = nets[i]
        h = houses[i]
        lc = lcs[i]
        lc.gross = n + h
        lc.house_cut = h
        lc.net = n
        m = pool.meters
        m.wagers += amount
        m.bets += 1
        m.gross += n + h
        m.house += h
        if paused or statuses[i] == _L_PAUSED or pool.locked or pool.cycle == 0:
            pool.pending += n
            pool.pending_house += h
            lc.pending = n
            continue
        pool.cycle_gross += n + h
        pool.cycle_house += h
        pool.cycle_contributions += n
        pool.cycle_bets += 1
        pool.cycle_wagers += amount
        if n:
            credit_level(cj, state, pools_cur, i, n, lc, touched, transfers)
    if transfers:
        for t, take, vis, hid in transfers:
            tlc = lcs[t]
            tlc.transfer_in += take
            tlc.transfer_visible += vis
            tlc.transfer_hidden += hid

    events: list[EngineEvent] = []
    if touched:
        _after_credit(cj, touched, bet.bet_id, now, events, batch_touched)

    # step 8 hand-off: pools that reached their target (the trigger stage decides the rest)
    candidates: tuple[str, ...] = ()
    if not paused:
        cands = []
        for i, cl in enumerate(levels):
            if statuses[i] != _L_ENABLED:
                continue
            p = pools_cur[cl.level_id]
            if p.cycle and not p.locked and not p.closed and p.visible + p.hidden >= p.win_target:
                cands.append(cl.level_id)
        candidates = tuple(cands)

    return ContributionResult(
        bet.bet_id,
        cj.jackpot_id,
        currency,
        Outcome.BUFFERED if paused else Outcome.APPLIED,
        Reason.JACKPOT_PAUSED if paused else (None if gross else Reason.ZERO_CONTRIBUTION),
        None,
        gross,
        house,
        net,
        tuple(lcs),
        events,
        candidates,
        game.trigger_eligible,
    )
