"""The payout flow (spec: Payout Flow, 10 steps) as a state machine over ``WinRecord``s.

1. lock the level: the pool goes DROPPING (``drops.begin_drop``); no trigger evaluation, its
   contributions queue in pending;
2. record the win: winners drawn from the eligible-player snapshot (``selection``), chain
   recipients chosen (``chain``); ``WinnerSelected`` logs snapshot, weights and draws;
3. large-win check: a main prize above the threshold waits in the approval queue
   (``WinApprovalRequested`` command; alerts at 24/48/72 h, expiry at 72 h = decline);
4. tax: withholding by the winner's jurisdiction (``tax``), net = amount - tax;
5. credit: ``WalletCreditCommand`` (player, amount, tax, net, currency, wagering requirement)
   with a deterministic idempotency key per win, slot and recipient; retries reuse the key;
6. confirm: the wallet's answer; a retryable failure waits ``min(base x 2^(n-1), max)`` and is
   re-sent by the clock tick; after the last attempt (or a final failure) the prize goes to
   PENDING_MANUAL_RESOLUTION (``PayoutAlert``): the operator retries, voids or pays it another way;
7. chain reaction: once the main prize is paid, the chain prizes are credited;
8. ``JackpotWon``;
9. reseed: the pool is debited, the cycle seed revealed, the next cycle started from a fresh seed,
   the queued contributions applied (``drops.settle_drop``), status back to ACTIVE;
10. ``JackpotReseeded``.

A win is paid once: each prize has one idempotency key, a credit is confirmed at most once, the
pool is settled at most once per win, and a void is refused while a credit is in flight.
Declined approval: a fallback winner from the drop's snapshot (configurable) or the share returns
to the pool. A drop whose main prize is wholly declined or voided is aborted: the amount stays in
the pool, no reseed ("continues from the pre-drop amount"). So for every drop,
``paid + returned == the pool amount locked at the drop``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .activity import FLAGS, JURISDICTION, SEGMENTS, most_recent
from .chain import chain_candidates, select_chain
from .compiled import CompiledJackpot, CompiledLevel
from .config import JackpotStatus, LevelStatus
from .drops import Winner, abort_drop, begin_drop, settle_drop
from .eligibility import personal_failures, snapshot
from .errors import DropRejected, EngineError
from .events import (
    EVENT_NAMESPACE,
    CREDIT_UPDATED,
    JACKPOT_STATE_CHANGED,
    JACKPOT_WON,
    PAYOUT_ALERT,
    WALLET_CREDIT_COMMAND,
    WIN_APPROVAL_DECIDED,
    WIN_APPROVAL_ESCALATED,
    WIN_APPROVAL_REQUESTED,
    WIN_VOIDED,
    WINNER_SELECTED,
    EngineEvent,
    make_event,
)
from .money import floor_to_unit
from .pool import JackpotState, PoolState
from .rng import SeedSource, draw_weighted
from .seeding import cycle_context
from .selection import (
    RANDOM,
    TRIGGER,
    WEIGHTED,
    Candidate,
    Draw,
    candidate,
    draw_winners,
    guaranteed_restriction,
    mode_weights,
    record_award,
    shares,
)
from .tax import withholding
from .wins import (
    AWAITING_APPROVAL,
    CHAIN,
    CONFIRMED,
    DECLINED,
    ESCROW,
    FINAL,
    HELD,
    MAIN,
    MANUAL,
    PAID,
    PAYING,
    RESOLVED,
    RETRY_WAIT,
    RETURNED,
    RETURNED_TO_POOL,
    SENT,
    SETTLED,
    VOIDED,
    Credit,
    WinRecord,
)

__all__ = [
    "Output",
    "WalletResult",
    "NoWinner",
    "DECOMMISSION",
    "PENDING_MANUAL_RESOLUTION",
    "win_id_for",
    "credit_key",
    "backoff_ms",
    "start_drop",
    "on_wallet_result",
    "decide_approval",
    "void_win",
    "retry_credit",
    "resolve_credit",
    "payout_tick",
    "find_credits",
]

PENDING_MANUAL_RESOLUTION = "PENDING_MANUAL_RESOLUTION"
J = JackpotStatus
SAME = "same_winner"
MOST_RECENT = "most_recent"
DECOMMISSION = "decommission"  # drop kind of a decommissioning jackpot's last drops (decommission.py)
WALLET_STATUSES = ("confirmed", "failed", "escrow", "pending_manual_resolution")


class NoWinner(DropRejected):
    """Nobody can be awarded this drop now (no eligible player, nobody recently active)."""


@dataclass(slots=True)
class Output:
    events: list[EngineEvent] = field(default_factory=list)
    commands: list[EngineEvent] = field(default_factory=list)

    def extend(self, other: "Output") -> None:
        self.events.extend(other.events)
        self.commands.extend(other.commands)


@dataclass(slots=True, frozen=True)
class WalletResult:
    """The wallet's answer to a credit command (``WalletCreditResult``)."""

    idempotency_key: str
    status: str  # confirmed | failed | escrow | pending_manual_resolution
    attempt: int = 1
    wallet_transaction_id: str = ""
    error: str = ""
    retryable: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WalletResult":
        return cls(
            str(d["idempotency_key"]),
            str(d["status"]),
            int(d.get("attempt", 1) or 1),
            str(d.get("wallet_transaction_id") or ""),
            str(d.get("error") or ""),
            bool(d.get("retryable", False)),
        )


# --------------------------------------------------------------------------- identities


def win_id_for(cj: CompiledJackpot, pool: PoolState, seq: int) -> str:
    """Stable id of a pool's ``seq``-th drop in its cycle."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"win|{cj.jackpot_id}|{pool.level_id}|{pool.currency}|{pool.cycle}|{seq}"))


def credit_key(win_id: str, kind: str, rank: int, player_id: str) -> str:
    """The wallet idempotency key of one prize: stable per win, slot and recipient."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"credit|{win_id}|{kind}|{rank}|{player_id}"))


def backoff_ms(cj: CompiledJackpot, attempt: int) -> int:
    """Wait before attempt ``attempt + 1``: exponential, capped."""
    pc = cj.config.payout
    return min(pc.wallet_retry_base_ms << max(0, attempt - 1), pc.wallet_retry_max_ms)


# --------------------------------------------------------------------------- events


def _ev(cj: CompiledJackpot, win: WinRecord, etype: str, cause: str, now: int, payload: dict[str, Any]) -> EngineEvent:
    body = {"win_id": win.win_id, "cycle_number": win.cycle}
    body.update(payload)
    return make_event(etype, cj.jackpot_id, cause, now, body, level_id=win.level_id, currency=win.currency)


def _credit_payload(c: Credit) -> dict[str, Any]:
    return {
        "idempotency_key": c.key,
        "kind": c.kind,
        "rank": c.rank,
        "player_id": c.player_id,
        "brand_id": c.brand_id,
        "game_id": c.game_id,
        "amount": c.amount,
        "tax_amount": c.tax,
        "net_amount": c.net,
    }


def _updated(cj: CompiledJackpot, win: WinRecord, c: Credit, now: int, extra: dict[str, Any] | None = None) -> EngineEvent:
    body = {"idempotency_key": c.key, "kind": c.kind, "rank": c.rank, "player_id": c.player_id,
            "status": c.status, "attempt": c.attempt}
    if c.status == RETRY_WAIT:
        body["next_retry_at"] = c.next_at
    if c.note:
        body["note"] = c.note
    body.update(extra or {})
    return _ev(cj, win, CREDIT_UPDATED, f"{c.key}#{c.attempt}|{c.status}", now, body)


def _send(cj: CompiledJackpot, win: WinRecord, c: Credit, now: int, out: Output) -> None:
    """Payout step 5: issue (or re-issue) the credit command; the key never changes."""
    c.attempt += 1
    c.status = SENT
    c.since = now
    c.next_at = 0
    payload = _credit_payload(c)
    payload.update(
        {
            "wagering_requirement": cj.config.payout.wagering_requirement,
            "win_event_id": win.win_id,
            "attempt": c.attempt,
            "lock_on_win": c.kind == MAIN and cj.level(win.level_id).lock_on_win,
        }
    )
    out.commands.append(_ev(cj, win, WALLET_CREDIT_COMMAND, f"{c.key}#{c.attempt}", now, payload))
    out.events.append(_updated(cj, win, c, now))


def _request_approval(cj: CompiledJackpot, win: WinRecord, c: Credit, now: int, out: Output) -> None:
    """Payout step 3: a large win waits in the approval queue."""
    pc = cj.config.payout
    c.status = AWAITING_APPROVAL
    c.since = now
    c.alerts = 0
    c.next_at = now + pc.approval_expiry_hours * 3_600_000
    threshold = cj.level(win.level_id).limits[win.currency].large_win
    payload = _credit_payload(c)
    payload.update(
        {
            "approval_id": c.key,
            "threshold": threshold,
            "selection_method": win.method,
            "trigger_bet_id": win.trigger[0] if win.trigger else None,
            "requested_at": now,
            "expires_at": c.next_at,
            "alert_at": [now + h * 3_600_000 for h in pc.approval_alert_hours],
        }
    )
    out.commands.append(_ev(cj, win, WIN_APPROVAL_REQUESTED, f"{c.key}|approval", now, payload))
    out.events.append(_updated(cj, win, c, now))


def _manual(cj: CompiledJackpot, win: WinRecord, c: Credit, now: int, why: str, out: Output) -> None:
    c.status = MANUAL
    c.note = why
    c.since = now
    out.events.append(_updated(cj, win, c, now))
    out.events.append(
        _ev(cj, win, PAYOUT_ALERT, f"{c.key}#{c.attempt}|manual", now,
            {**_credit_payload(c), "severity": "high", "state": PENDING_MANUAL_RESOLUTION, "reason": why,
             "attempts": c.attempt, "actions": ["retry_payout", "void_win", "resolve_payout"]})
    )
    if c.kind == MAIN:
        out.events.append(_level_state(cj, win, c, "DROPPING", PENDING_MANUAL_RESOLUTION, why, now))


def _level_state(cj: CompiledJackpot, win: WinRecord, c: Credit, old: str, new: str, why: str, now: int) -> EngineEvent:
    return make_event(
        JACKPOT_STATE_CHANGED,
        cj.jackpot_id,
        f"{c.key}#{c.attempt}|{old}>{new}",
        now,
        {"level_id": win.level_id, "old_state": old, "new_state": new, "changed_by": "system", "reason": why,
         "currency": win.currency, "win_id": win.win_id},
    )


def _leave_manual(cj: CompiledJackpot, win: WinRecord, c: Credit, was: str, now: int, out: Output) -> None:
    if was == MANUAL and c.kind == MAIN:
        out.events.append(_level_state(cj, win, c, PENDING_MANUAL_RESOLUTION, "DROPPING", f"prize {c.status}", now))


# --------------------------------------------------------------------------- step 1-5: the drop


def _most_recent(cj: CompiledJackpot, state: JackpotState, cl: CompiledLevel, pool: PoolState, exclude: set[str],
                 now: int) -> Candidate | None:
    for pid, rec in most_recent(state, pool.currency):
        if pid in exclude:
            continue
        if not personal_failures(cj, state, pid, rec[FLAGS], rec[SEGMENTS], rec[JURISDICTION], cl.index, now):
            return candidate(cj, cl, pool, pid, rec, now)
    return None


def start_drop(
    cj: CompiledJackpot,
    state: JackpotState,
    level_id: str,
    currency: str,
    *,
    kind: str,
    cause: str,
    actor: str,
    now: int,
    stage: int = 0,
    trigger: tuple[str, str, str, str] | None = None,
    exclude: frozenset[str] = frozenset(),
    same: list[list[str]] | None = None,
    final: bool = False,
    origin: str = "",
) -> tuple[WinRecord, Output]:
    """Steps 1-5 for one pool: select, lock, record, then approval request or credit commands.

    ``kind``: trigger (a bet; ``trigger`` = bet id, player, game, brand), force, deadline,
    cascade (``origin`` win; ``same`` = the origin's winners for a same-winner waterfall, or
    ``exclude`` the cascade's earlier winners), final (campaign end, no reseed), decommission
    (the exact whole pool, whatever the jackpot's and level's status; no reseed). Raises
    ``NoWinner`` or ``DropRejected`` before changing anything.
    """
    cl = cj.level(level_id)
    pool = state.pool(level_id, currency)
    closing = kind == DECOMMISSION
    if closing and not state.closing:
        raise DropRejected("a decommissioning drop needs the jackpot to be decommissioned")
    if not closing and state.status not in (J.ACTIVE, J.DROPPING):
        raise DropRejected(f"no drops while the jackpot is {state.status}")
    if not closing and state.level_status[cl.level_id] != LevelStatus.ENABLED:
        raise DropRejected(f"level '{cl.name}' is {state.level_status[cl.level_id]}")
    if pool.cycle == 0 or pool.closed or pool.locked:
        raise DropRejected(f"pool {cl.name}/{currency} cannot drop now (no cycle, closed or locked)")
    amount = floor_to_unit(pool.visible) if cl.integer_wins_only and not closing else pool.visible
    if amount <= 0:
        raise DropRejected(f"pool {cl.name}/{currency} has nothing to pay")

    seed = bytes.fromhex(pool.rng_seed)
    ctx = cycle_context(cj, pool)
    seq = pool.drop_seq + 1
    n = len(cj.split)
    rule = ""
    draws: list[Draw] = []
    if same:
        cands = [Candidate(p[0], p[1], p[2], p[3], (), False, (), (), 0) for p in same]
        weights = [1] * len(cands)
        chosen = list(range(min(n, len(cands))))
        method = SAME
    else:
        snap = snapshot(cj, state, cl, pool, now, stage)
        cands = [candidate(cj, cl, pool, pid, rec, now) for pid, rec in snap if pid not in exclude]
        if not cands and exclude and snap:  # independent waterfall with nobody else: repeat a winner
            cands = [candidate(cj, cl, pool, pid, rec, now) for pid, rec in snap]
        if cj.mode in (3, 4):
            cands, rule = guaranteed_restriction(cj, state, cl, cands, now)
        method = cj.method
        first = None
        if method == TRIGGER:
            ids = [c.player_id for c in cands]
            if trigger is not None and trigger[1] in ids:
                first = ids.index(trigger[1])
            else:  # no triggering bet (force, deadline, cascade) or the rules moved the draw elsewhere
                method = RANDOM if cj.mode == 1 else WEIGHTED
        if not cands and kind != "trigger":
            recent = _most_recent(cj, state, cl, pool, set(exclude), now)
            if recent is not None:
                cands, method, first = [recent], MOST_RECENT, None
        if not cands:
            raise NoWinner(f"no eligible player to award {cl.name}/{currency}")
        weights = mode_weights(cj, cands, method)
        chosen, draws = draw_winners(seed, ctx, seq, 0, cands, weights, n, first)
    winners = [cands[i] for i in chosen]

    chain_pick: list[tuple[Candidate, int]] = []
    chain_draws: list[Draw] = []
    chain_logged: list[list] = []
    if cl.chain_mode:
        others = chain_candidates(cj, state, cl, pool, {w.player_id for w in winners}, now)
        chain_pick, chain_draws, chain_logged = select_chain(cj, cl, pool, seed, ctx, seq, others)

    # step 1: lock (raises before any change if the pool cannot drop)
    win_id = win_id_for(cj, pool, seq)
    ticket = begin_drop(cj, state, level_id, currency, cause_id=win_id, now=now, actor=actor, closing=closing)
    out = Output(list(ticket.events), [])
    pool.drop_seq = seq
    pool.armed_at = pool.armed_bets = 0

    # step 2: record
    win = WinRecord(
        win_id=win_id, level_id=cl.level_id, currency=currency, cycle=pool.cycle, seq=seq, kind=kind, cause=cause,
        actor=actor, started_at=now, amount=ticket.win_amount, method=method,
        trigger=list(trigger) if trigger else [], draws=len(draws), final=final, origin=origin,
    )
    parts = shares(cj, cl, ticket.win_amount, len(winners))
    for rank, (w, part) in enumerate(zip(winners, parts), 1):
        win.credits.append(_new_credit(cj, win, MAIN, rank, w.ident(), part))
    for rank, (c, prize) in enumerate(chain_pick, 1):
        cr = _new_credit(cj, win, CHAIN, rank, c.ident(), prize)
        cr.status = HELD
        win.credits.append(cr)
    out.events.append(
        _ev(cj, win, WINNER_SELECTED, f"{win_id}|selected", now, {
            "drop_number": seq,
            "drop_kind": kind,
            "selection_method": method,
            "distribution_mode": cj.mode,
            "stage": stage,
            "rule": rule,
            "commitment": pool.commitment,
            "trigger_bet_id": trigger[0] if trigger else None,
            "win_amount": ticket.win_amount,
            "candidates": [[c.player_id, w] for c, w in zip(cands, weights)],
            "draws": [d.to_list() for d in draws],
            # payout step 2, the win record: [rank, player, amount, brand, game] per winner
            "winners": [[c.rank, c.player_id, c.amount, c.brand_id, c.game_id] for c in win.mains()],
            "chain_candidates": chain_logged,
            "chain_draws": [d.to_list() for d in chain_draws],
            "chain_winners": [[c.rank, c.player_id, c.amount] for c in win.chains()],
            "origin_win_id": origin or None,
        })
    )
    # steps 3-5
    threshold = cl.limits[currency].large_win
    if threshold >= 0 and any(c.amount > threshold for c in win.mains()) and method != SAME:
        win.candidates = [[*c.ident(), w] for c, w in zip(cands, weights)]
    for c in win.mains():
        if threshold >= 0 and c.amount > threshold:
            _request_approval(cj, win, c, now, out)
        else:
            _send(cj, win, c, now, out)
    record_award(cj, state, cl, winners, now)
    state.wins[win_id] = win
    return win, out


def _new_credit(cj: CompiledJackpot, win: WinRecord, kind: str, rank: int, ident: list, amount: int) -> Credit:
    pid, brand, game, jur = ident
    return Credit(
        key=credit_key(win.win_id, kind, rank, pid), kind=kind, rank=rank, player_id=pid, brand_id=brand,
        game_id=game, jurisdiction=jur, amount=amount, tax=withholding(cj, jur, win.currency, amount),
    )


# --------------------------------------------------------------------------- steps 6-10: confirmation and settlement


def find_credits(state: JackpotState, ref: str, player_id: str | None = None) -> list[tuple[WinRecord, Credit]]:
    """Credits by idempotency key (= approval id), or every credit of a win id (optionally one player's)."""
    out = []
    for win in state.wins.values():
        if win.win_id == ref:
            out.extend((win, c) for c in win.credits if player_id is None or c.player_id == player_id)
        else:
            c = win.credit(ref)
            if c is not None:
                out.append((win, c))
    return out


def on_wallet_result(
    cj: CompiledJackpot, state: JackpotState, res: WalletResult, now: int, seed_source: SeedSource
) -> tuple[Output, str | None]:
    """Step 6. Returns the output and, when the result changed nothing, why it was ignored."""
    if res.status not in WALLET_STATUSES:
        return Output(), f"unknown wallet status {res.status!r}"
    found = find_credits(state, res.idempotency_key)
    if not found:
        return Output(), "no prize in progress has this key (already completed, or never issued)"
    win, c = found[0]
    out = Output()
    credited = res.status in ("confirmed", "escrow")
    if c.status in (VOIDED, RETURNED, DECLINED):
        if credited:  # must never happen: the wallet paid a prize the engine no longer owes
            # one alert per wallet transaction: each is a credit to reverse (a replayed result
            # has the same transaction, so the same alert id)
            out.events.append(
                _ev(cj, win, PAYOUT_ALERT,
                    f"{c.key}|credited-after-{c.status}|{res.wallet_transaction_id or ''}", now,
                    {**_credit_payload(c), "severity": "critical", "state": c.status,
                     "reason": f"wallet credited a {c.status} prize ({res.wallet_transaction_id}); reverse it in the wallet"})
            )
            return out, None
        return out, f"prize is {c.status}"
    if c.status in PAID:
        if c.status == ESCROW and res.status == "confirmed":
            c.status = CONFIRMED
            c.tx = res.wallet_transaction_id or c.tx
            out.events.append(_updated(cj, win, c, now))
            out.extend(_progress(cj, state, win, now, seed_source))
            return out, None
        return out, f"duplicate: prize already {c.status}"
    if c.status in (HELD, AWAITING_APPROVAL):
        return out, f"prize is {c.status}; no credit was issued"
    was = c.status
    if credited:  # a confirmation counts whatever attempt it answers: the wallet credits a key once
        c.status = CONFIRMED if res.status == "confirmed" else ESCROW
        c.tx = res.wallet_transaction_id
        c.note = ""
        c.since = now
        out.events.append(_updated(cj, win, c, now))
        _leave_manual(cj, win, c, was, now, out)
        out.extend(_progress(cj, state, win, now, seed_source))
        return out, None
    if c.status != SENT or res.attempt != c.attempt:
        return out, f"stale answer to attempt {res.attempt} (prize is {c.status} at attempt {c.attempt})"
    why = res.error or res.status
    if res.status == "failed" and res.retryable and c.attempt < cj.config.payout.wallet_max_attempts:
        c.status = RETRY_WAIT
        c.note = why
        c.next_at = now + backoff_ms(cj, c.attempt)
        out.events.append(_updated(cj, win, c, now))
        return out, None
    if res.status == "failed" and res.retryable:
        why = f"{why} (after {c.attempt} attempts)"
    _manual(cj, win, c, now, why, out)
    return out, None


def _progress(cj: CompiledJackpot, state: JackpotState, win: WinRecord, now: int, seed_source: SeedSource | None) -> Output:
    """Settle or return a win whose main prizes are all final; forget a win whose credits are all final."""
    out = Output()
    if win.status == PAYING and all(c.status in FINAL for c in win.mains()):
        if win.paid_main():
            _settle(cj, state, win, now, seed_source, out)
        else:
            _return(cj, state, win, now, out)
    if win.status != PAYING and all(c.status in FINAL for c in win.credits):
        state.wins.pop(win.win_id, None)
    return out


def _settle(cj: CompiledJackpot, state: JackpotState, win: WinRecord, now: int, seed_source: SeedSource | None,
            out: Output) -> None:
    """Steps 7-10: chain prizes, JackpotWon, debit + reveal + reseed, JackpotReseeded."""
    pool = state.pool(win.level_id, win.currency)
    cl = cj.level(win.level_id)
    for c in win.chains():  # step 7
        if c.status == HELD:
            _send(cj, win, c, now, out)
    paid = [c for c in win.mains() if c.status in PAID]
    bet_id = win.trigger[0] if win.trigger else ""
    payouts = [(Winner(c.player_id, c.game_id, c.brand_id, bet_id), c.amount) for c in paid]
    first = paid[0]
    won = _ev(cj, win, JACKPOT_WON, f"{win.win_id}|won", now, {  # step 8
        "win_amount": sum(c.amount for c in paid),
        "winner_player_id": first.player_id,
        "winner_game_id": first.game_id,
        "winner_brand_id": first.brand_id,
        "winners": [{"rank": c.rank, "player_id": c.player_id, "brand_id": c.brand_id, "game_id": c.game_id,
                     "amount": c.amount, "tax_amount": c.tax, "net_amount": c.net} for c in paid],
        "chain_reaction_winners": [{"rank": c.rank, "player_id": c.player_id, "brand_id": c.brand_id,
                                    "amount": c.amount} for c in win.chains()],
        "trigger_bet_id": bet_id or None,
        "selection_method": win.method,
        "drop_kind": win.kind,
        "returned_amount": win.amount - sum(c.amount for c in paid),
        "lock_on_win": cl.lock_on_win,
        "auto_reset_seconds": cl.auto_reset_seconds,
        "dropped_at": win.started_at,
    })
    next_seed = None
    final = win.final or bool(state.closing)  # a drop that was running when decommissioning began: no reseed
    if not final:
        if seed_source is None:
            raise EngineError("settling a win reseeds the pool: a seed source is required")
        next_seed = seed_source(win.level_id, win.currency, pool.cycle + 1)
    s = settle_drop(cj, state, win.level_id, win.currency, None, next_seed=next_seed, cause_id=f"{win.win_id}|settle",
                    now=now, final=final, payouts=payouts, announce=[won])  # steps 9-10
    out.events.extend(s.events)
    pool.last_drop_at = win.started_at
    win.status = SETTLED
    win.settled_at = now


def _return(cj: CompiledJackpot, state: JackpotState, win: WinRecord, now: int, out: Output) -> None:
    """Nothing paid: the drop is aborted, the amount stays in the pool, no reseed."""
    for c in win.chains():
        if c.status not in FINAL:
            c.status = VOIDED
            c.note = "main prize not paid"
    reasons = sorted({c.note for c in win.mains() if c.note}) or ["main prize not paid"]
    out.events.extend(abort_drop(cj, state, win.level_id, win.currency, actor="system",
                                 reason=f"win returned to the pool: {'; '.join(reasons)}",
                                 cause_id=f"{win.win_id}|return", now=now))
    pool = state.pool(win.level_id, win.currency)
    pool.armed_at = pool.armed_bets = 0  # a fresh evaluation delay before the next drop
    win.status = RETURNED_TO_POOL


# --------------------------------------------------------------------------- approvals


def _decide_out(cj: CompiledJackpot, win: WinRecord, c: Credit, decision: str, actor: str, reason: str,
                now: int) -> EngineEvent:
    return _ev(cj, win, WIN_APPROVAL_DECIDED, f"{c.key}|{decision}", now,
               {"approval_id": c.key, "player_id": c.player_id, "amount": c.amount, "decision": decision,
                "actor": actor, "reason": reason})


def decide_approval(
    cj: CompiledJackpot,
    state: JackpotState,
    ref: str,
    approve: bool,
    *,
    actor: str,
    reason: str,
    now: int,
    seed_source: SeedSource | None,
    player_id: str | None = None,
    expired: bool = False,
) -> Output:
    """Approve (credit it) or decline (fallback winner or back to the pool) waiting large wins."""
    found = [(w, c) for w, c in find_credits(state, ref, player_id) if c.kind == MAIN and c.status == AWAITING_APPROVAL]
    if not found:
        raise DropRejected(f"no prize awaiting approval matches {ref}")
    if not approve and not reason:
        raise DropRejected("declining a win needs a reason")
    out = Output()
    for win, c in found:
        if approve:
            out.events.append(_decide_out(cj, win, c, "approved", actor, reason, now))
            _send(cj, win, c, now, out)
        else:
            out.events.append(_decide_out(cj, win, c, "expired" if expired else "declined", actor, reason, now))
            _decline(cj, state, win, c, reason, now, out)
    for win in {id(w): w for w, _ in found}.values():
        out.extend(_progress(cj, state, win, now, seed_source))
    return out


def _decline(cj: CompiledJackpot, state: JackpotState, win: WinRecord, c: Credit, reason: str, now: int,
             out: Output) -> None:
    win.declined.append(c.player_id)
    c.note = reason
    if cj.config.payout.on_decline == "fallback_winner" and win.candidates:
        taken = {x.player_id for x in win.mains() if x.status not in (DECLINED, RETURNED, VOIDED)} | set(win.declined)
        pool_ = [x for x in win.candidates if x[0] not in taken]
        if pool_:
            pool = state.pool(win.level_id, win.currency)
            ctx = cycle_context(cj, pool)
            label = ctx.label(f"winner/{win.seq}/{win.draws}")
            i, r, total = draw_weighted(bytes.fromhex(pool.rng_seed), label, [int(x[4]) for x in pool_])
            win.draws += 1
            pick = pool_[i]
            c.status = DECLINED
            out.events.append(_updated(cj, win, c, now))
            nc = _new_credit(cj, win, MAIN, c.rank, [str(x) for x in pick[:4]], c.amount)
            win.credits.append(nc)
            out.events.append(
                _ev(cj, win, WINNER_SELECTED, f"{nc.key}|fallback", now, {
                    "drop_number": win.seq, "drop_kind": "fallback", "selection_method": win.method,
                    "distribution_mode": cj.mode, "commitment": pool.commitment, "replaces": c.player_id,
                    "candidates": [[x[0], int(x[4])] for x in pool_],
                    "draws": [Draw(label, r, total, pick[0]).to_list()],
                    "winners": [[nc.rank, nc.player_id, nc.amount, nc.brand_id, nc.game_id]],
                })
            )
            threshold = cj.level(win.level_id).limits[win.currency].large_win
            if threshold >= 0 and nc.amount > threshold:
                _request_approval(cj, win, nc, now, out)
            else:
                _send(cj, win, nc, now, out)
            return
    c.status = RETURNED
    out.events.append(_updated(cj, win, c, now))


# --------------------------------------------------------------------------- operator resolution


def void_win(
    cj: CompiledJackpot, state: JackpotState, win_id: str, *, actor: str, reason: str, now: int,
    seed_source: SeedSource | None,
) -> Output:
    """Void the unpaid prizes of a win. Before the main prize is paid the amount stays in the pool
    and the pool does not reseed; refused while a credit is in flight (the wallet might still pay
    it) and for wins the wallet already confirmed (reverse those in the wallet, then return the
    amount with a VOID_WIN adjustment)."""
    win = state.wins.get(win_id)
    if win is None:
        raise DropRejected(f"no win in progress with id {win_id}; a completed win is reversed in the wallet")
    if not reason:
        raise DropRejected("voiding a win needs a reason")
    group = win.mains() if win.status == PAYING else win.chains()
    in_flight = [c for c in group if c.status == SENT]
    if in_flight:
        raise DropRejected(f"a credit of win {win_id} is in flight (attempt {in_flight[0].attempt}); wait for the wallet")
    targets = [c for c in group if c.status not in FINAL]
    if not targets:
        raise DropRejected(f"win {win_id} has nothing unpaid to void")
    out = Output()
    for c in targets:
        was = c.status
        c.status = VOIDED
        c.note = reason
        out.events.append(_updated(cj, win, c, now))
        _leave_manual(cj, win, c, was, now, out)
    out.events.append(
        _ev(cj, win, WIN_VOIDED, f"{win.win_id}|void|{len(targets)}|{targets[0].key}", now,
            {"actor": actor, "reason": reason, "voided": [[c.kind, c.rank, c.player_id, c.amount] for c in targets],
             "returned_to_pool": sum(c.amount for c in targets if c.kind == MAIN)})
    )
    out.extend(_progress(cj, state, win, now, seed_source))
    return out


def retry_credit(cj: CompiledJackpot, state: JackpotState, ref: str, *, now: int) -> Output:
    """Operator retry of prizes in PENDING_MANUAL_RESOLUTION (same idempotency key, next attempt)."""
    found = [(w, c) for w, c in find_credits(state, ref) if c.status == MANUAL]
    if not found:
        raise DropRejected(f"no prize pending manual resolution matches {ref}")
    out = Output()
    for win, c in found:
        _leave_manual(cj, win, c, MANUAL, now, out)
        _send(cj, win, c, now, out)
    return out


def resolve_credit(
    cj: CompiledJackpot, state: JackpotState, ref: str, *, reference: str, now: int, seed_source: SeedSource | None,
) -> Output:
    """Alternative payout: the operator paid a prize outside the wallet (``reference`` says how)."""
    if not reference:
        raise DropRejected("resolving a payout needs a reason or reference")
    found = [(w, c) for w, c in find_credits(state, ref) if c.status in (MANUAL, RETRY_WAIT)]
    if not found:
        raise DropRejected(f"no prize pending manual resolution or retry matches {ref}")
    out = Output()
    wins = {}
    for win, c in found:
        was = c.status
        c.status = RESOLVED
        c.tx = reference
        out.events.append(_updated(cj, win, c, now))
        _leave_manual(cj, win, c, was, now, out)
        wins[win.win_id] = win
    for win in wins.values():
        out.extend(_progress(cj, state, win, now, seed_source))
    return out


def payout_tick(cj: CompiledJackpot, state: JackpotState, now: int, seed_source: SeedSource | None) -> Output:
    """Clock: due wallet retries, approval escalations (24/48/72 h) and expiries (= decline)."""
    out = Output()
    pc = cj.config.payout
    hours = pc.approval_alert_hours
    for win in list(state.wins.values()):
        touched = False
        for c in list(win.credits):
            if c.status == RETRY_WAIT and now >= c.next_at:
                _send(cj, win, c, now, out)
            elif c.status == AWAITING_APPROVAL:
                elapsed = now - c.since
                while c.alerts < len(hours) and elapsed >= hours[c.alerts] * 3_600_000:
                    c.alerts += 1
                    out.events.append(
                        _ev(cj, win, WIN_APPROVAL_ESCALATED, f"{c.key}|alert{c.alerts}", now,
                            {"approval_id": c.key, "player_id": c.player_id, "amount": c.amount,
                             "escalation": c.alerts, "hours": hours[c.alerts - 1], "expires_at": c.next_at})
                    )
                if now >= c.next_at:
                    why = f"approval expired after {pc.approval_expiry_hours}h"
                    out.events.append(_decide_out(cj, win, c, "expired", "system", why, now))
                    _decline(cj, state, win, c, why, now, out)
                    touched = True
        if touched:
            out.extend(_progress(cj, state, win, now, seed_source))
    return out
