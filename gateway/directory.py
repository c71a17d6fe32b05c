"""The gateway's public view of the jackpot configurations: slugs, names, levels, brands,
currencies, countdowns and smoothing parameters, from the compacted ``jackpot-configs`` topic.

Only what a player may see leaves this module: no contribution rates, house cuts, weights or
operator rules, and level ranges only where the config's ``range_display`` asks for them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import unicodedata
from zoneinfo import ZoneInfo

from .mystery import PUBLIC_LEVEL
from .smoothing import Smoothing

log = logging.getLogger(__name__)


def slugify(name: str) -> str:
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-") or "jackpot"


def next_deadline(schedule: dict | None, now: dt.datetime) -> int | None:
    """Epoch ms of the next close of a timed window (daily/weekly) or the campaign end."""
    if not schedule:
        return None
    tz = ZoneInfo(schedule.get("timezone") or "UTC")
    local = now.astimezone(tz)
    rec = schedule.get("recurrence") or "none"
    close = schedule.get("close_time")
    cand = None
    if rec == "daily" and close:
        t = dt.time.fromisoformat(close)
        cand = local.replace(hour=t.hour, minute=t.minute, second=t.second, microsecond=0)
        if cand <= local:
            cand += dt.timedelta(days=1)
    elif rec == "weekly" and close and schedule.get("close_weekday") is not None:
        t = dt.time.fromisoformat(close)
        days = (int(schedule["close_weekday"]) - local.weekday()) % 7
        cand = (local + dt.timedelta(days=days)).replace(hour=t.hour, minute=t.minute, second=t.second, microsecond=0)
        if cand <= local:
            cand += dt.timedelta(days=7)
    end = schedule.get("end_at")
    if end:
        end_dt = dt.datetime.fromisoformat(end)
        if end_dt > now and (cand is None or end_dt < cand):
            cand = end_dt
    return int(cand.timestamp() * 1000) if cand else None


def _range(level: dict) -> dict | None:
    rd = level.get("range_display") or {}
    lo = {"seed_from": level.get("seed_from"), "win_from": level.get("win_from")}.get(rd.get("min_display"))
    hi = {"seed_to": level.get("seed_to"), "win_to": level.get("win_to")}.get(rd.get("max_display"))
    return {"min": lo, "max": hi} if lo or hi else None


def public_jackpot(doc: dict, slug: str) -> dict:
    levels = sorted(doc.get("levels") or [], key=lambda lv: lv.get("display_order", 0))
    schedule = doc.get("schedule")
    return {
        "jackpot_id": doc["jackpot_id"],
        "slug": slug,
        "name": doc["name"],
        "type": doc.get("type"),
        "status": doc.get("status"),
        "drop_mode": doc.get("drop_mode"),
        "brands": list(doc.get("brands") or []),
        "currencies": list(doc.get("currencies") or []),
        # a network jackpot also takes bets in these, pooled into its currency (engine/network.py)
        "pooled_currencies": sorted(((doc.get("network") or {}).get("rates") or {})),
        "games": [{"game_id": g["game_id"], "name": g.get("name") or g["game_id"]} for g in doc.get("games") or []],
        "vip_only": bool(doc.get("player_segments")),
        "schedule": schedule and {k: schedule.get(k) for k in ("timezone", "recurrence", "open_time", "close_time",
                                                               "open_weekday", "close_weekday", "start_at", "end_at")},
        # a mystery jackpot names no level: one unified ticker (gateway/mystery.py)
        "levels": [dict(PUBLIC_LEVEL)] if doc.get("type") == "MYSTERY" else [
            {"level_id": lv["level_id"], "name": lv["name"], "display_order": lv.get("display_order"),
             "icon": lv.get("icon"), "min_bet": lv.get("min_bet"), "range": _range(lv)} for lv in levels],
    }


class Directory:
    """jackpot_id -> public info; slug -> jackpot_id.  Fed by ``apply(key, value)``."""

    def __init__(self, smoothing_enabled: bool = True) -> None:
        self.smoothing_enabled = smoothing_enabled
        self.raw: dict[str, dict] = {}
        self.public: dict[str, dict] = {}
        self.by_slug: dict[str, str] = {}
        self.smoothing: dict[str, Smoothing] = {}
        self.level_names: dict[str, str] = {}
        self.mystery: dict[str, tuple[str, ...]] = {}  # mystery jackpot id -> its level ids
        self.scheduled: dict[str, object] = {}  # scheduled jackpot id -> compiled config (its windows)
        self.version = 0

    def apply(self, jackpot_id: str, doc: dict | None) -> bool:
        """Take a config record; False (and the last good one kept) for one the gateway cannot
        show: a malformed record on the configs topic must not kill the task that follows it
        (every gateway replica would crash on it, again after every restart)."""
        if doc is None:
            self.raw.pop(jackpot_id, None)
        else:
            try:
                self._check(doc)
            except Exception as exc:
                log.warning("ignoring a config the gateway cannot show", extra={
                    "jackpot_id": jackpot_id, "error": repr(exc)})
                return False
            self.raw[jackpot_id] = doc
        self._rebuild()
        return True

    def _check(self, doc: dict) -> None:
        """Raises on what ``_rebuild`` and ``listing`` would fail on."""
        if not isinstance(doc, dict):
            raise TypeError(f"a config is a JSON object, not {type(doc).__name__}")
        str(doc.get("created_at") or "")
        public_jackpot(doc, "check")
        Smoothing.from_config(doc.get("ticker"), self.smoothing_enabled)
        for lv in doc.get("levels") or []:
            str(lv["level_id"]), str(lv["name"])
        next_deadline(doc.get("schedule"), dt.datetime.now(dt.timezone.utc))

    def _rebuild(self) -> None:
        self.public.clear(); self.by_slug.clear(); self.smoothing.clear(); self.level_names.clear()
        self.mystery.clear()
        # Stable slugs: the first-created (by id order on ties) keeps the plain name.
        for jid, doc in sorted(self.raw.items(), key=lambda kv: (str(kv[1].get("created_at") or ""), kv[0])):
            if doc.get("status") in ("DRAFT", "ARCHIVED"):
                continue
            slug = base = slugify(doc.get("name", jid))
            n = 2
            while slug in self.by_slug:
                slug, n = f"{base}-{n}", n + 1
            self.by_slug[slug] = jid
            self.public[jid] = public_jackpot(doc, slug)
            self.smoothing[jid] = Smoothing.from_config(doc.get("ticker"), self.smoothing_enabled)
            for lv in doc.get("levels") or []:
                self.level_names[lv["level_id"]] = lv["name"]
            if doc.get("type") == "MYSTERY":
                self.mystery[jid] = tuple(str(lv["level_id"]) for lv in doc.get("levels") or [])
            if doc.get("schedule"):
                self._schedule(jid, doc)
        self.version += 1

    def _schedule(self, jid: str, doc: dict) -> None:
        """Keep the compiled config of a scheduled jackpot: the engine's own window rules say when
        it is open (engine/timing.py), so players see exactly what the engine applies."""
        from jackpot.engine.compiled import compile_jackpot
        from jackpot.engine.config import Jackpot

        fingerprint = json.dumps(doc, sort_keys=True, default=str)
        known = self.scheduled.get(jid)
        if known is not None and known[0] == fingerprint:
            return
        try:
            self.scheduled[jid] = (fingerprint, compile_jackpot(Jackpot.model_validate(doc)))
        except Exception as exc:  # shown without its window rather than not at all
            log.warning("scheduled jackpot's windows unknown", extra={"jackpot_id": jid, "error": repr(exc)})
            self.scheduled.pop(jid, None)

    def window(self, jid: str, now: dt.datetime) -> dict | None:
        """``{"open": bool, "until": epoch ms or None}`` of a scheduled jackpot, else None."""
        known = self.scheduled.get(jid)
        if known is None or jid not in self.public:
            return None
        from jackpot.engine.timing import schedule_window

        is_open, until = schedule_window(known[1], int(now.timestamp() * 1000))
        return {"open": is_open, "until": until}

    def resolve(self, ref: str) -> str:
        """A slug or a jackpot id -> the jackpot id (unknown refs are kept: configs may come later)."""
        return self.by_slug.get(ref, ref)

    def slug(self, jackpot_id: str) -> str | None:
        p = self.public.get(jackpot_id)
        return p and p["slug"]

    def smoothing_for(self, jackpot_id: str) -> Smoothing:
        s = self.smoothing.get(jackpot_id)
        if s is None:
            s = Smoothing(enabled=self.smoothing_enabled)
        return s

    def jackpots_for_brands(self, brands: set[str]) -> set[str]:
        return {jid for jid, p in self.public.items() if brands & set(p["brands"])}

    def listing(self, now: dt.datetime | None = None) -> list[dict]:
        now = now or dt.datetime.now(dt.timezone.utc)
        out = []
        for jid, p in self.public.items():
            out.append(dict(p, deadline=next_deadline(self.raw[jid].get("schedule"), now), window=self.window(jid, now)))
        return out
