"""What the router knows about a player: profile, sessions and spin counts (spec: Player Service).

The router joins each bet with one value of the players table, keyed by ``player_id`` like
the bets, profiles and session topics, so all four are co-partitioned and one agent is the
single writer of a player's value.  The value carries:

- ``profile``: the latest PlayerProfile (segments, VIP and loyalty tier, KYC, jurisdiction,
  exclusions, the CRM star flag and Mode 3 custom attributes); a player with no profile yet gets the engine's defaults (not KYC-verified,
  no segment), so a jackpot that asks for KYC does not pay an unknown player;
- ``sessions``: the player's recent sessions, opened by PlayerSessionStart or by the first
  bet of an unknown session id (not every provider sends session events), closed by
  PlayerSessionEnd, with the spins counted so far;
- ``bet_marks``: per bets partition, the offset of the last bet counted.  A bet at or below its
  mark is a replay after a crash and is not counted again.

Why a replay needs no memory of its first enrichment: the router writes a player's value only
after the contribution requests of its batch are on the broker (streams/worker.py).  So a bet
at or below its mark had its first requests delivered, ahead of the replay's copies on the same
jackpot partitions, and the jackpot agent applies the first copy and skips the replay by its
bets offset, whatever facts the replay carries.  A crash before the value is written replays
the batch from the previous value, which gives the same facts again.

Everything here is plain data and pure functions; the agent in ``worker.py`` does the I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

MAX_SESSIONS = 4  # recent sessions kept per player (a bet may arrive after its session ended)

PROFILE_FIELDS = ("brand_id", "segments", "vip_tier", "loyalty_tier", "kyc_verified", "jurisdiction",
                  "excluded", "self_excluded", "star", "attributes")


def ms(ts: Any) -> int:
    """Epoch ms of a record's timestamp (a datetime, or already ms)."""
    if isinstance(ts, dt.datetime):
        return int(ts.timestamp() * 1000)
    return int(ts)


def new_player() -> dict[str, Any]:
    return {"profile": None, "profile_at": -1, "sessions": {}, "bet_marks": {}}


def apply_profile(player: dict[str, Any], profile: dict[str, Any], received: int | None = None) -> bool:
    """Keep the newest profile, by the time it was received (a replayed older one changes nothing;
    a profile stamped in the future by its sender's clock cannot pin itself against later ones)."""
    at = ms(profile["timestamp"]) if received is None else received
    if at < player["profile_at"]:
        return False
    player["profile"] = {k: profile.get(k) for k in PROFILE_FIELDS}
    player["profile"]["segments"] = list(profile.get("segments") or [])
    player["profile"]["attributes"] = dict(profile.get("attributes") or {})
    player["profile_at"] = at
    return True


def _trim(sessions: dict[str, dict], keep: str) -> None:
    """Forget the oldest sessions past ``MAX_SESSIONS``, never ``keep`` (the one just opened:
    events arrive in any order, so it may be older than every session kept)."""
    while len(sessions) > MAX_SESSIONS:
        oldest = min((s for s in sessions if s != keep), key=lambda s: sessions[s]["started_at"])
        del sessions[oldest]


def start_session(player: dict[str, Any], session_id: str, at: Any) -> None:
    """PlayerSessionStart: idempotent (a replay finds the session already open)."""
    sessions = player["sessions"]
    if session_id not in sessions:
        sessions[session_id] = {"started_at": ms(at), "spins": 0, "ended_at": 0}
        _trim(sessions, keep=session_id)


def end_session(player: dict[str, Any], session_id: str, at: Any) -> None:
    """PlayerSessionEnd: the session keeps its count for bets that arrive late."""
    s = player["sessions"].get(session_id)
    if s is not None and not s["ended_at"]:
        s["ended_at"] = ms(at)


def enrich(player: dict[str, Any], bet: dict[str, Any], partition: int, offset: int,
           received: int) -> dict[str, Any]:
    """The player facts a ContributionRequest carries for ``bet`` (at bets ``partition``/``offset``,
    received at epoch ms ``received``: a bet of an unknown session opens it then).

    Counts the bet in its session unless it is a replay (at or below its partition's mark): a
    replay gets the current facts, and its requests are skipped by the jackpots that applied
    the first copy (see the module docstring).
    """
    player.pop("recent", None)  # values written before replays needed no memory carried a list
    if offset <= player["bet_marks"].get(str(partition), -1):
        return _facts(player, bet["session_id"])
    sessions = player["sessions"]
    sid = bet["session_id"]
    if sid not in sessions:
        start_session(player, sid, received)
    sessions[sid]["spins"] += 1
    player["bet_marks"][str(partition)] = offset
    return _facts(player, sid)


def _facts(player: dict[str, Any], session_id: str) -> dict[str, Any]:
    p = player["profile"] or {}
    s = player["sessions"].get(session_id) or {"spins": 0, "started_at": 0}
    return {
        "segments": list(p.get("segments") or []),
        "loyalty_tier": int(p.get("loyalty_tier") or 0),
        "vip_tier": str(p.get("vip_tier") or ""),
        "kyc_verified": bool(p.get("kyc_verified", False)),
        "jurisdiction": str(p.get("jurisdiction") or ""),
        "excluded": bool(p.get("excluded", False)),
        "self_excluded": bool(p.get("self_excluded", False)),
        "star": bool(p.get("star", False)),  # Mode 3: the CRM star flag and custom attributes
        "attributes": dict(p.get("attributes") or {}),
        "session_spins": int(s["spins"]),
        "session_started_at": int(s["started_at"]),
    }
