"""A realistic day on the real stack: the day-one portfolio played through the real topics.

One worker, one reference wallet, real Kafka, PostgreSQL and Redis.  The seven day-one
jackpots of the catalog (plus one Mode 4 hybrid) are published with their mechanics as
shipped (levels, splits, coefficients, house cuts, hidden increments, modes, waterfall,
chain reaction, schedules); only the money amounts are scaled down and seeds fixed, so a
few dozen bets reach the targets and every expected amount is exact.  The player service
announces six VIPs (segment, loyalty tier, session start); players bet in EUR, USD and RON
(and bonus money), then, in order:

- Mode 1 (Mystery Drops, RON): a bet arms the Bronze pool at its target, the next bet
  triggers it, and the triggering player wins;
- Mode 2 (Crown Fortune, EUR): a bet triggers the Grand with 20+ players active; the winner
  is drawn from the eligible-player snapshot with the spec's behaviour weights; the Grand's
  waterfall drops Major, Minor and Mini on clock ticks with independent winners; the Grand's
  weighted chain reaction pays four other players 500/250/100/100;
- Mega Cascade (Mode 2): an operator force drop; four cascade winners and eight chain prizes
  (proximity: the top contributors of the cycle), twelve winners in all;
- Mode 4 (hybrid, manual-only): frozen at Win Max with the rest buffered, then force dropped;
- Mode 3 (VIP Diamond): only VIPs can win, and only VIPs get its targeted chain reaction;
- Daily Blitz (timed, must-drop): with no bet after its deadline, both currency pools drop
  at the deadline from clock ticks alone;
- Mode 3 (Lucky Hour): a large win waits for approval (no credit before the approve
  command), then the wallet fails the first credit and the engine's retry pays it once.

Every winner draw is recomputed from the revealed cycle seed, and every candidate list and
weight from the bets and profiles themselves.  Finally the wallet's balances, the PostgreSQL
ledger, win and prize records and the Redis live values must all equal what was played and paid.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from jackpot.engine.catalog import DAY_ONE, DEFAULT_BRANDS, MODE2_WEIGHTS, PROFILES, TEMPLATES, instantiate
from jackpot.engine.contribution import Bet, apply_contribution
from jackpot.engine.lifecycle import activate, new_jackpot_state
from jackpot.engine.money import floor_to_unit, from_micros, to_micros
from jackpot.engine.rng import commitment, draw_weighted, master_seed_source
from jackpot.engine.timing import schedule_deadline
from jackpot.sinks.live import LiveValues
from jackpot.streams.kafka import partition_for
from jackpot.streams.loadgen import produce_bets, produce_player_events
from jackpot.streams.pipeline import Pipeline
from jackpot.streams.publish import publish_configs
from jackpot.tables.players import TABLE_NAME as PLAYERS

from .conftest import free_port, wait_for
from .helpers import (http_ready, latest_pools, read_engine_events, read_events, read_topic, read_wallet_results,
                      received_times, send_command, table_value)

pytestmark = pytest.mark.integration

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
BRAND = DEFAULT_BRANDS[0]
WINDOW_S = 1800  # active window of every test jackpot: nobody leaves the room during the module
DEADLINE_AFTER_S = 150  # Daily Blitz's deadline, counted from publishing the portfolio
CLOCK_S = "0.5"
WEIGHT_SCALE = 10**9
VIPS = {f"e{i}": i - 14 for i in range(15, 21)}  # VIP segment, loyalty tier 1..6
SESSION_LEAD_MS = 600_000  # the platform claims the VIPs' sessions started ten minutes earlier (ignored: engine time)
ELIGIBLE_GAMES = ["book-of-dead", "sweet-bonanza", "gates-of-olympus", "big-bass-bonanza", "starburst"]


def now_ms() -> int:
    return (dt.datetime.now(dt.timezone.utc) - EPOCH) // dt.timedelta(milliseconds=1)


def at(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


def ms_of(ts: dt.datetime) -> int:
    return (ts - EPOCH) // dt.timedelta(milliseconds=1)


def micros(d: Decimal) -> int:
    return to_micros(d)


# ----------------------------------------------------------------------------- the portfolio


def _amounts(seed: str, win: str, win_max: str, **kw) -> dict:
    return {"seed_from": seed, "seed_to": seed, "win_from": win, "win_to": win, "win_max": win_max, **kw}


def noon_zone(ms: int) -> str:
    """A fixed-offset zone whose local time is near noon at ``ms``: recurring schedules
    (daily and weekly deadlines) then never fall near the module's run by accident."""
    hour = at(ms).hour
    k = 12 - hour  # local = UTC + k
    if k > 12:
        k -= 24
    return "Etc/GMT" + (f"{-k:+d}" if k else "")


def build_portfolio(targets: dict[str, str], created_ms: int, ids: dict[str, str]) -> dict[str, dict]:
    """The day-one jackpots (and a Mode 4 hybrid) as config documents, amounts scaled for a test.

    ``targets`` sets the secret-but-fixed win target of the two pools a bet triggers
    (Crown Fortune Grand in EUR, Mystery Drops Bronze in RON)."""
    zone = noon_zone(created_ms)
    deadline_local = at(created_ms + DEADLINE_AFTER_S * 1000).astimezone(ZoneInfo(zone))
    common = {"active_window_seconds": WINDOW_S}
    amounts: dict[str, dict[str, dict]] = {
        "Crown Fortune": {
            "Grand": {**_amounts("50", targets["crown"], "1000", evaluation_delay_from=1, evaluation_delay_to=1),
                      "currency_amounts": {"USD": _amounts("50", "900", "1000", min_bet="0.50")}},
            "Major": _amounts("20", "900", "1000"),
            "Minor": _amounts("10", "900", "1000"),
            "Mini": _amounts("5", "900", "1000"),
        },
        "Mystery Drops": {
            "Gold": {**_amounts("100", "900", "1000"), "currency_amounts": {"RON": _amounts("500", "4500", "5000")}},
            "Silver": {**_amounts("50", "900", "1000"), "currency_amounts": {"RON": _amounts("250", "4500", "5000")}},
            "Bronze": {**_amounts("20", "900", "1000", evaluation_delay_from=1, evaluation_delay_to=1),
                       "currency_amounts": {"RON": _amounts("100", targets["mystery"], "5000")}},
        },
        "Daily Blitz": {"Daily": _amounts("10", "900", "1000")},
        "Lucky Hour": {"Blitz": _amounts("20", "900", "1000")},
        "Mega Cascade": {
            "Mega": _amounts("40", "900", "1000"),
            "Super": _amounts("20", "900", "1000"),
            "Great": _amounts("10", "900", "1000"),
            "Good": _amounts("5", "900", "1000"),
        },
    }
    extra: dict[str, dict] = {
        "Daily Blitz": {"schedule": {"timezone": zone, "open_time": "00:00:00",
                                     "close_time": deadline_local.time().replace(microsecond=0).isoformat()}},
        # open around the run's local noon (a scheduled jackpot takes bets only inside its window)
        "Lucky Hour": {"schedule": {"timezone": zone, "open_time": "06:00:00", "close_time": "18:00:00"},
                       "payout": {"large_win_threshold": "10", "wallet_retry_base_ms": 300,
                                  "wallet_retry_max_ms": 1000}},
        "Weekend Thunder": {"schedule": {"timezone": zone, "recurrence": "daily", "open_weekday": None,
                                         "close_weekday": None, "open_time": "06:00:00", "close_time": "18:00:00"}},
    }
    docs = {}
    for name, spec in DAY_ONE.items():
        levels = copy.deepcopy(spec["overrides"].get("levels") or TEMPLATES[spec["template"]]["levels"])
        for lv in levels:
            patch = amounts.get(name, {}).get(lv["name"])
            if patch:
                lv.pop("currency_amounts", None)
                lv.update(copy.deepcopy(patch))
            else:  # amounts as shipped, with a fixed seed so that every amount is predictable
                lv["seed_to"] = lv["seed_from"]
        overrides = {**copy.deepcopy(spec["overrides"]), "levels": levels, **common, **extra.get(name, {})}
        jp = instantiate(spec["template"], name=name, jackpot_id=ids[name], currencies=spec["currencies"],
                         compliance_profile=PROFILES[spec["profile"]], overrides=overrides)
        docs[name] = {**jp.model_dump(mode="json"), "status": "ACTIVE"}
    hybrid = instantiate("classic_progressive", name="Crown Hybrid", jackpot_id=ids["Crown Hybrid"],
                         currencies=["EUR"], compliance_profile=PROFILES["CW"], overrides={
                             **common, "distribution_mode": 4, "weight_factors": MODE2_WEIGHTS,
                             "drop_mode": "manual",  # a live-streamed show: only the operator drops it
                             "levels": [{"name": "Crown", "display_order": 1, "contribution_split": "1",
                                         **_amounts("30", "31", "31")}]})
    docs["Crown Hybrid"] = {**hybrid.model_dump(mode="json"), "status": "ACTIVE"}
    return docs


# ----------------------------------------------------------------------------- bets and the oracle


def bet(player: str, currency: str, amount: str, game: str, ts: int, bet_type: str = "real") -> dict:
    return {"event_id": str(uuid.uuid4()), "timestamp": at(ts), "player_id": player, "game_id": game,
            "brand_id": BRAND, "currency": currency, "bet_amount": Decimal(amount), "bet_type": bet_type,
            "session_id": f"s-{player}"}


def opening_bets(t0: int) -> list[dict]:
    """The room: 22 EUR regulars with distinct stakes, two small-stake EUR players, a table
    player (contributes nothing, cannot trigger), bonus-money spins, USD and RON players."""
    out = []
    ts = t0
    for i in range(1, 23):
        for k in range(3):
            ts += 1
            out.append(bet(f"e{i:02d}", "EUR", str(Decimal(50 + 25 * i) / 100), ELIGIBLE_GAMES[(i + k) % 5], ts))
    for k in range(3):
        ts += 1
        out.append(bet("e23", "EUR", "0.20", ELIGIBLE_GAMES[k], ts))
        ts += 1
        out.append(bet("e24", "EUR", "0.10", ELIGIBLE_GAMES[k + 1], ts))
    for k in range(2):
        ts += 1
        out.append(bet("e25", "EUR", "5.00", "blackjack-classic", ts))
    for i in range(1, 4):
        ts += 1
        out.append(bet(f"e{i:02d}", "EUR", "2.00", "book-of-dead", ts, bet_type="bonus"))
    for i in range(1, 7):
        for k in range(3):
            ts += 1
            out.append(bet(f"u{i:02d}", "USD", str(Decimal(100 + 35 * i) / 100), ELIGIBLE_GAMES[(i + k) % 5], ts))
    for i in range(1, 7):
        for k in range(3):
            ts += 1
            out.append(bet(f"r{i:02d}", "RON", str(5 * i + k), ELIGIBLE_GAMES[(i + 2 * k) % 5], ts))
    return out


@dataclass
class Applied:
    bet: dict
    ts: int
    amount: int
    game: str
    nets: dict[str, int]  # level_id -> net contribution
    gross: int = 0
    house: int = 0
    parts: dict = field(default_factory=dict)  # level_id -> (net, visible, hidden, overflow, pending)


@dataclass
class Oracle:
    """The same engine functions the worker runs, applied in-process to the same bets (no
    triggers: the test plays those itself), plus a per-player record of what each bet did."""

    docs: dict[str, dict]
    compiled: dict = field(default_factory=dict)
    states: dict = field(default_factory=dict)
    applied: dict = field(default_factory=dict)  # (jackpot name, currency, player) -> [Applied]

    def __post_init__(self) -> None:
        for name, doc in self.docs.items():
            cj = Pipeline.compile(doc)
            st = new_jackpot_state(cj)
            activate(cj, st, master_seed_source(b"oracle"), actor="system", cause_id="t", now=0)
            self.compiled[name], self.states[name] = cj, st

    def apply(self, b: dict) -> None:
        ts = ms_of(b["timestamp"])
        for name, cj in self.compiled.items():
            if b["currency"] not in cj.currencies:
                continue
            r = apply_contribution(cj, self.states[name], Bet(
                bet_id=b["event_id"], player_id=b["player_id"], game_id=b["game_id"], brand_id=b["brand_id"],
                currency=b["currency"], bet_amount=micros(b["bet_amount"]), bet_type=b["bet_type"],
                session_id=b["session_id"], timestamp=ts))
            if r.applied:
                self.applied.setdefault((name, b["currency"], b["player_id"]), []).append(
                    Applied(b, ts, micros(b["bet_amount"]), b["game_id"], {lc.level_id: lc.net for lc in r.levels},
                            r.gross, r.house_cut, {lc.level_id: (lc.net, lc.visible, lc.hidden, lc.overflow, lc.pending)
                                                    for lc in r.levels}))

    def pool(self, name: str, level: str, currency: str):
        return self.states[name].pool(self.level_id(name, level), currency)

    def level_id(self, name: str, level: str) -> str:
        return next(cl.level_id for cl in self.compiled[name].levels if cl.name == level)

    def level(self, name: str, level: str):
        cj = self.compiled[name]
        return cj.level(self.level_id(name, level))

    def players(self, name: str, currency: str) -> list[str]:
        return sorted(p for (n, c, p) in self.applied if n == name and c == currency)

    def qualifying(self, name: str, level: str, currency: str, player: str) -> list[Applied]:
        """The player's bets that qualify for the level (bet size within range, game may trigger)."""
        cj, cl = self.compiled[name], self.level(name, level)
        lim = cl.limits[currency]
        return [a for a in self.applied.get((name, currency, player), [])
                if cj.games[a.game].trigger_eligible and a.amount >= lim.min_bet
                and (not lim.max_bet or a.amount <= lim.max_bet)]

    def eligible(self, name: str, level: str, currency: str, exclude=()) -> list[str]:
        """The eligible-player snapshot of a drop, by the spec's rules: active players with a
        qualifying bet for the level (everyone bets well within the active window)."""
        return [p for p in self.players(name, currency)
                if p not in exclude and self.qualifying(name, level, currency, p)]

    def contributed(self, name: str, level: str, currency: str, player: str) -> int:
        lid = self.level_id(name, level)
        return sum(a.nets.get(lid, 0) for a in self.applied.get((name, currency, player), []))

    sessions: dict = field(default_factory=dict)  # player -> session start (ms), when announced

    def mode2_weights(self, name: str, level: str, currency: str, cands: list[str], now: int) -> list[int]:
        """Spec Mode 2: weight = 1 + sum(coef x value / average) over the factors, each value
        from the player's own bets and profile: last bet size, contribution to the level this
        cycle, session duration (from its announced start, else its first bet), qualifying bets,
        loyalty tier, recency of the last qualifying bet.  Integer form: floor(weight x 10^9),
        then divided by the common divisor (equal weights become 1)."""
        coefs = {k: Fraction(Decimal(v)) for k, v in MODE2_WEIGHTS.items()}
        window = WINDOW_S * 1000
        rows = []
        for p in cands:
            mine = self.applied[(name, currency, p)]
            qual = self.qualifying(name, level, currency, p)
            rows.append({
                "bet_size": mine[-1].amount,
                "contribution_volume": self.contributed(name, level, currency, p),
                "session_presence": max(0, now - self.sessions.get(p, min(a.ts for a in mine))),
                "bet_count": len(qual),
                "loyalty_tier": VIPS.get(p, 0),
                "recency": max(0, window - (now - qual[-1].ts)),
            })
        n = len(cands)
        ws = [Fraction(1)] * n
        for f, coef in coefs.items():
            total = sum(r[f] for r in rows)
            if total and coef:
                ws = [w + coef * r[f] * n / total for w, r in zip(ws, rows)]
        ints = [max(1, w.numerator * WEIGHT_SCALE // w.denominator) for w in ws]
        g = 0
        for w in ints:
            g = _gcd(g, w)
        return [w // g for w in ints]


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


# ----------------------------------------------------------------------------- the module's world


@dataclass
class World:
    settings: object
    docs: dict[str, dict]
    oracle: Oracle
    wallet_url: str
    worker: object
    created_ms: int
    deadline_ms: int
    mystery_bets: list = field(default_factory=list)
    crown_bets: list = field(default_factory=list)
    last_eur_bet_ms: int = 0
    wins: dict = field(default_factory=dict)  # name -> list of checked drops (win_id, level, currency, payload)

    def jid(self, name: str) -> str:
        return self.docs[name]["jackpot_id"]

    def key(self, name: str) -> bytes:
        return self.jid(name).encode()

    async def play(self, bets: list[dict]) -> None:
        """Produce the bets, stamp them with the time the system received them (the broker's append
        time: the engine's time, whatever the provider's clock said), and apply them to the oracle."""
        t = now_ms()
        for i, b in enumerate(bets):
            b["timestamp"] = at(t + i)
        await produce_bets(self.settings, bets)
        received = await received_times(self.settings, self.settings.topic("bets"))
        for b in bets:
            b["timestamp"] = at(received[b["event_id"]])
            self.oracle.apply(b)
        for b in bets:
            if b["currency"] == "EUR":
                self.last_eur_bet_ms = max(self.last_eur_bet_ms, ms_of(b["timestamp"]))

    async def pools_match(self, name: str) -> bool:
        """Every pool of the jackpot shows exactly the oracle's amounts."""
        st = self.oracle.states[name]
        latest = await latest_pools(self.settings, self.key(name))
        for pool in st.iter_pools():
            u = latest.get((pool.level_id, pool.currency))
            if u is None or (micros(u["visible_amount"]), micros(u["current_amount"])) != (
                    pool.visible, pool.visible + pool.hidden):
                return False
        return len(latest) == sum(1 for _ in st.iter_pools())

    async def engine(self, name: str, kinds=None) -> list[dict]:
        return await read_engine_events(self.settings, self.key(name), kinds=kinds)

    async def audit(self, name: str, kinds=None) -> list[dict]:
        return await read_engine_events(self.settings, self.key(name), topic="audit-events", kinds=kinds)

    async def won(self, name: str) -> list[dict]:
        """The spec's JackpotWon events (the CRM's topic) of one jackpot."""
        return await read_events(self.settings, self.settings.topic("jackpot-won"), self.key(name))

    async def wallet(self, path: str) -> dict:
        async with aiohttp.ClientSession() as http, http.get(f"{self.wallet_url}{path}") as resp:
            return await resp.json()


def _targets(provisional: dict[str, dict], opening: list[dict]) -> dict[str, str]:
    """Win targets one micro above each triggered pool's amount after the opening bets, so the
    arming bet is the one that crosses it: computed with the engine's contribution arithmetic
    on a provisional portfolio (a target changes no contribution)."""
    o = Oracle(provisional)
    for b in opening:
        o.apply(b)
    out = {}
    for key, (name, level, currency) in {"crown": ("Crown Fortune", "Grand", "EUR"),
                                         "mystery": ("Mystery Drops", "Bronze", "RON")}.items():
        p = o.pool(name, level, currency)
        out[key] = str(from_micros(p.visible + p.hidden + 1))
    return out


@pytest.fixture(scope="module")
async def world(settings, spawn):
    created = now_ms()
    ids = {name: str(uuid.uuid4()) for name in [*DAY_ONE, "Crown Hybrid"]}
    opening = opening_bets(created)
    # the arming and the triggering bets of the two bet-triggered drops (every bet is stamped
    # again when it is placed: World.play)
    mystery_bets = [bet("r02", "RON", "50", "book-of-dead", created),
                    bet("r05", "RON", "10", "gates-of-olympus", created)]
    crown_bets = [bet("e05", "EUR", "10.00", "book-of-dead", created),
                  bet("e10", "EUR", "2.00", "sweet-bonanza", created)]
    targets = _targets(build_portfolio({"crown": "900", "mystery": "4500"}, created, ids), opening)
    docs = build_portfolio(targets, created, ids)
    port = free_port()
    wallet_url = f"http://127.0.0.1:{port}"
    wallet = spawn("scenario-wallet", "wallet", JACKPOT_WALLET_PORT=str(port))
    await http_ready(f"{wallet_url}/health", procs=[wallet])
    await publish_configs(settings, list(docs.values()))
    worker = spawn("scenario-worker", "worker", WALLET_URL=wallet_url, JACKPOT_CLOCK_INTERVAL_S=CLOCK_S)
    deadline = _deadline_ms(docs["Daily Blitz"], created)
    w = World(settings, docs, Oracle(docs), wallet_url, worker, created, deadline, mystery_bets, crown_bets)
    # the player service: VIP profiles with loyalty tiers, and the VIPs' session starts
    starts = {p: created - SESSION_LEAD_MS + k for k, p in enumerate(VIPS)}
    await produce_player_events(settings, "player-profiles", [("PlayerProfile", {
        "event_id": str(uuid.uuid4()), "timestamp": at(created), "player_id": p, "brand_id": BRAND,
        "segments": ["VIP"], "vip_tier": "gold", "loyalty_tier": tier, "kyc_verified": True, "jurisdiction": "CW",
        "excluded": False, "self_excluded": False}) for p, tier in VIPS.items()])
    session_ids = {p: str(uuid.uuid4()) for p in starts}
    await produce_player_events(settings, "player-sessions", [("PlayerSessionStart", {
        "event_id": session_ids[p], "timestamp": at(ms), "player_id": p, "brand_id": BRAND,
        "session_id": f"s-{p}"}) for p, ms in starts.items()])
    # a session starts when the system receives its start event, not at the provider's time
    received = await received_times(settings, settings.topic("player-sessions"))
    w.oracle.sessions.update({p: received[ev] for p, ev in session_ids.items()})

    async def known(p: str) -> bool:
        rec = await table_value(settings, PLAYERS, p.encode())
        return bool(rec and rec["profile"] and f"s-{p}" in rec["sessions"])

    for p in VIPS:
        await wait_for(lambda p=p: known(p), timeout=120, what=f"{p}'s profile and session in the players table")
    await w.play(opening)
    for name in docs:
        await wait_for(lambda n=name: w.pools_match(n), timeout=120, what=f"{name}: every pool at its exact amount")
    yield w
    assert worker.alive(), worker.log_tail()


def _deadline_ms(doc: dict, created: int) -> int:
    """Daily Blitz's first deadline, by the engine's schedule rule (the close of today's window)."""
    return schedule_deadline(Pipeline.compile(doc), created)[1]


# ----------------------------------------------------------------------------- checks shared by the drops


def _one(events: list[dict], **match) -> dict:
    found = [e for e in events if all(e["payload"].get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one event matching {match}, found {len(found)}"
    return found[0]["payload"]


async def _revealed_seed(w: World, name: str, level_id: str, currency: str, cycle: int) -> bytes:
    audit = await w.audit(name, kinds=("CycleRevealed",))
    rev = _one(audit, level_id=level_id, currency=currency, cycle_number=cycle)
    started = _one(await w.engine(name, kinds=("CycleStarted",)), level_id=level_id, currency=currency,
                   cycle_number=cycle)
    seed = bytes.fromhex(rev["seed"])
    # provably fair: the seed revealed after the drop is the one committed to at cycle start
    assert commitment(seed) == started["commitment"] == rev["commitment"]
    return seed


def _check_draw(selected: dict, seed: bytes, cands: list[str], weights: list[int] | None) -> str:
    """The logged snapshot is the expected one and the winner is the draw the revealed seed gives."""
    logged = selected["candidates"]
    assert [c for c, _ in logged] == sorted(cands)
    ws = [int(x) for _, x in logged]
    if weights is not None:
        assert ws == weights
    assert len(selected["draws"]) == 1
    label, r, total, pid = selected["draws"][0]
    i, r2, total2 = draw_weighted(seed, label, ws)
    assert (r2, total2) == (int(r), int(total)) and logged[i][0] == pid
    assert [x[1] for x in selected["winners"]] == [pid]
    return pid


def _check_chain(selected: dict, seed: bytes, cands: list[str], prizes: list[int], mode: str,
                 contributed: dict[str, int]) -> list[tuple[str, int]]:
    """Chain recipients: other active players, drawn (or ranked) by the level's chain mode."""
    logged = selected["chain_candidates"]
    assert [c for c, _ in logged] == sorted(cands)
    n = min(len(prizes), len(cands))
    if mode == "proximity":
        assert [int(x) for _, x in logged] == [contributed[c] for c in sorted(cands)]
        ranked = sorted(cands, key=lambda p: -contributed[p])
        # the test's stakes make the top contributors distinct: no tie-break needed
        assert len({contributed[p] for p in ranked[:n + 1]}) == n + 1
        expected = ranked[:n]
    else:
        if mode == "weighted":  # 1 + contributed / average, floored to 10^-9
            total = sum(contributed[c] for c, _ in logged)
            ws = [(total + len(logged) * contributed[c]) * WEIGHT_SCALE // total for c, _ in logged]
        else:  # random and targeted draw uniformly
            ws = [1] * len(logged)
        assert [int(x) for _, x in logged] == ws
        remaining = list(range(len(logged)))
        expected = []
        for label, r, total_, pid in selected["chain_draws"]:
            i, r2, t2 = draw_weighted(seed, label, [ws[j] for j in remaining])
            j = remaining.pop(i)
            assert (r2, t2, logged[j][0]) == (int(r), int(total_), pid)
            expected.append(pid)
        assert len(expected) == n
    got = [(p, int(a)) for _, p, a in selected["chain_winners"]]
    assert got == list(zip(expected, prizes[:n]))
    return got


async def _drop(w: World, name: str, level: str, currency: str, cycle: int = 1,
                timeout: float = 120) -> tuple[dict, dict, dict]:
    """(WinnerSelected, the engine's JackpotWon, the spec's JackpotWon) of a settled drop."""
    lid = w.oracle.level_id(name, level)

    async def settled():
        sel = [e for e in await w.audit(name, kinds=("WinnerSelected",))
               if e["payload"]["level_id"] == lid and e["payload"]["currency"] == currency
               and e["payload"]["cycle_number"] == cycle]
        won = [e for e in await w.engine(name, kinds=("JackpotWon",))
               if e["payload"]["level_id"] == lid and e["payload"]["currency"] == currency
               and e["payload"]["cycle_number"] == cycle]
        return (sel, won) if sel and won else None

    sel, won = await wait_for(settled, timeout=timeout, what=f"{name} {level}/{currency}: drop settled")
    assert len(sel) == 1 and len(won) == 1, f"{name} {level}/{currency} dropped more than once in cycle {cycle}"
    spec_won = [x for x in await w.won(name) if x["level_id"] == lid and x["currency"] == currency
                and x["cycle_number"] == cycle]
    assert len(spec_won) == 1
    s, e, x = sel[0]["payload"], won[0]["payload"], spec_won[0]
    assert e["win_id"] == s["win_id"]
    assert x["winner_player_id"] == e["winner_player_id"] and micros(x["win_amount"]) == e["win_amount"]
    assert [(c["player_id"], micros(c["amount"])) for c in x["chain_reaction_winners"]] == [
        (c["player_id"], c["amount"]) for c in e["chain_reaction_winners"]]
    w.wins.setdefault(name, []).append((s["win_id"], level, currency, e))
    return s, e, x


async def _reseeded(w: World, name: str, level: str, currency: str, cycle: int = 2) -> int:
    lid = w.oracle.level_id(name, level)
    events = await wait_for(lambda: read_events(w.settings, w.settings.topic("jackpot-reseeded"), w.key(name)),
                            timeout=60, what=f"{name}: JackpotReseeded")
    mine = [r for r in events if r["level_id"] == lid and r["currency"] == currency and r["cycle_number"] == cycle]
    assert len(mine) == 1
    return micros(mine[0]["new_seed_amount"])


# ----------------------------------------------------------------------------- the tests, in the day's order


async def test_the_portfolio_takes_every_currency_to_the_micro(world):
    """Opening bets reach every pool of the eight jackpots in EUR, USD and RON exactly (the
    fixture waited for it); here the spec's arithmetic is checked by hand on two pools."""
    w = world
    o = w.oracle
    # Crown Fortune Grand (EUR), by the documented rounding rule: gross = floor(bet x 1.5% x
    # coefficient), net = floor(gross x 90%), net split 40/25/20/15 by largest remainder (ties
    # to the top level), hidden = floor(10% of the level's net), the rest visible
    coef = {g["game_id"]: Fraction(Decimal(g["coefficient"])) for g in w.docs["Crown Fortune"]["games"]}
    splits = [40, 25, 20, 15]
    vis = hid = 0
    for p in o.players("Crown Fortune", "EUR"):
        for a in o.applied[("Crown Fortune", "EUR", p)]:
            gross = int(Fraction(a.amount) * Fraction(15, 1000) * coef[a.game])
            net = int(gross * Fraction(9, 10))
            parts = [net * k // 100 for k in splits]
            rems = [net * k % 100 for k in splits]
            for i in sorted(range(4), key=lambda i: (-rems[i], i))[:net - sum(parts)]:
                parts[i] += 1
            hid += parts[0] // 10
            vis += parts[0] - parts[0] // 10
    grand = o.pool("Crown Fortune", "Grand", "EUR")
    assert (grand.visible, grand.hidden) == (50_000_000 + vis, hid)
    # bonus money reaches only the jackpot that accepts it (Lucky Hour), real money every one
    bonus = {b.bet["event_id"] for k, v in o.applied.items() for b in v if b.bet["bet_type"] == "bonus"}
    assert {k[0] for k, v in o.applied.items() if any(b.bet["event_id"] in bonus for b in v)} == {"Lucky Hour"}
    # the table player's bets count as play but contribute nothing (coefficient 0.0)
    table = [a for (n, c, p), v in o.applied.items() if p == "e25" for a in v]
    assert table and all(net == 0 for a in table for net in a.nets.values())
    # RON only feeds the jackpot that has RON pools
    assert {n for (n, c, _) in o.applied if c == "RON"} == {"Mystery Drops"}
    # Crown's Grand target sits just above its seed, so the seed itself is past the warn threshold
    # (70-90% of the target): WarnThresholdReached on the spec topic, the range in percent
    grand_warn = [x for x in await read_events(w.settings, w.settings.topic("warn-threshold-reached"),
                                               w.key("Crown Fortune"))
                  if x["level_id"] == grand.level_id and x["currency"] == "EUR"]
    assert [(x["current_amount"], x["warn_percentage_from"], x["warn_percentage_to"], x["cycle_number"])
            for x in grand_warn] == [(Decimal("50.000000"), Decimal("70.0000"), Decimal("90.0000"), 1)]
    latest = await latest_pools(w.settings, w.key("Mystery Drops"))
    bronze = o.pool("Mystery Drops", "Bronze", "RON")
    u = latest[(bronze.level_id, "RON")]
    assert (micros(u["visible_amount"]), micros(u["current_amount"])) == (
        bronze.visible, bronze.visible + bronze.hidden)


async def test_mode1_the_triggering_player_wins(world):
    """Mystery Drops (Mode 1, trigger player): the first bet past the target arms the Bronze
    RON pool, the next qualifying bet drops it and its player wins the whole visible pool."""
    w = world
    arm, trig = w.mystery_bets
    await w.play([arm])
    await wait_for(lambda: w.pools_match("Mystery Drops"), timeout=60, what="arming bet applied")
    assert not await w.won("Mystery Drops")  # armed, not dropped: the evaluation delay is 1 more bet
    await w.play([trig])
    sel, won, spec = await _drop(w, "Mystery Drops", "Bronze", "RON")
    bronze = w.oracle.pool("Mystery Drops", "Bronze", "RON")
    assert sel["selection_method"] == "trigger_player" and sel["draws"] == []
    assert sel["trigger_bet_id"] == trig["event_id"] == str(spec["trigger_bet_id"])
    assert won["winner_player_id"] == "r05" and won["drop_kind"] == "trigger"
    assert won["win_amount"] == bronze.visible  # the trigger bet's own contribution included
    # the logged snapshot: every RON player with a qualifying bet, equal weights (Mode 1)
    assert sel["candidates"] == [[p, 1] for p in w.oracle.eligible("Mystery Drops", "Bronze", "RON")]
    # reseed: the fixed seed plus the hidden increment reserve carried into the next cycle
    assert await _reseeded(w, "Mystery Drops", "Bronze", "RON") == 100_000_000 + bronze.hidden


async def test_mode2_trigger_with_waterfall_and_chain_reaction(world):
    """Crown Fortune (Mode 2): a bet triggers the Grand with 24 players active (min 20); the
    winner is drawn from the snapshot with the spec's behaviour weights; the waterfall drops
    Major, Minor and Mini on the clock with a new winner each; four other players get the
    weighted chain reaction prizes 500/250/100/100."""
    w = world
    o = w.oracle
    arm, trig = w.crown_bets
    await w.play([arm])
    await wait_for(lambda: w.pools_match("Crown Fortune"), timeout=60, what="arming bet applied")
    await w.play([trig])
    assert w.last_eur_bet_ms < w.deadline_ms
    trig_ts = ms_of(trig["timestamp"])
    name = "Crown Fortune"
    grand = o.pool(name, "Grand", "EUR")
    sel, won, spec = await _drop(w, name, "Grand", "EUR")
    seed = await _revealed_seed(w, name, grand.level_id, "EUR", 1)
    assert sel["drop_kind"] == "trigger" and sel["selection_method"] == "weighted_random"
    cands = o.eligible(name, "Grand", "EUR")
    assert "e23" not in cands and "e24" not in cands  # stakes below the Grand's 0.50 minimum
    winner = _check_draw(sel, seed, cands, o.mode2_weights(name, "Grand", "EUR", cands, trig_ts))
    assert won["winner_player_id"] == winner and won["win_amount"] == grand.visible
    # chain reaction: every other active EUR player may receive one, weighted by contribution
    others = [p for p in o.players(name, "EUR") if p != winner]
    contributed = {p: o.contributed(name, "Grand", "EUR", p) for p in others}
    chain = _check_chain(sel, seed, others, [500_000_000, 250_000_000, 100_000_000, 100_000_000], "weighted",
                         contributed)
    assert sum(a for _, a in chain) == 950_000_000
    assert [(c["player_id"], c["amount"]) for c in won["chain_reaction_winners"]] == chain

    # the waterfall: Major 3 s, Minor 6 s, Mini 9 s after the Grand, each its own visible pool
    taken = [winner]
    drop_at = sel["timestamp"]
    for k, level in enumerate(["Major", "Minor", "Mini"], 1):
        s, e, _ = await _drop(w, name, level, "EUR")
        pool = o.pool(name, level, "EUR")
        assert s["drop_kind"] == "cascade" and s["origin_win_id"] == sel["win_id"]
        assert s["timestamp"] >= drop_at + 3000 * k  # fired by a clock tick at or after its due time
        lvl_seed = await _revealed_seed(w, name, pool.level_id, "EUR", 1)
        cands = o.eligible(name, level, "EUR", exclude=taken)
        pid = _check_draw(s, lvl_seed, cands, o.mode2_weights(name, level, "EUR", cands, s["timestamp"]))
        assert e["win_amount"] == pool.visible and e["chain_reaction_winners"] == []
        taken.append(pid)
        assert await _reseeded(w, name, level, "EUR") == micros(
            Decimal(w.docs[name]["levels"][k]["seed_from"])) + pool.hidden
    assert len(set(taken)) == 4  # independent winner mode: four different players
    # Grand reseeds at its seed plus the hidden reserve; USD pools untouched
    assert await _reseeded(w, name, "Grand", "EUR") == 50_000_000 + grand.hidden
    latest = await latest_pools(w.settings, w.key(name))
    for level in ("Grand", "Major", "Minor", "Mini"):
        usd = o.pool(name, level, "USD")
        assert micros(latest[(usd.level_id, "USD")]["visible_amount"]) == usd.visible


async def test_mega_cascade_force_drop_pays_twelve_winners(world):
    """Mega Cascade: an operator force drop of the top level; the waterfall drops the other
    three, each level pays two chain prizes (proximity, weighted, weighted, random): 4 + 8 = 12
    winners, and the chain prizes sum to 545."""
    w = world
    o = w.oracle
    name = "Mega Cascade"
    cmd = await send_command(w.settings, w.jid(name), action="force_drop", level_id=o.level_id(name, "Mega"),
                             currency="EUR", reason="prime-time show")
    cmd_ts = ms_of(cmd["timestamp"])
    taken: list[str] = []
    chain_total = 0
    modes = {"Mega": "proximity", "Super": "weighted", "Great": "weighted", "Good": "random"}
    prizes = {"Mega": [250, 100], "Super": [100, 50], "Great": [25, 10], "Good": [5, 5]}
    recipients = 0
    for level in ("Mega", "Super", "Great", "Good"):
        s, e, _ = await _drop(w, name, level, "EUR")
        pool = o.pool(name, level, "EUR")
        seed = await _revealed_seed(w, name, pool.level_id, "EUR", 1)
        now = cmd_ts if level == "Mega" else s["timestamp"]
        assert s["drop_kind"] == ("force" if level == "Mega" else "cascade")
        cands = o.eligible(name, level, "EUR", exclude=taken)
        pid = _check_draw(s, seed, cands, o.mode2_weights(name, level, "EUR", cands, now))
        assert e["win_amount"] == pool.visible
        others = [p for p in o.players(name, "EUR") if p != pid]
        contributed = {p: o.contributed(name, level, "EUR", p) for p in others}
        chain = _check_chain(s, seed, others, [a * 1_000_000 for a in prizes[level]], modes[level], contributed)
        chain_total += sum(a for _, a in chain)
        recipients += len(chain)
        taken.append(pid)
    assert len(set(taken)) == 4 and recipients == 8
    assert chain_total == 545_000_000


async def test_mode4_manual_jackpot_frozen_at_win_max_then_force_dropped(world):
    """Crown Hybrid (Mode 4, manual-only): seeded at 30 below a Win Max of 31, it warns at once
    (PoolApproachingMax, 96.77% of max), freezes at 31 while the rest of the contributions
    buffer, never drops on a bet, and pays exactly Win Max on the operator's force drop, the
    winner drawn with the behaviour weights (x 1: no operator rules); the buffer funds the
    next seed up to the win range."""
    w = world
    o = w.oracle
    name = "Crown Hybrid"
    pool = o.pool(name, "Crown", "EUR")
    approaching = await read_events(w.settings, w.settings.topic("pool-approaching-max"), w.key(name))
    assert [(x["current_amount"], x["win_max"], x["percentage_of_max"], x["cycle_number"]) for x in approaching] == [
        (Decimal("30.000000"), Decimal("31.000000"), Decimal("96.77"), 1)]
    at_max = await _events(w, name, "PoolAtMax")
    assert len(at_max) == 1 and at_max[0]["win_max"] == 31_000_000
    assert pool.visible == 31_000_000 and pool.carry > 0  # frozen at the ceiling, the rest buffered
    assert not await w.won(name)
    cmd = await send_command(w.settings, w.jid(name), action="force_drop", level_id=o.level_id(name, "Crown"),
                             currency="EUR", reason="hybrid check")
    s, e, _ = await _drop(w, name, "Crown", "EUR")
    pool = o.pool(name, "Crown", "EUR")
    seed = await _revealed_seed(w, name, pool.level_id, "EUR", 1)
    cands = o.eligible(name, "Crown", "EUR")
    cmd_ts = ms_of(cmd["timestamp"])
    assert s["distribution_mode"] == 4 and s["selection_method"] == "weighted_random"
    _check_draw(s, seed, cands, o.mode2_weights(name, "Crown", "EUR", cands, cmd_ts))
    assert e["win_amount"] == pool.visible == 31_000_000
    assert await _reseeded(w, name, "Crown", "EUR") == 30_000_000 + min(pool.hidden + pool.carry, 1_000_000)


async def test_mode3_vip_jackpot_pays_only_vips_with_a_targeted_chain_reaction(world):
    """VIP Diamond (Mode 3, segment targeting): a force drop of the Diamond draws only among the
    VIP players the player service announced (with a bet at the 2.00 minimum), uniformly (no
    operator weights); its targeted chain reaction pays 1000/500/250 to other VIPs."""
    w = world
    o = w.oracle
    name = "VIP Diamond"
    await send_command(w.settings, w.jid(name), action="force_drop", level_id=o.level_id(name, "Diamond"),
                       currency="EUR", reason="vip night")
    s, e, _ = await _drop(w, name, "Diamond", "EUR")
    pool = o.pool(name, "Diamond", "EUR")
    seed = await _revealed_seed(w, name, pool.level_id, "EUR", 1)
    staked = o.eligible(name, "Diamond", "EUR")
    cands = [p for p in staked if p in VIPS]
    assert len(staked) > len(cands) > 3  # the segment rule keeps high-staking non-VIPs out
    assert s["distribution_mode"] == 3
    pid = _check_draw(s, seed, cands, [1] * len(cands))
    assert e["win_amount"] == pool.visible
    others = [p for p in o.players(name, "EUR") if p in VIPS and p != pid]
    chain = _check_chain(s, seed, others, [1_000_000_000, 500_000_000, 250_000_000], "targeted", {})
    assert sum(a for _, a in chain) == 1_750_000_000


async def test_timed_jackpot_drops_at_its_deadline_from_clock_ticks(world):
    """Daily Blitz (timed, must-drop by the daily close): its pools are far below their
    targets and nobody bets after the deadline, yet both currency pools drop at the deadline,
    driven by the clock ticks alone, for a whole-unit prize."""
    w = world
    o = w.oracle
    name = "Daily Blitz"
    assert w.last_eur_bet_ms < w.deadline_ms
    # the deadline is a fixed time after the portfolio went out: the faster the earlier tests ran,
    # the longer this one waits for it
    until_deadline_s = max(0.0, w.deadline_ms / 1000 - time.time())
    for currency in ("EUR", "USD"):
        s, e, spec = await _drop(w, name, "Daily", currency, timeout=until_deadline_s + 120)
        pool = o.pool(name, "Daily", currency)
        assert pool.visible + pool.hidden < pool.win_target
        assert s["drop_kind"] == "deadline" and e["drop_kind"] == "deadline"
        assert s["trigger_bet_id"] is None and spec["trigger_bet_id"] is None
        assert s["timestamp"] >= w.deadline_ms  # not a moment before the deadline
        seed = await _revealed_seed(w, name, pool.level_id, currency, 1)
        cands = o.eligible(name, "Daily", currency)
        _check_draw(s, seed, cands, o.mode2_weights(name, "Daily", currency, cands, s["timestamp"]))
        assert e["win_amount"] == floor_to_unit(pool.visible)  # integer_wins_only
    # the Must Drop warn state came first, from the clock, inside the warning period
    warns = [x["payload"] for x in await w.engine(name, kinds=("WarnStateChanged",))]
    for currency in ("EUR", "USD"):
        entered = [x for x in warns if x["currency"] == currency and x.get("new_state") == "must_drop"]
        assert entered, warns
        assert entered[0]["timestamp"] < w.deadline_ms


async def test_mode3_large_win_waits_for_approval_then_a_failed_credit_is_retried(world):
    """Lucky Hour (Mode 3): a force drop above the large-win threshold is held in the approval
    queue: no credit is issued while ticks go by; on approval the wallet fails the first
    credit (503), the engine retries the same key after its backoff, and the player is paid
    exactly once, then JackpotWon and the reseed follow."""
    w = world
    o = w.oracle
    name = "Lucky Hour"
    # every earlier credit is settled, so the injected fault meets this prize's first attempt
    await wait_for(_all_credits_final(w), timeout=120, what="earlier credits settled")
    pool = o.pool(name, "Blitz", "EUR")
    lid = pool.level_id
    await send_command(w.settings, w.jid(name), action="force_drop", level_id=lid, currency="EUR",
                       reason="happy hour")
    req = await wait_for(lambda: _events(w, name, "WinApprovalRequested"), timeout=60, what="approval request")
    assert len(req) == 1
    req = req[0]
    amount = floor_to_unit(pool.visible)
    assert req["amount"] == amount > req["threshold"] == 10_000_000
    key = req["idempotency_key"]
    # hold: let the clock run well past the retry backoff; no credit command, no win, still locked
    ticks_before = await _ticks_applied(w, name)
    await wait_for(lambda: _ticks_applied_since(w, name, ticks_before, 6), timeout=60, what="six more ticks")
    assert not [c for c in await _commands(w) if c["idempotency_key"] == key]
    assert not await w.won(name)
    async with aiohttp.ClientSession() as http:
        await http.post(f"{w.wallet_url}/faults", json={"fail_next": 1, "status": 503})
    await send_command(w.settings, w.jid(name), action="approve_win", win_id=key, reason="verified")

    sel, won, spec = await _drop(w, name, "Blitz", "EUR")
    seed = await _revealed_seed(w, name, lid, "EUR", 1)
    cands = o.eligible(name, "Blitz", "EUR")
    assert sel["distribution_mode"] == 3
    winner = _check_draw(sel, seed, cands, [1] * len(cands))  # no operator weights: uniform
    assert won["win_amount"] == amount and won["winner_player_id"] == winner == req["player_id"]
    cmds = sorted((c for c in await _commands(w) if c["idempotency_key"] == key), key=lambda c: c["attempt"])
    assert sorted({c["attempt"] for c in cmds}) == [1, 2]
    results = [r for r in await read_wallet_results(w.settings, w.key(name))
               if r["idempotency_key"] == key]
    by_attempt = {r["attempt"]: r for r in results}
    assert by_attempt[1]["status"] == "failed" and by_attempt[1]["retryable"] is True
    assert by_attempt[2]["status"] == "confirmed"
    updates = [u for u in await _events(w, name, "CreditUpdated") if u["idempotency_key"] == key]
    statuses = [u["status"] for u in updates]
    assert statuses.index("retry_wait") < statuses.index("confirmed")
    # the level stayed DROPPING through the failure: the reseed came only after the confirmation
    flow = [(x["kind"], x["payload"]) for x in await w.engine(name)
            if x["kind"] in ("CreditUpdated", "JackpotReseeded", "JackpotWon")]
    order = [k if k != "CreditUpdated" else p["status"] for k, p in flow
             if k != "CreditUpdated" or p["idempotency_key"] == key]
    assert order == ["awaiting_approval", "sent", "retry_wait", "sent", "confirmed", "JackpotWon", "JackpotReseeded"]
    credit = await w.wallet(f"/credits/{key}")
    assert credit["request"]["amount_micros"] == amount and credit["request"]["player_id"] == winner
    # the fraction of a whole-unit prize stays in reserve; the next seed takes whole units of it
    assert await _reseeded(w, name, "Blitz", "EUR") == 20_000_000 + floor_to_unit(pool.hidden + pool.visible - amount)


async def test_wallet_ledger_and_live_values_agree_with_the_drops(world):
    """Every prize was paid once: wallet balances equal the sum of the prizes of every drop;
    PostgreSQL holds each win once with its amount and winner; Redis shows the reseeded pools."""
    w = world
    await wait_for(_all_credits_final(w), timeout=120, what="every credit settled")
    expected: dict[str, int] = {}
    n_prizes = 0
    for name, wins in w.wins.items():
        for _, _, currency, e in wins:
            for x in [*e["winners"], *e["chain_reaction_winners"]]:
                k = f"{x['player_id']}:{currency}"
                expected[k] = expected.get(k, 0) + x["amount"]
                n_prizes += 1
    stats = await w.wallet("/stats")
    assert stats["balances"] == expected
    # Mystery 1, Crown 4 + 4 chain, Mega 4 + 8 chain, Hybrid 1, VIP 1 + 3 chain, Daily Blitz 2, Lucky Hour 1
    assert stats["credits"] == n_prizes == 1 + (4 + 4) + (4 + 8) + 1 + (1 + 3) + 2 + 1
    conn = await asyncpg.connect(w.settings.database_url)
    try:
        # the contribution ledger: one row per applied bet and jackpot, amounts as the engine booked
        # them, and conservation: gross = house cut + the levels' net (visible + hidden) to the micro
        for name in w.docs:
            mine = [a for (n, _, _), v in w.oracle.applied.items() if n == name for a in v]
            want = (len(mine), sum(a.gross for a in mine), sum(a.house for a in mine))
            got = await wait_for(lambda n=name, want=want: _ledger_totals(conn, w.jid(n), want), timeout=60,
                                 what=f"{name}: contribution ledger")
            assert got == want
            assert sum(a.gross for a in mine) == sum(a.house + sum(a.nets.values()) for a in mine)
            levels: dict[tuple[str, str], tuple[int, ...]] = {}
            for a in mine:
                for lid, part in a.parts.items():
                    k = (lid, a.bet["currency"])
                    levels[k] = tuple(x + y for x, y in zip(levels.get(k, (0,) * 5), part))
            rows = await conn.fetch(
                "SELECT level_id, currency, sum(net_amount) n, sum(visible_amount) v, sum(hidden_amount) h, "
                "sum(overflow_amount) o, sum(pending_amount) p "
                "FROM contribution_levels WHERE jackpot_id = $1 GROUP BY level_id, currency", w.jid(name))
            assert {(r["level_id"], r["currency"]): tuple(micros(r[c]) for c in "nvhop") for r in rows} == levels
            assert all(n == v + h + o + p for n, v, h, o, p in levels.values())
        for name, wins in w.wins.items():
            rows = await wait_for(lambda n=name, k=len(wins): _won_rows(conn, w.jid(n), k), timeout=60,
                                  what=f"{name}: win rows")
            got = {r["win_id"]: (micros(r["win_amount"]), r["winner_player_id"], r["drop_kind"]) for r in rows}
            assert got == {wid: (e["win_amount"], e["winner_player_id"], e["drop_kind"]) for wid, _, _, e in wins}
            for wid, _, _, e in wins:  # every prize of the win, main and chain, paid
                want = sorted([("main", x["rank"], x["player_id"], x["amount"], "confirmed") for x in e["winners"]]
                              + [("chain_reaction", x["rank"], x["player_id"], x["amount"], "confirmed")
                                 for x in e["chain_reaction_winners"]])
                got_prizes = await wait_for(lambda wid=wid, want=want: _prizes(conn, wid, want), timeout=60,
                                            what=f"{name}: prizes of {wid}")
                assert got_prizes == want
    finally:
        await conn.close()
    live = LiveValues(w.settings.redis_url, namespace=w.settings.topic_prefix)
    try:
        for name in ("Crown Fortune", "Mega Cascade"):
            latest = await latest_pools(w.settings, w.key(name))
            want = sorted((lid, cur, str(u["visible_amount"])) for (lid, cur), u in latest.items())

            async def shown(n=name, want=want):
                got = sorted((p["level_id"], p["currency"], p["visible_amount"]) for p in await live.pools(w.jid(n)))
                return got == want

            await wait_for(shown, timeout=60, what=f"{name}: Redis live values")
    finally:
        await live.close()


# ----------------------------------------------------------------------------- small readers


async def _events(w: World, name: str, kind: str) -> list[dict]:
    return [e["payload"] for e in await w.engine(name, kinds=(kind,))]


async def _commands(w: World) -> list[dict]:
    return await read_events(w.settings, w.settings.topic("wallet-credit-commands"))


def _all_credits_final(w: World):
    async def check() -> bool:
        cmds = await _commands(w)
        results = await read_wallet_results(w.settings)
        confirmed = {r["idempotency_key"] for r in results if r["status"] == "confirmed"}
        return bool(cmds) and {c["idempotency_key"] for c in cmds} <= confirmed
    return check


async def _ticks_applied(w: World, name: str) -> int:
    from jackpot.tables.jackpots import TABLE_NAME

    inputs = w.settings.topic("jackpot-contributions")
    rec = await table_value(w.settings, TABLE_NAME, w.key(name))
    mark = int((rec or {}).get("input_marks", {}).get(inputs, -1))
    partition = partition_for(w.key(name), w.settings.partitions)
    return sum(1 for m in await read_topic(w.settings, inputs, f"tick:{partition}".encode()) if m.offset <= mark)


async def _ticks_applied_since(w: World, name: str, before: int, n: int) -> bool:
    return await _ticks_applied(w, name) >= before + n


async def _ledger_totals(conn, jackpot_id: str, want: tuple):
    row = await conn.fetchrow("SELECT count(*) c, coalesce(sum(gross_amount), 0) g, "
                              "coalesce(sum(house_cut_amount), 0) h FROM contributions WHERE jackpot_id = $1",
                              jackpot_id)
    got = (row["c"], micros(row["g"]), micros(row["h"]))
    return got if got[0] >= want[0] else None


async def _prizes(conn, win_id: str, want: list):
    rows = await conn.fetch("SELECT kind, rank, player_id, amount, payout_status FROM prizes WHERE win_id = $1",
                            win_id)
    got = sorted((r["kind"], r["rank"], r["player_id"], micros(r["amount"]), r["payout_status"]) for r in rows)
    return got if len(got) >= len(want) else None


async def _won_rows(conn, jackpot_id: str, n: int):
    rows = await conn.fetch("SELECT * FROM wins WHERE jackpot_id = $1 AND won_at IS NOT NULL", jackpot_id)
    return rows if len(rows) >= n else None
