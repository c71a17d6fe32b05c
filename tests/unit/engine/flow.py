"""A small driver for trigger / payout tests: bets with player context, ticks, wallet answers,
operator commands, and the outputs they produced (in order)."""

from __future__ import annotations

from typing import Any

from jackpot.engine import (
    BetContext,
    OperatorCommand,
    WalletResult,
    handle_command,
    handle_wallet_result,
    process_bet,
    reconcile,
    tick,
)
from jackpot.engine.events import WALLET_CREDIT_COMMAND
from jackpot.engine.rng import master_seed_source

from .helpers import MASTER, bet, level, lid, setup

UNIT = 1_000_000
SOLO = lid("Solo")


def solo_level(**kw: Any) -> dict[str, Any]:
    """One level where 1 unit bet = 1 unit of growth (rate 1, no house cut): seed 1, target 10-12, max 20."""
    d = dict(seed_from="1", seed_to="1", win_from="10", win_to="12", win_max="20", max_contribution="1000",
             evaluation_delay_from=1, evaluation_delay_to=1, warn_from="0.5", warn_to="0.6")
    d.update(kw)
    return level("Solo", 1, "1", **d)


def solo(level_kw: dict[str, Any] | None = None, **jackpot_kw: Any) -> "Driver":
    kw = dict(levels=[solo_level(**(level_kw or {}))], contribution_rate="1", house_cut="0")
    kw.update(jackpot_kw)
    cj, st = setup(**kw)
    return Driver(cj, st)


class Driver:
    def __init__(self, cj, st, now: int = 100_000):
        self.cj = cj
        self.st = st
        self.now = now
        self.seeds = master_seed_source(MASTER)
        self.events: list = []
        self.commands: list = []
        self.n = 0

    # inputs ---------------------------------------------------------------------------------
    def bet(self, amount: float | int = 1, player: str = "p1", *, dt: int = 1_000, currency: str = "EUR",
            game: str = "g1", spins: int = 100, **ctx: Any):
        """A bet of ``amount`` units (int micros when amount > 10_000)."""
        self.now += dt
        self.n += 1
        micros = amount if isinstance(amount, int) and amount > 10_000 else int(amount * UNIT)
        b = bet(micros, player=player, bet_id=f"bet-{self.n}", ts=self.now, currency=currency, game=game)
        r, out = process_bet(self.cj, self.st, BetContext(b, session_spins=spins, **ctx))
        self._take(out)
        return r, out

    def tick(self, dt: int = 1_000):
        self.now += dt
        out = tick(self.cj, self.st, self.now, self.seeds)
        self._take(out)
        return out

    def wallet(self, cmd, status: str = "confirmed", *, retryable: bool = False, error: str = "", attempt=None, dt=100):
        self.now += dt
        p = cmd.payload
        res = WalletResult(p["idempotency_key"], status, p["attempt"] if attempt is None else attempt,
                           f"tx-{p['idempotency_key'][:8]}" if status in ("confirmed", "escrow") else "", error, retryable)
        out = handle_wallet_result(self.cj, self.st, res, self.now, self.seeds)
        self._take(out)
        return out

    def command(self, action: str, *, actor: str = "op-1", dt: int = 100, **kw: Any):
        self.now += dt
        self.n += 1
        kw.setdefault("reason", "test")
        cmd = OperatorCommand(command_id=f"cmd-{self.n}", action=action, actor=actor, **kw)
        out = handle_command(self.cj, self.st, cmd, self.now, self.seeds)
        self._take(out)
        return out

    # helpers -----------------------------------------------------------------------------------
    def _take(self, out) -> None:
        self.events += out.events
        self.commands += out.commands
        reconcile(self.st)

    def pool(self, level_id: str = SOLO, currency: str = "EUR"):
        return self.st.pools[currency][level_id]

    def credits(self, out=None) -> list:
        src = self.commands if out is None else out.commands
        return [c for c in src if c.event_type == WALLET_CREDIT_COMMAND]

    def types(self, out=None) -> list[str]:
        return [e.event_type for e in (self.events if out is None else out.events)]

    def of(self, etype: str, out=None) -> list:
        return [e for e in (self.events if out is None else out.events) if e.event_type == etype]

    def fill_to_target(self, player: str = "p1", **kw: Any):
        """Bet 1 unit at a time until the pool is armed (at or above its target)."""
        outs = []
        while not self.pool().armed_at:
            outs.append(self.bet(1, player, **kw))
            assert len(outs) < 100
        return outs

    def run_to_drop(self, players=("p1",), **kw: Any):
        """Bet round-robin until a drop starts; returns the output of the triggering bet."""
        for i in range(200):
            _, out = self.bet(1, players[i % len(players)], **kw)
            if any(e.outcome == "drop" for e in out.evaluations):
                return out
        raise AssertionError("no drop")
