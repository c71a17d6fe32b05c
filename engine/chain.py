"""Chain Reaction: bonus prizes for other players in the room when a level drops.

Recipients are chosen at the moment of the drop from the active players of the pool's currency
who are personally eligible (not excluded, segment, jurisdiction, KYC, caps) but did not win the
main prize; the level's bet-size conditions do not apply ("luck touches the room"). Prizes are
the configured amounts in slot order (fixed or graduated); with fewer recipients than prizes the
first slots are awarded and the rest are not. They are credited after the main prize is confirmed
(payout step 7) and are operator-funded (not taken from the pool).

Distribution modes:
- random     uniform draws ``chain/{drop}/{k}`` without replacement;
- weighted   draws weighted ``1 + contributed / average`` (this level, this cycle);
- proximity  the top contributors of the cycle by rank ("almost won"); ties broken by the
             derived value of ``rank/{drop}/{player}``, so the order is reproducible too;
- targeted   uniform draws among the configured target segments.
"""

from __future__ import annotations

from fractions import Fraction

from .activity import FLAGS, JURISDICTION, SEGMENTS, active
from .compiled import CompiledJackpot, CompiledLevel
from .config import ChainMode
from .eligibility import personal_failures
from .pool import JackpotState, PoolState
from .rng import CycleContext, derive_block, draw_weighted
from .selection import WEIGHT_SCALE, Candidate, Draw, candidate

__all__ = ["chain_candidates", "select_chain"]


def chain_candidates(
    cj: CompiledJackpot, state: JackpotState, cl: CompiledLevel, pool: PoolState, exclude: set[str], now: int
) -> list[Candidate]:
    out = []
    for pid, rec in active(cj, state, pool.currency, now):
        if pid in exclude:
            continue
        if personal_failures(cj, state, pid, rec[FLAGS], rec[SEGMENTS], rec[JURISDICTION], cl.index, now):
            continue
        out.append(candidate(cj, cl, pool, pid, rec, now))
    out.sort(key=lambda c: c.player_id)
    return out


def select_chain(
    cj: CompiledJackpot,
    cl: CompiledLevel,
    pool: PoolState,
    seed: bytes,
    ctx: CycleContext,
    seq: int,
    cands: list[Candidate],
) -> tuple[list[tuple[Candidate, int]], list[Draw], list[list]]:
    """(recipient, prize) in slot order, the draws, and the logged candidate weights."""
    prizes = cl.limits[pool.currency].chain_prizes
    mode = cl.chain_mode
    if not prizes or not mode:
        return [], [], []
    if mode == ChainMode.TARGETED.value:
        cands = [c for c in cands if cl.chain_segments.intersection(c.segments)]
    if not cands:
        return [], [], []
    n = min(len(prizes), len(cands))
    if mode == ChainMode.PROXIMITY.value:
        def key(c: Candidate):
            return (-c.contributed, derive_block(seed, ctx.label(f"rank/{seq}/{c.player_id}"), 0))

        ranked = sorted(cands, key=key)[:n]
        logged = [[c.player_id, c.contributed] for c in cands]
        return [(c, prizes[i]) for i, c in enumerate(ranked)], [], logged
    if mode == ChainMode.WEIGHTED.value:
        total = sum(c.contributed for c in cands)
        if total:
            k = Fraction(len(cands), total)
            ws = [1 + k * c.contributed for c in cands]
            weights = [w.numerator * WEIGHT_SCALE // w.denominator for w in ws]
        else:
            weights = [1] * len(cands)
    else:
        weights = [1] * len(cands)
    remaining = list(range(len(cands)))
    picked: list[tuple[Candidate, int]] = []
    draws: list[Draw] = []
    for k in range(n):
        label = ctx.label(f"chain/{seq}/{k}")
        i, r, total = draw_weighted(seed, label, [weights[j] for j in remaining])
        j = remaining.pop(i)
        picked.append((cands[j], prizes[k]))
        draws.append(Draw(label, r, total, cands[j].player_id))
    logged = [[c.player_id, w] for c, w in zip(cands, weights)]
    return picked, draws, logged
