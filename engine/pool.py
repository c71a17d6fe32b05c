"""Pool state (one per level per currency), its regulatory meters, and the jackpot state.

Balances of a pool, all int micros:
- ``visible``  the displayed amount; what a win pays (regulatory "displayed" meter).
- ``hidden``   hidden-increment reserve accrued this cycle; part of ``current_amount`` (the
               spec's "full pool including hidden increment", used for triggers) but not shown.
- ``carry``    reserve held for the next cycle: overflow kept at win_max, remainders of
               integer-only wins, reserve the last seed could not absorb.
- ``pending``  contributions held while the jackpot or level is paused or the pool is locked
               for a drop; applied on resume/unlock.

``current_amount = visible + hidden`` never exceeds win_max; ``visible`` never goes below the
cycle's ``seed_amount`` (the reset amount). The regulatory reserve meter is ``hidden + carry``.

The meters reconcile exactly, at every moment, for every pool::

    seeded + pre_seeded + (gross - house) + transfers_in + adj_in
      == visible + hidden + carry + pending + won + overflow_redirected + overflow_revenue + adj_out

Lifetime meters count a contribution when the bet is processed; cycle counters count it when it
reaches the pool.

Secrets: ``win_target``, ``fire_threshold``, ``eval_delay``, ``retargets`` and ``rng_seed`` (the
cycle seed, revealed only after the drop) live in the state, so the table, its changelog topic and its store need audit-level access control. State serialises to plain JSON-compatible dicts (ints stay ints, no floats)
for the changelog-backed table, and ``from_dict(to_dict())`` is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator

from .errors import ReconciliationError
from .wins import WinRecord

__all__ = [
    "FLAG_WARNED",
    "FLAG_APPROACHING",
    "FLAG_AT_MAX",
    "FLAG_ON_FIRE",
    "FLAG_MUST_DROP",
    "ALL_FLAGS",
    "STATE_VERSION",
    "Meters",
    "Hit",
    "PoolState",
    "JackpotState",
    "reconcile",
    "reconciliation_gap",
    "regulatory_meters",
]

STATE_VERSION = 1
FLAG_WARNED = 1
FLAG_APPROACHING = 2
FLAG_AT_MAX = 4
FLAG_ON_FIRE = 8  # warn state On Fire reached this cycle
FLAG_MUST_DROP = 16  # warn state Must Drop reached this cycle
ALL_FLAGS = 31


@dataclass(slots=True)
class Meters:
    """Lifetime meters of one pool. Never reset."""

    wagers: int = 0  # total qualifying wagers in (bet amounts that fed this level)
    bets: int = 0
    gross: int = 0  # this level's part of gross contributions
    house: int = 0  # this level's part of the house cut
    seeded: int = 0  # operator-funded random seed parts
    pre_seeded: int = 0  # operator pre-seed, tracked separately
    carried: int = 0  # reserve moved into seeds (internal move; reported, not reconciled)
    released: int = 0  # reserve moved into a decommissioning drop's prize (internal move; reported)
    received: int = 0  # balances credited from other jackpots (part of adj_in; players' money; reported)
    transfers_in: int = 0  # overflow received from other levels
    adj_in: int = 0
    adj_out: int = 0
    hits: int = 0
    won: int = 0
    overflow: int = 0  # every amount over the limit
    overflow_reserve: int = 0  # ... kept in this level's reserve (carry)
    overflow_redirected: int = 0  # ... moved to other levels
    overflow_revenue: int = 0  # ... booked to operator revenue

    def to_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in _METER_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, int]) -> "Meters":
        return cls(**{f: int(d.get(f, 0)) for f in _METER_FIELDS})


_METER_FIELDS = tuple(f.name for f in fields(Meters))


@dataclass(slots=True, frozen=True)
class Hit:
    """One win on a pool (regulatory item 3: amount, time, winner, game)."""

    amount: int
    timestamp: int
    player_id: str
    game_id: str
    brand_id: str
    bet_id: str
    cycle: int

    def to_list(self) -> list:
        return [self.amount, self.timestamp, self.player_id, self.game_id, self.brand_id, self.bet_id, self.cycle]

    @classmethod
    def from_list(cls, v: list) -> "Hit":
        return cls(int(v[0]), int(v[1]), v[2], v[3], v[4], v[5], int(v[6]))


_POOL_INT_FIELDS = (
    "cycle",
    "visible",
    "hidden",
    "carry",
    "pending",
    "pending_house",
    "seed_amount",
    "seed_draw",
    "carry_in",
    "win_target",
    "warn_threshold",
    "eval_delay",
    "started_at",
    "cycle_gross",
    "cycle_house",
    "cycle_contributions",
    "cycle_pre_seed",
    "cycle_bets",
    "cycle_wagers",
    "flags",
    "lock_amount",
    "fire_threshold",
    "armed_at",
    "armed_bets",
    "snooze_until",
    "last_drop_at",
    "deadline_at",
    "deadline_open",
    "drop_seq",
)


@dataclass(slots=True)
class PoolState:
    level_id: str
    currency: str
    cycle: int = 0  # cycle_number; 0 = never started (jackpot in DRAFT)
    visible: int = 0
    hidden: int = 0
    carry: int = 0
    pending: int = 0  # net contributions held (paused / locked)
    pending_house: int = 0  # their house-cut part, for the cycle counters
    seed_amount: int = 0  # reset amount of this cycle: seed_draw + carry_in + pre-seed
    seed_draw: int = 0
    carry_in: int = 0  # reserve carried into this cycle's seed
    win_target: int = 0  # secret
    warn_threshold: int = 0
    eval_delay: int = 0
    rng_seed: str = ""  # secret cycle seed (hex) until revealed after the drop
    commitment: str = ""
    ranges: dict[str, Any] = field(default_factory=dict)  # DrawRanges of this cycle
    started_at: int = 0
    cycle_gross: int = 0
    cycle_house: int = 0
    cycle_contributions: int = 0  # net reaching the pool this cycle (resets on reseed)
    cycle_pre_seed: int = 0
    cycle_bets: int = 0
    cycle_wagers: int = 0
    flags: int = 0  # FLAG_* events already published this cycle
    locked: bool = False  # a drop is in progress (DROPPING)
    lock_amount: int = 0  # the prize fixed when the drop started
    closed: bool = False  # final drop of an expired jackpot: no further cycles
    meters: Meters = field(default_factory=Meters)
    hits: list[Hit] = field(default_factory=list)
    # triggers and anti-prediction (triggers.py, warn.py, timing.py)
    fire_threshold: int = 0  # secret: warn state On Fire from here (drawn between warn threshold and target)
    armed_at: int = 0  # when the pool was seen at or above its target (0 = not armed)
    armed_bets: int = 0  # qualifying bets since arming; the drop fires when it reaches eval_delay
    snooze_until: int = 0  # operator delay-drop: no drop before this time
    last_drop_at: int = 0  # when the last settled drop happened (deadline windows)
    deadline_at: int = 0  # next must-drop / time-drop deadline being enforced (0 = not computed)
    deadline_open: int = 0  # opening of that deadline's window
    drop_seq: int = 0  # drops started this cycle (labels the winner draws)
    fails: list[int] = field(default_factory=list)  # condition failure analysis: counts per reason, this cycle
    retargets: list[list[int]] = field(default_factory=list)  # cancel-drop redraws: [lo, hi] per redraw

    # The spec's Pool State fields: visible_amount and cycle_number are stored as ``visible`` and
    # ``cycle`` (compact table values); current_amount and total_contributions are derived.
    @property
    def current_amount(self) -> int:
        """Source of truth for triggers: the full pool including the hidden increment."""
        return self.visible + self.hidden

    @property
    def visible_amount(self) -> int:
        return self.visible

    @property
    def cycle_number(self) -> int:
        return self.cycle

    @property
    def reserve(self) -> int:
        return self.hidden + self.carry

    @property
    def total_contributions(self) -> int:
        """Lifetime net contributions to this pool."""
        return self.meters.gross - self.meters.house

    @property
    def balance(self) -> int:
        """Everything the pool holds for players: shown, hidden, carried and held."""
        return self.visible + self.hidden + self.carry + self.pending

    @property
    def started(self) -> bool:
        return self.cycle > 0 and not self.closed

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {f: getattr(self, f) for f in _POOL_INT_FIELDS}
        d["rng_seed"] = self.rng_seed
        d["commitment"] = self.commitment
        d["ranges"] = dict(self.ranges)
        d["locked"] = self.locked
        d["closed"] = self.closed
        d["meters"] = self.meters.to_dict()
        d["hits"] = [h.to_list() for h in self.hits]
        d["fails"] = list(self.fails)
        d["retargets"] = [list(r) for r in self.retargets]
        return d

    @classmethod
    def from_dict(cls, level_id: str, currency: str, d: dict[str, Any]) -> "PoolState":
        p = cls(level_id=level_id, currency=currency)
        for f in _POOL_INT_FIELDS:
            setattr(p, f, int(d.get(f, 0)))
        p.rng_seed = d.get("rng_seed", "")
        p.commitment = d.get("commitment", "")
        p.ranges = {k: v for k, v in d.get("ranges", {}).items()}
        p.locked = bool(d.get("locked", False))
        p.closed = bool(d.get("closed", False))
        p.meters = Meters.from_dict(d.get("meters", {}))
        p.hits = [Hit.from_list(h) for h in d.get("hits", [])]
        p.fails = [int(x) for x in d.get("fails", [])]
        p.retargets = [[int(x) for x in r] for r in d.get("retargets", [])]
        return p


@dataclass(slots=True)
class JackpotState:
    """Everything mutable about one jackpot: one value in the jackpot table.

    ``offsets`` is free for the streams layer to record the source offsets (or event ids)
    already applied, so one changelog record carries both the amounts and the proof of what
    was applied.

    The trigger and payout stages add (all bounded, plain JSON):
    - ``activity``  currency -> player_id -> activity record (``activity.py``): players with a
      qualifying bet within the active window, oldest first, pruned on every call;
    - ``last_seen`` currency -> [player_id, *record] of the last player pruned (force drops with
      nobody active go to the most recently active player);
    - ``wins``      wins in progress (``wins.py``), by win id;
    - ``cascades``  scheduled waterfall drops: [due_at, level_id, currency, origin win id, mode, [players]];
    - ``player_wins`` player_id -> [[time, level index], ...] within the longest win-cap period;
    - ``segment_wins`` "level_id|segment" -> time of the segment's last win (guaranteed winners);
    - ``fault``     while the jackpot is in the fault state: reason, actor, time, and whether the
      fault itself paused it (regulatory item 11);
    - ``closing``   once an operator began decommissioning it: actor, reason, time (item 9).

    ``activity_changes`` is not state but a journal for the storage layer: the (currency,
    player_id) window records changed since it was last emptied, in the order they were last
    touched, so a checkpoint can write only those instead of the whole window.
    """

    jackpot_id: str
    status: str
    level_status: dict[str, str]
    pools: dict[str, dict[str, PoolState]]  # currency -> level_id -> pool
    status_changed_at: int = 0
    offsets: dict[str, int] = field(default_factory=dict)
    activity: dict[str, dict[str, list]] = field(default_factory=dict)
    last_seen: dict[str, list] = field(default_factory=dict)
    wins: dict[str, WinRecord] = field(default_factory=dict)
    cascades: list[list] = field(default_factory=list)
    player_wins: dict[str, list[list[int]]] = field(default_factory=dict)
    segment_wins: dict[str, int] = field(default_factory=dict)
    fault: dict[str, Any] = field(default_factory=dict)  # set while in the fault state (overrides.py)
    closing: dict[str, Any] = field(default_factory=dict)  # set once decommissioning began (decommission.py)
    reversed: list[str] = field(default_factory=list)  # ids of paid wins reversed, the last 1000 (reversal.py)
    # balances sent to other jackpots and not acknowledged yet: transfer id -> [level, currency,
    # micros]; ``sends`` numbers every send, so each has an id of its own (balances.py)
    in_flight: dict[str, list] = field(default_factory=dict)
    sends: int = 0
    # a next_cycle change: its id, the config that follows, the levels it waits for, the cycle each
    # of their pools was in ("level|currency" -> cycle) and whether it was taken (succession.py)
    successor: dict[str, Any] = field(default_factory=dict)
    activity_changes: dict[tuple[str, str], None] = field(default_factory=dict, compare=False, repr=False)

    def pool(self, level_id: str, currency: str) -> PoolState:
        try:
            return self.pools[currency][str(level_id)]
        except KeyError:
            raise KeyError(f"jackpot {self.jackpot_id} has no pool {level_id}/{currency}") from None

    def iter_pools(self) -> Iterator[PoolState]:
        for by_level in self.pools.values():
            yield from by_level.values()

    def locked_pools(self) -> list[PoolState]:
        return [p for p in self.iter_pools() if p.locked]

    def to_dict(self, *, share: bool = False, activity: bool = True) -> dict[str, Any]:
        """A plain-JSON copy of the state. ``share=True`` skips copying the player records (the
        active-player window is most of the state): only for a caller that encodes the result
        before the state changes again, as the jackpot table does on every checkpoint.
        ``activity=False`` leaves the window out, for a caller that stores it per player."""
        rec = _same if share else _copy_record
        return {
            "v": STATE_VERSION,
            "jackpot_id": self.jackpot_id,
            "status": self.status,
            "status_changed_at": self.status_changed_at,
            "levels": dict(self.level_status),
            "pools": {c: {lid: p.to_dict() for lid, p in by.items()} for c, by in self.pools.items()},
            "offsets": dict(self.offsets),
            "activity": ({c: {pid: rec(r) for pid, r in by.items()} for c, by in self.activity.items()}
                         if activity else {}),
            "last_seen": {c: rec(r) for c, r in self.last_seen.items()},
            "wins": {k: w.to_dict() for k, w in self.wins.items()},
            "cascades": [rec(c) for c in self.cascades],
            "player_wins": {k: [list(x) for x in v] for k, v in self.player_wins.items()},
            "segment_wins": dict(self.segment_wins),
            "fault": dict(self.fault),
            "closing": dict(self.closing),
            "reversed": list(self.reversed),
            "in_flight": {k: list(v) for k, v in self.in_flight.items()},
            "sends": self.sends,
            "successor": dict(self.successor),  # its parts are replaced, never changed in place
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "JackpotState":
        v = d.get("v", STATE_VERSION)
        if v != STATE_VERSION:
            raise ValueError(f"unsupported jackpot state version {v}")
        return cls(
            jackpot_id=d["jackpot_id"],
            status=d["status"],
            level_status=dict(d["levels"]),
            pools={
                c: {lid: PoolState.from_dict(lid, c, pd) for lid, pd in by.items()}
                for c, by in d["pools"].items()
            },
            status_changed_at=int(d.get("status_changed_at", 0)),
            offsets={k: int(o) for k, o in d.get("offsets", {}).items()},
            activity={c: {pid: _copy_record(r) for pid, r in by.items()} for c, by in d.get("activity", {}).items()},
            last_seen={c: _copy_record(r) for c, r in d.get("last_seen", {}).items()},
            wins={k: WinRecord.from_dict(w) for k, w in d.get("wins", {}).items()},
            cascades=[_copy_record(c) for c in d.get("cascades", [])],
            player_wins={k: [[int(a) for a in x] for x in v] for k, v in d.get("player_wins", {}).items()},
            segment_wins={k: int(v) for k, v in d.get("segment_wins", {}).items()},
            fault=dict(d.get("fault") or {}),
            closing=dict(d.get("closing") or {}),
            reversed=[str(w) for w in d.get("reversed") or []],
            in_flight={k: list(v) for k, v in (d.get("in_flight") or {}).items()},
            sends=int(d.get("sends", 0)),
            successor=dict(d.get("successor") or {}),
        )


def _same(r: list) -> list:
    return r


def _copy_record(r: list) -> list:
    """A copy of a record list, one level of nested lists/dicts deep (records hold no deeper nesting)."""
    return [list(x) if isinstance(x, list) else dict(x) if isinstance(x, dict) else x for x in r]


def reconciliation_gap(p: PoolState) -> int:
    """Inflows minus (balances + outflows); zero when the meters reconcile."""
    m = p.meters
    inflow = m.seeded + m.pre_seeded + (m.gross - m.house) + m.transfers_in + m.adj_in
    accounted = (
        p.visible + p.hidden + p.carry + p.pending + m.won + m.overflow_redirected + m.overflow_revenue + m.adj_out
    )
    return inflow - accounted


def reconcile(state: JackpotState) -> None:
    """Raise ``ReconciliationError`` naming every pool whose meters do not reconcile exactly."""
    bad = []
    for p in state.iter_pools():
        gap = reconciliation_gap(p)
        m = p.meters
        parts_ok = m.overflow == m.overflow_reserve + m.overflow_redirected + m.overflow_revenue
        if gap or not parts_ok:
            bad.append(f"{p.level_id}/{p.currency}: gap {gap} micros, overflow parts ok={parts_ok}")
    if bad:
        raise ReconciliationError("meters do not reconcile: " + "; ".join(bad))


def regulatory_meters(p: PoolState) -> dict[str, int]:
    """The per-level meters of N.J.A.C. 13:69E-1.39A(b), plus the flows that reconcile them."""
    m = p.meters
    return {
        "wagers_in": m.wagers,
        "displayed": p.visible,
        "hits": m.hits,
        "won": m.won,
        "overflow": m.overflow,
        "reserve": p.hidden + p.carry,
        "pending": p.pending,
        "contributions": m.gross - m.house,
        "seeded": m.seeded,
        "pre_seeded": m.pre_seeded,
        "transfers_in": m.transfers_in,
        "adjustments_in": m.adj_in,
        "adjustments_out": m.adj_out,
        "overflow_redirected": m.overflow_redirected,
        "overflow_revenue": m.overflow_revenue,
        "reserve_released": m.released,
    }
