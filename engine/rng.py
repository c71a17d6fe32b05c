"""Provably fair randomness: one secret seed per pool cycle, everything else derived from it.

At cycle start the caller supplies a fresh 32-byte seed (``new_cycle_seed()`` draws it from the
OS CSPRNG). The engine publishes ``commitment(seed)`` = SHA-256 hex of the seed in the
``CycleStarted`` event and keeps the seed secret until the drop; then ``CycleRevealed`` logs the
seed, so an auditor can check the commitment and recompute every value of the cycle with
``rederive_cycle``.

Derivation: block(label, counter) = HMAC-SHA256(key=seed, msg=f"{label}#{counter}"), read as a
256-bit big-endian integer. A value in [lo, hi] is drawn by rejection sampling: a block is
accepted when it is below the largest multiple of the span that fits in 2^256, then reduced
modulo the span, so there is no modulo bias; on rejection the counter advances. Labels are
``{jackpot_id}/{level_id}/{currency}/{cycle}/{purpose}``, which separates pools and cycles even
if a seed were ever reused. ``random.random`` is never used.

Draws made during the cycle (all from the same secret seed, so the reveal lets an auditor redo
them): ``winner/{drop}/{k}`` the k-th winner draw of the cycle's drop number ``drop`` (multi-winner
splits and fallback winners continue k), ``chain/{drop}/{k}`` chain-reaction draws,
``retarget/{k}`` the k-th cancel-drop redraw of the target (and ``retarget-delay/{k}`` its new
evaluation delay), ``off_peak/{bet_id}`` the time-of-day targeting chance of one trigger, and
``rank/{drop}/{player}`` tie-breaks of proximity chain prizes. A weighted draw picks index i with
probability weight_i / total: ``r = derive_int(seed, label, 0, total - 1)`` and i is the first
index whose cumulative weight exceeds r (weights in snapshot order).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Callable

from .errors import CommitmentMismatch
from .money import MICROS_PER_UNIT

__all__ = [
    "SEED_BYTES",
    "new_cycle_seed",
    "commitment",
    "derive_block",
    "derive_int",
    "CycleContext",
    "DrawRanges",
    "CycleDraws",
    "draw_cycle",
    "rederive_cycle",
    "SeedSource",
    "os_seed_source",
    "master_seed_source",
    "PURPOSE_SEED",
    "PURPOSE_TARGET",
    "PURPOSE_WARN",
    "PURPOSE_DELAY",
    "PURPOSE_FIRE",
    "draw_weighted",
    "derive_chance",
    "fire_threshold",
]

SEED_BYTES = 32
_TWO_256 = 1 << 256

PURPOSE_SEED = "seed_amount"
PURPOSE_TARGET = "win_target"
PURPOSE_WARN = "warn_threshold"
PURPOSE_DELAY = "evaluation_delay"
PURPOSE_FIRE = "fire_threshold"


def new_cycle_seed() -> bytes:
    """A fresh secret cycle seed from the OS CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def _check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != SEED_BYTES:
        raise ValueError(f"a cycle seed is exactly {SEED_BYTES} bytes")
    return bytes(seed)


def commitment(seed: bytes) -> str:
    """SHA-256 hex of the seed: published at cycle start, checked against the revealed seed."""
    return hashlib.sha256(_check_seed(seed)).hexdigest()


def derive_block(seed: bytes, label: str, counter: int) -> int:
    """HMAC-SHA256(seed, label#counter) as a 256-bit integer."""
    mac = hmac.new(_check_seed(seed), f"{label}#{counter}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac, "big")


def derive_int(seed: bytes, label: str, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] from the seed and label, without modulo bias."""
    if hi < lo:
        raise ValueError(f"empty range [{lo}, {hi}]")
    span = hi - lo + 1
    if span == 1:
        return lo
    if span > _TWO_256:
        raise ValueError("range wider than 2^256")
    limit = _TWO_256 - _TWO_256 % span
    counter = 0
    while True:
        x = derive_block(seed, label, counter)
        if x < limit:
            return lo + x % span
        counter += 1


@dataclass(slots=True, frozen=True)
class CycleContext:
    jackpot_id: str
    level_id: str
    currency: str
    cycle: int

    def label(self, purpose: str) -> str:
        return f"{self.jackpot_id}/{self.level_id}/{self.currency}/{self.cycle}/{purpose}"


@dataclass(slots=True, frozen=True)
class DrawRanges:
    """The configured ranges a cycle's draws came from (logged with the reveal)."""

    seed_from: int
    seed_to: int
    win_from: int
    win_to: int
    warn_from_num: int
    warn_from_den: int
    warn_to_num: int
    warn_to_den: int
    delay_from: int
    delay_to: int
    whole_units: bool  # integer_wins_only: seeds are whole currency units

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DrawRanges":
        return cls(**d)


@dataclass(slots=True, frozen=True)
class CycleDraws:
    commitment: str
    seed_draw: int  # the random part of the seed amount, micros
    win_target: int
    warn_threshold: int
    evaluation_delay: int
    fire_threshold: int = 0  # warn state On Fire: uniform between the warn threshold and the target

    def to_dict(self) -> dict:
        return asdict(self)


def _seed_draw(seed: bytes, ctx: CycleContext, r: DrawRanges) -> int:
    label = ctx.label(PURPOSE_SEED)
    if r.whole_units:
        lo = -((-r.seed_from) // MICROS_PER_UNIT)
        hi = r.seed_to // MICROS_PER_UNIT
        if lo > hi:
            raise ValueError("integer_wins_only seed range contains no whole unit")
        return derive_int(seed, label, lo, hi) * MICROS_PER_UNIT
    return derive_int(seed, label, r.seed_from, r.seed_to)


def draw_cycle(seed: bytes, ctx: CycleContext, r: DrawRanges) -> CycleDraws:
    """All random values of one pool cycle; same seed, context and ranges -> same values."""
    target = derive_int(seed, ctx.label(PURPOSE_TARGET), r.win_from, r.win_to)
    # warn threshold: uniform amount between warn_from and warn_to percent of the target
    lo_n = target * r.warn_from_num
    lo = -((-lo_n) // r.warn_from_den)
    hi = target * r.warn_to_num // r.warn_to_den
    if lo > hi:
        hi = lo
    warn = derive_int(seed, ctx.label(PURPOSE_WARN), lo, hi)
    delay = derive_int(seed, ctx.label(PURPOSE_DELAY), r.delay_from, r.delay_to)
    return CycleDraws(
        commitment=commitment(seed),
        seed_draw=_seed_draw(seed, ctx, r),
        win_target=target,
        warn_threshold=warn,
        evaluation_delay=delay,
        fire_threshold=fire_threshold(seed, ctx, warn, target),
    )


def fire_threshold(seed: bytes, ctx: CycleContext, warn: int, target: int) -> int:
    """The cycle's secret On Fire threshold: uniform in [warn threshold, target]."""
    return derive_int(seed, ctx.label(PURPOSE_FIRE), warn, max(warn, target))


def draw_weighted(seed: bytes, label: str, weights: list[int]) -> tuple[int, int, int]:
    """Pick an index with probability weight / total. Returns (index, r, total) for the audit log."""
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive total")
    r = derive_int(seed, label, 0, total - 1)
    acc = 0
    for i, w in enumerate(weights):
        acc += w
        if r < acc:
            return i, r, total
    raise AssertionError("unreachable: r < total")


def derive_chance(seed: bytes, label: str, num: int, den: int) -> bool:
    """True with probability num/den (exact): r uniform in [0, den) and r < num."""
    if num >= den:
        return True
    if num <= 0:
        return False
    return derive_int(seed, label, 0, den - 1) < num


def rederive_cycle(revealed_seed: bytes | str, published_commitment: str, ctx: CycleContext, r: DrawRanges) -> CycleDraws:
    """Audit: check a revealed seed against its commitment and recompute the cycle's values."""
    seed = bytes.fromhex(revealed_seed) if isinstance(revealed_seed, str) else revealed_seed
    if not hmac.compare_digest(commitment(seed), published_commitment):
        raise CommitmentMismatch(
            f"revealed seed does not match commitment {published_commitment} "
            f"(cycle {ctx.cycle} of {ctx.level_id}/{ctx.currency})"
        )
    return draw_cycle(seed, ctx, r)


SeedSource = Callable[[str, str, int], bytes]
"""(level_id, currency, cycle) -> a 32-byte cycle seed."""


def os_seed_source(level_id: str, currency: str, cycle: int) -> bytes:
    """Production seed source: a fresh CSPRNG seed for every cycle."""
    return new_cycle_seed()


def master_seed_source(master: bytes) -> SeedSource:
    """Deterministic seeds from a master key (simulation and tests; never for live money)."""

    def source(level_id: str, currency: str, cycle: int) -> bytes:
        return hmac.new(master, f"cycle-seed/{level_id}/{currency}/{cycle}".encode(), hashlib.sha256).digest()

    return source
