"""The seam between wire records (Avro dicts) and the pure engine.

Agents decode Avro, call these functions, and encode what comes back; the engine
never sees Avro, Kafka or time, and this module never does arithmetic on money
beyond converting Avro decimals to integer micros and back at the edge.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from jackpot.engine.compiled import CompiledJackpot, compile_jackpot
from jackpot.engine.config import Jackpot
from jackpot.engine.activity import BetContext, active
from jackpot.engine.contribution import Bet, ContributionResult, apply_contribution, pool_updated_event
from jackpot.engine.handlers import (
    EngineOutput,
    evaluate_after_contribution,
    handle_command,
    handle_wallet_result,
    tick,
)
from jackpot.engine.overrides import OperatorCommand
from jackpot.engine.payout import WalletResult
from jackpot.engine.events import event_id
from jackpot.engine.leaderboard import top_contributors
from jackpot.engine.lifecycle import activate, new_jackpot_state
from jackpot.engine.money import from_micros, to_micros
from jackpot.engine.network import accepts_currency, to_pool_currency
from jackpot.engine.pool import JackpotState
from jackpot.engine.fault import fault_once, self_check
from jackpot.engine.reconfigure import CONFIG_ACTOR, adopt_config, missing_pools

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MATCH_CACHE_SIZE = 50_000  # (brand, currency, game) combinations remembered at once
SYSTEM = "system"


class RejectedBet(ValueError):
    """A bet that decodes but is not a valid bet (negative amount, unknown currency...)."""


@dataclass(slots=True)
class Outcome:
    """What one contribution request did, in wire terms."""

    result: ContributionResult
    ledger: dict | None  # ContributionApplied record, when anything was booked
    touched: tuple[tuple[str, str], ...]  # (level_id, currency) pools that changed
    timestamp: int  # epoch ms at which the bet was received: the time of everything it caused
    bet: Bet | None = None


@dataclass(slots=True)
class InputOutcome:
    """What a command, wallet result or clock tick did."""

    events: list
    commands: list
    now: int
    note: str | None = None  # why a command was refused or a wallet result ignored


def _micros_if_money(key: str, value: Any) -> Any:
    """Avro decimals (money) -> integer micros for the engine's command records."""
    return to_micros(value) if isinstance(value, Decimal) else value


def ms(ts: dt.datetime) -> int:
    return int(ts.timestamp() * 1000)


def from_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)


class Pipeline:
    """Helpers between wire records and the engine; one instance per worker.  Its only state is
    the match cache (see :meth:`match`)."""

    def __init__(self) -> None:
        self._matches: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self._matches_for = -1  # the config view version the cache was built under

    # ------------------------------------------------------------- configs
    @staticmethod
    def compile(doc: dict) -> CompiledJackpot:
        return compile_jackpot(Jackpot.model_validate(doc))

    # -------------------------------------------------------------- router
    @staticmethod
    def validate_bet(bet: dict) -> None:
        """Reject bets that decode but cannot be real or stored (the router dead-letters them):
        amount, currency, and ids' length and control characters (streams/limits.py)."""
        from jackpot.streams.limits import check_bet  # limits imports RejectedBet from here

        check_bet(bet)

    def match(self, configs, bet: dict) -> tuple[str, ...]:
        """Jackpots this bet may feed: live, and the bet's brand, currency and game take part.

        The jackpot agent re-checks contribution eligibility authoritatively (pipeline
        steps 1-2); this filter only keeps irrelevant bets off the jackpot partitions.  The answer
        depends on the bet's brand, currency and game alone, so it is cached per combination
        until the configs change (every jackpot was tested for every bet).
        """
        if self._matches_for != configs.version:
            self._matches, self._matches_for = {}, configs.version
        key = (bet["brand_id"], bet["currency"], bet["game_id"])
        found = self._matches.get(key)
        if found is None:
            if len(self._matches) >= MATCH_CACHE_SIZE:  # ids are the providers': bound what they can fill
                self._matches.clear()
            found = self._matches[key] = tuple(self._match(configs, *key))
        return found

    @staticmethod
    def _match(configs, brand: str, currency: str, game: str) -> Iterable[str]:
        for jackpot_id, cj in configs.compiled.items():
            if (
                cj.config.status in ("ACTIVE", "PAUSED")
                and brand in cj.brands
                and accepts_currency(cj, currency)
                and game in cj.games
            ):
                yield jackpot_id

    @staticmethod
    def contribution_request(jackpot_id: str, bet: dict, partition: int, offset: int, received: int) -> dict:
        """The request for one jackpot; its ``timestamp`` is the engine's time for the bet (when the
        system received it, streams/received.py), ``bet_timestamp`` the provider's, for reporting."""
        return {
            "event_id": event_id("ContributionRequest", jackpot_id, None, None, str(bet["event_id"])),
            "timestamp": from_ms(received),
            "jackpot_id": jackpot_id,
            "bet_id": str(bet["event_id"]),
            "player_id": bet["player_id"],
            "game_id": bet["game_id"],
            "brand_id": bet["brand_id"],
            "currency": bet["currency"],
            "bet_amount": bet["bet_amount"],
            "bet_type": bet["bet_type"],
            "session_id": bet["session_id"],
            "bet_timestamp": bet["timestamp"],
            "source_partition": partition,
            "source_offset": offset,
        }

    # ------------------------------------------------------------- jackpot
    @staticmethod
    def draft_state(cj: CompiledJackpot) -> JackpotState:
        """A jackpot seen for the first time: its pools, not yet started."""
        return new_jackpot_state(cj)

    @staticmethod
    def activate_if_active(cj: CompiledJackpot, state: JackpotState, seed_source, now: int) -> list:
        """Start every pool's first cycle when the config says ACTIVE; the events it caused."""
        if cj.config.status != "ACTIVE":
            return []
        return activate(cj, state, seed_source, actor=SYSTEM, reason="configured active",
                        cause_id=f"activate:{cj.fingerprint}", now=now)

    @staticmethod
    def new_pools(cj: CompiledJackpot, state: JackpotState) -> list[tuple[str, str]]:
        """Pools a newer config version adds (their seeds must be durable before adoption)."""
        return missing_pools(cj, state)

    @staticmethod
    def adopt_config(cj: CompiledJackpot, state: JackpotState, seed_source, now: int) -> list:
        """The state under a config version it has not seen: new pools start, a limit below a
        pool's amount faults the jackpot (engine/reconfigure.py); the events it caused."""
        return adopt_config(cj, state, seed_source, cause_id=f"config:{cj.fingerprint}", now=now)

    @staticmethod
    def fault_lost_config(cj: CompiledJackpot, state: JackpotState, now: int) -> list:
        """The fault state for a jackpot whose configuration was withdrawn (regulatory item 11):
        contributions are held, no drop starts, the operator is alerted; nothing for a jackpot that
        is faulted or finished already."""
        return fault_once(cj, state, actor=CONFIG_ACTOR, reason="configuration withdrawn from the configs topic",
                          cause_id=f"config-lost:{cj.fingerprint}", now=now)

    @staticmethod
    def fault_rejected_config(cj: CompiledJackpot, state: JackpotState, error: str, now: int, sequence: int) -> list:
        """The fault state for a jackpot whose newest config version cannot be compiled (item 11:
        loss of configuration): it runs on under the version it last ran, faulted, so what the
        operator published is never silently not in force."""
        return fault_once(cj, state, actor=CONFIG_ACTOR,
                          reason=f"configuration version rejected ({error[:300]}); running on the last valid one",
                          cause_id=f"config-rejected:{cj.fingerprint}:{sequence}", now=now)

    @staticmethod
    def self_check(cj: CompiledJackpot, state: JackpotState, now: int, sequence: int) -> list:
        """Ids from the jackpot's input sequence: a replay of the same inputs raises the same fault."""
        return self_check(cj, state, now=now, cause_id=f"self-check:{sequence}")

    @staticmethod
    def load_state(doc: dict[str, Any]) -> JackpotState:
        return JackpotState.from_dict(doc)

    @staticmethod
    def dump_state(state: JackpotState, *, share: bool = False, activity: bool = True) -> dict[str, Any]:
        return state.to_dict(share=share, activity=activity)

    @staticmethod
    def contribute(cj: CompiledJackpot, state: JackpotState, req: dict) -> Outcome:
        original = to_micros(req["bet_amount"])
        # a network jackpot pools other currencies at its configured rates (engine/network.py)
        currency, amount, fx_rate = to_pool_currency(cj, req["currency"], original)
        bet = Bet(
            bet_id=str(req["bet_id"]),
            player_id=req["player_id"],
            game_id=req["game_id"],
            brand_id=req["brand_id"],
            currency=currency,
            bet_amount=amount,
            bet_type=req["bet_type"],
            session_id=req["session_id"],
            timestamp=ms(req["timestamp"]),  # received time: a provider's clock steers nothing
            # contribution eligibility: an excluded or self-excluded player feeds no pool (nor wins)
            player_excluded=bool(req.get("excluded") or req.get("self_excluded")) or req["player_id"] in cj.excluded,
        )
        pools: dict = {}  # the worker publishes one PoolUpdated per touched pool per batch
        result = apply_contribution(cj, state, bet, touched=pools)
        if not result.applied:
            return Outcome(result, None, (), bet.timestamp, bet)
        touched = tuple((level_id, currency) for currency, level_id in pools)
        # money in integer micros: the compact ledger batch carries them as they are
        ledger = {
            "event_id": event_id("ContributionApplied", cj.jackpot_id, None, bet.currency, bet.bet_id),
            "timestamp": req["timestamp"],
            "jackpot_id": cj.jackpot_id,
            "bet_id": bet.bet_id,
            "player_id": bet.player_id,
            "game_id": bet.game_id,
            "brand_id": bet.brand_id,
            "currency": bet.currency,
            "bet_amount": bet.bet_amount,
            "gross_amount": result.gross,
            "house_cut_amount": result.house_cut,
            "bet_timestamp": req["bet_timestamp"],
            # where the bet is on the bets topic: the jackpot value's marks say whether it includes it
            "source_partition": req["source_partition"],
            "source_offset": req["source_offset"],
            "bet_currency": req["currency"] if fx_rate else None,
            "original_bet_amount": original if fx_rate else None,
            "fx_rate": fx_rate,
            "levels": [
                {
                    "level_id": lc.level_id,
                    "net_amount": lc.net,
                    "visible_amount": lc.visible,
                    "hidden_amount": lc.hidden,
                    "overflow_amount": lc.overflow,
                    "pending_amount": lc.pending,
                    "transfer_in_amount": lc.transfer_in,
                    "overflow_reserve_amount": lc.overflow_reserve,
                    "overflow_revenue_amount": lc.overflow_revenue,
                }
                for lc in result.levels
            ],
        }
        return Outcome(result, ledger, touched, bet.timestamp, bet)

    @staticmethod
    def evaluate(cj: CompiledJackpot, state: JackpotState, req: dict, outcome: Outcome, seed_source) -> EngineOutput:
        """Pipeline step 8 for one contribution: triggers, and the drop they may start.

        The returned events start with the contribution's own (as ``handlers.process_bet``
        does): the thresholds the bet crossed (WarnThresholdReached, PoolApproachingMax,
        PoolAtMax, warn state changes), a rejected contribution's alert, and its PoolUpdated
        (which the worker coalesces per batch); then the trigger stage's."""
        ctx = BetContext(
            bet=outcome.bet,
            segments=tuple(req.get("segments") or ()),
            loyalty_tier=int(req.get("loyalty_tier") or 0),
            kyc_verified=bool(req.get("kyc_verified", False)),
            jurisdiction=str(req.get("jurisdiction") or ""),
            excluded=bool(req.get("excluded", False)),
            self_excluded=bool(req.get("self_excluded", False)),
            session_spins=int(req.get("session_spins") or 0),
            session_started_at=int(req.get("session_started_at") or 0),  # epoch ms (ContributionRequest v2)
            star=bool(req.get("star", False)),  # Mode 3 (ContributionRequest v3)
            attributes={str(k): int(v) for k, v in (req.get("attributes") or {}).items()},
        )
        out = evaluate_after_contribution(cj, state, ctx, outcome.result, outcome.timestamp)
        out.events[:0] = outcome.result.events
        return out

    @staticmethod
    def active_players(cj: CompiledJackpot, state: JackpotState, now: int) -> dict:
        """ActivePlayers fields: the players chasing the jackpot at ``now``, per currency and in all,
        and the top contributors of the cycle (the leaderboard)."""
        by_currency, everyone = {}, set()
        for currency in state.activity:
            ids = [pid for pid, _ in active(cj, state, currency, now)]
            by_currency[currency] = len(ids)
            everyone.update(ids)
        return {"event_id": event_id("ActivePlayers", cj.jackpot_id, None, None, str(now)),
                "timestamp": from_ms(now), "jackpot_id": cj.jackpot_id, "total": len(everyone),
                "by_currency": by_currency,
                "leaders": {cur: [{"player_id": c.player_id, "bets": c.bets, "contributed": from_micros(c.contributed)}
                                  for c in board] for cur, board in top_contributors(cj, state, now).items()}}

    @staticmethod
    def apply_input(cj: CompiledJackpot, state: JackpotState, name: str, rec: dict, seed_source) -> InputOutcome:
        """Route an operator command, wallet result or clock tick to its engine entry point."""
        now = ms(rec["timestamp"])
        note = None
        if name == "OperatorCommand":
            cmd = OperatorCommand.from_dict({k: _micros_if_money(k, v) for k, v in rec.items()})
            out = handle_command(cj, state, cmd, now, seed_source)
            note = out.rejected
        elif name == "WalletCreditResult":
            out = handle_wallet_result(cj, state, WalletResult.from_dict(rec), now, seed_source)
            note = out.ignored
        elif name == "ClockTick":
            out = tick(cj, state, now, seed_source)
        else:
            raise ValueError(f"{name} is not a jackpot input")
        return InputOutcome(out.events, out.commands, now, note)

    @staticmethod
    def pool_updated(cj: CompiledJackpot, state: JackpotState, level_id: str, currency: str,
                     sequence: int, now: int) -> dict:
        """The PoolUpdated record for one pool, identified by the jackpot's input sequence."""
        ev = pool_updated_event(cj, state.pool(level_id, currency), f"seq:{sequence}", now)
        p = ev.payload
        return {
            "event_id": ev.event_id,
            "timestamp": from_ms(ev.timestamp),
            "jackpot_id": cj.jackpot_id,
            "level_id": level_id,
            "currency": currency,
            "current_amount": from_micros(p["current_amount"]),
            "visible_amount": from_micros(p["visible_amount"]),
            "state": p["state"],
            "sequence": sequence,
        }
