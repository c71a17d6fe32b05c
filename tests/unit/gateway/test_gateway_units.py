"""Gateway building blocks without I/O: smoothing, outbox, subscriptions, directory, masking."""

from __future__ import annotations

import datetime as dt
import gzip
import random
from decimal import Decimal
from pathlib import Path

import pytest

from jackpot.gateway.directory import Directory, next_deadline, slugify
from jackpot.gateway.outbox import Outbox, Overflow
from jackpot.gateway.smoothing import OFF, Smoothing
from jackpot.gateway.subscription import Subscription
from jackpot.sinks.live import mask_player, public_pool_view, public_win_view, warn_changes_from_event

STATIC = Path(__file__).resolve().parents[3] / "gateway" / "static"


def test_rounding_is_down_to_the_configured_step():
    s = Smoothing(round_to=Decimal("0.01"))
    assert s.display("1000.032400") == "1000.03"
    assert s.display("1000.039999") == "1000.03"  # never shows money the pool does not hold
    assert Smoothing(round_to=Decimal("1")).display("31999.99") == "31999"
    assert Smoothing(round_to=Decimal("5")).display("31999.99") == "31995"
    assert OFF.display("1000.032400") == "1000.032400"


def test_lag_is_drawn_in_the_configured_range():
    s = Smoothing.from_config({"lag_min_ms": 200, "lag_max_ms": 800, "round_to": "0.01"})
    rng = random.Random(7)
    lags = [s.lag_s(rng) for _ in range(2000)]
    assert 0.2 <= min(lags) < 0.25 and 0.75 < max(lags) <= 0.8
    assert OFF.lag_s(rng) == 0.0


def test_outbox_coalesces_to_the_newest_due_value_per_ticker():
    box = Outbox()
    k = ("j", "l", "EUR")
    box.offer_ticker(k, 1, b"v1", due=1.0)
    box.offer_ticker(k, 2, b"v2", due=1.5)
    box.offer_ticker(k, 3, b"v3", due=3.0)
    assert box.take(0.5) == ([], 1.0)
    frames, nxt = box.take(2.0)  # v1 and v2 are due: only v2 goes out
    assert frames == [b"v2"] and nxt == 3.0
    box.offer_ticker(k, 2, b"old", due=0)  # older than what was sent: never sent
    assert box.take(5.0) == ([b"v3"], None)


def test_outbox_every_value_waits_its_own_lag():
    box = Outbox()
    k = ("j", "l", "EUR")
    box.offer_ticker(k, 1, b"v1", due=1.0)
    box.offer_ticker(k, 2, b"v2", due=10.0)  # arrived later, must not ride on v1's due time
    assert box.take(1.0)[0] == [b"v1"]
    assert box.take(9.9)[0] == []
    assert box.take(10.0)[0] == [b"v2"]


def test_outbox_bounds_pending_values_and_events():
    box = Outbox(max_events=3, per_ticker=4)
    k = ("j", "l", "EUR")
    for seq in range(100):
        box.offer_ticker(k, seq, b"x%d" % seq, due=100.0)
    assert len(box) == 4
    assert box.take(100.0)[0] == [b"x99"]
    for _ in range(3):
        box.offer_event(b"e")
    with pytest.raises(Overflow):
        box.offer_event(b"e")


def test_events_go_first_and_in_order():
    box = Outbox()
    box.offer_ticker(("j", "l", "EUR"), 1, b"p", due=0)
    box.offer_event(b"a")
    box.offer_event(b"b")
    assert box.take(1.0)[0] == [b"a", b"b", b"p"]


def _directory() -> Directory:
    d = Directory()
    for jid, name, brand in (("id-1", "Crown Fortune", "b1"), ("id-2", "Daily Blitz", "b2"), ("id-3", "Crown  Fortune!", "b1")):
        d.apply(jid, {"jackpot_id": jid, "name": name, "status": "ACTIVE", "type": "PERSISTENT", "brands": [brand],
                      "currencies": ["EUR"], "levels": [{"level_id": f"{jid}-g", "name": "Grand", "display_order": 1,
                                                          "seed_from": "1", "win_from": "5", "win_to": "9",
                                                          "range_display": {"min_display": "nothing", "max_display": "win_to"}}],
                      "contribution_rate": "0.015", "ticker": {"lag_min_ms": 100, "lag_max_ms": 300, "round_to": "1"}})
    return d


def test_directory_slugs_and_public_fields():
    d = _directory()
    assert slugify("Crown Fortune") == "crown-fortune" and slugify("Ünïcode Jäckpot") == "unicode-jackpot"
    assert d.resolve("crown-fortune") == "id-1" and d.resolve("crown-fortune-2") == "id-3"
    assert d.resolve("id-2") == "id-2"
    pub = d.public["id-1"]
    assert "contribution_rate" not in pub and pub["levels"][0]["range"] == {"min": None, "max": "9"}
    assert "win_from" not in pub["levels"][0]
    assert d.smoothing_for("id-1").lag_max_ms == 300
    d.apply("id-2", None)
    assert "daily-blitz" not in d.by_slug


def test_subscription_filters_by_jackpot_level_brand_and_currency():
    d = _directory()
    sub = Subscription.parse({"jackpots": "crown-fortune", "levels": ["grand"], "currencies": "eur"},
                             d.resolve, d.jackpots_for_brands)
    assert sub.wants("id-1", "id-1-g", "EUR", "Grand")
    assert not sub.wants("id-2", "id-2-g", "EUR", "Grand")
    assert not sub.wants("id-1", "x", "EUR", "Mini")
    assert not sub.wants("id-1", "id-1-g", "USD", "Grand")
    by_brand = Subscription.parse({"brands": "b1"}, d.resolve, d.jackpots_for_brands)
    assert by_brand.jackpots == {"id-1", "id-3"}
    assert Subscription.parse({}, d.resolve, d.jackpots_for_brands).wants("anything", "l", "XXX")


def test_countdowns_for_daily_and_weekly_windows():
    now = dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.timezone.utc)  # a Friday
    daily = {"timezone": "UTC", "recurrence": "daily", "close_time": "22:00:00"}
    assert next_deadline(daily, now) == int(dt.datetime(2026, 11, 20, 22, tzinfo=dt.timezone.utc).timestamp() * 1000)
    weekly = {"timezone": "UTC", "recurrence": "weekly", "close_time": "23:59:00", "close_weekday": 6}
    assert next_deadline(weekly, now) == int(dt.datetime(2026, 11, 22, 23, 59, tzinfo=dt.timezone.utc).timestamp() * 1000)
    assert next_deadline(None, now) is None


def test_public_views_never_carry_internal_amounts_or_player_ids():
    ts = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    pool = public_pool_view({"jackpot_id": "j", "level_id": "l", "currency": "EUR", "visible_amount": Decimal("1"),
                             "current_amount": Decimal("2"), "state": "normal", "sequence": 3, "timestamp": ts})
    assert "current_amount" not in pool
    win = public_win_view({"event_id": "e", "jackpot_id": "j", "level_id": "l", "currency": "EUR",
                           "win_amount": Decimal("3200"), "winner_player_id": "Desperado", "winner_game_id": "g",
                           "winner_brand_id": "b", "cycle_number": 1, "timestamp": ts,
                           "chain_reaction_winners": [{"rank": 1, "player_id": "player-42", "brand_id": "b",
                                                       "amount": Decimal("500")}]})
    assert win["winner"] == "De***do" and "Desperado" not in str(win) and "player-42" not in str(win)
    assert mask_player("abc") == "a***"
    warn = warn_changes_from_event("WarnThresholdReached", {"jackpot_id": "j", "level_id": "l", "currency": "EUR",
                                                           "current_amount": Decimal("9"), "cycle_number": 2})
    assert warn == [{"jackpot_id": "j", "level_id": "l", "currency": "EUR", "warn_state": "heating", "cycle_number": 2}]


def test_widget_bundle_is_under_50_kb_gzipped():
    """Spec: widget JavaScript under 50 KB gzipped (each widget type ships in this one bundle)."""
    size = len(gzip.compress((STATIC / "widget.js").read_bytes(), 9))
    print(f"widget.js: {size} bytes gzipped")
    assert size < 50 * 1024


def test_a_scheduled_jackpot_shows_whether_its_window_is_open_as_the_engine_applies_it():
    """Issue 21 gap 1: Lucky Hour (20:00-22:00 UTC) is shown closed at 09:00, opening at 20:00,
    and open at 20:30 until 22:00: the engine's own window rules, not a copy of them."""
    import json

    from jackpot.engine.catalog import day_one_jackpot

    doc = json.loads(day_one_jackpot("Lucky Hour").model_dump_json())
    doc["status"] = "ACTIVE"
    d = Directory()
    assert d.apply(doc["jackpot_id"], doc)
    day = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)
    ms = lambda t: int(t.timestamp() * 1000)  # noqa: E731
    assert d.window(doc["jackpot_id"], day.replace(hour=9)) == {"open": False, "until": ms(day.replace(hour=20))}
    assert d.window(doc["jackpot_id"], day.replace(hour=20, minute=30)) == {"open": True, "until": ms(day.replace(hour=22))}
    [listed] = [j for j in d.listing(day.replace(hour=9)) if j["jackpot_id"] == doc["jackpot_id"]]
    assert listed["window"]["open"] is False
    assert all(j["window"] is None for j in _directory().listing())  # no schedule: always open, nothing to show


class _Conn:
    def __init__(self, jackpots: frozenset[str] = frozenset()) -> None:
        from jackpot.gateway.subscription import Subscription

        self.frames: list = []
        self.sub = Subscription(jackpots=jackpots)

    def offer_event(self, frame) -> None:
        self.frames.append(frame)

    def offer_ticker(self, key, sequence, frame, lag_s) -> bool:
        self.frames.append(frame)
        return False

    def flush(self) -> None:
        pass


def test_campaign_surfaces_go_to_the_connections_following_the_jackpot_once_per_action():
    import json

    from jackpot.gateway.ticker import Hub

    hub = Hub(_directory())
    page, widget, other = _Conn(), _Conn(frozenset({"id-1"})), _Conn(frozenset({"id-2"}))
    hub.conns = {page, widget, other}
    hub.wildcard = {page}
    hub.by_jackpot["id-1"] = {widget}
    hub.by_jackpot["id-2"] = {other}
    banner = {"action_id": "a1", "channel": "lobby_banner", "template": "Grand is On Fire", "jackpot_id": "id-1"}
    hub.on_campaign(banner)
    hub.on_campaign(banner)  # replayed by a restarted campaigns process: shown once
    hub.on_campaign({**banner, "action_id": "a2", "channel": "in_game_overlay"})
    hub.on_campaign({**banner, "action_id": "a3", "channel": "push"})  # never a player's notification
    hub.on_campaign({**banner, "action_id": "a4", "jackpot_id": "a-draft"})  # not public: not shown
    assert [json.loads(f.body)["campaign"]["action_id"] for f in page.frames] == ["a1", "a2"]
    assert [json.loads(f.body)["campaign"]["channel"] for f in widget.frames] == ["lobby_banner", "in_game_overlay"]
    assert other.frames == []  # a widget of another jackpot (or brand) gets nothing


def test_only_public_jackpots_reach_the_public_in_snapshots_frames_and_stats():
    import json

    from jackpot.gateway.ticker import Hub

    hub = Hub(_directory())
    page = _Conn()
    hub.conns, hub.wildcard = {page}, {page}
    for jid in ("id-1", "a-draft"):  # Redis and the topics carry every jackpot's values
        hub.on_pool({"jackpot_id": jid, "level_id": f"{jid}-g", "currency": "EUR", "visible_amount": "7",
                     "state": "ACTIVE", "sequence": 1, "timestamp": 1})
        hub.on_state({"jackpot_id": jid, "level_id": None, "state": "ACTIVE", "timestamp": 1})
    hub.players = {"id-1": 3, "a-draft": 9}
    hub.fanout()
    snap = hub.snapshot(Subscription())
    assert {p["jackpot_id"] for p in snap["pools"]} == {"id-1"}
    assert {s["jackpot_id"] for s in snap["states"]} == {"id-1"}
    assert snap["stats"]["players"] == {"id-1": 3} and snap["stats"]["players_chasing"] == 3
    sent = [json.loads(f.body) for f in page.frames]
    assert sent and all("a-draft" not in json.dumps(m) for m in sent)
    # subscribing to a draft by id gets nothing of it either
    assert hub.snapshot(Subscription(jackpots=frozenset({"a-draft"})))["pools"] == []


def test_a_subscription_is_strings_within_limits_and_a_brand_matching_nothing_is_nothing():
    from jackpot.gateway.subscription import NONE, BadSubscription

    d = _directory()
    for bad in ({"jackpots": 5}, {"brands": True}, {"levels": 1.5}, {"jackpots": [{"x": 1}]},
                {"jackpots": [f"j{i}" for i in range(101)]}, {"currencies": "x" * 101}):
        with pytest.raises(BadSubscription):
            Subscription.parse(bad, d.resolve, d.jackpots_for_brands)
    with pytest.raises(BadSubscription):
        Subscription.parse(["not", "an", "object"], d.resolve, d.jackpots_for_brands)
    # brand b1 and a jackpot of brand b2: no jackpot, never every jackpot
    none = Subscription.parse({"brands": "b1", "jackpots": "id-2"}, d.resolve, d.jackpots_for_brands)
    assert none.jackpots == {NONE} and not none.wants("id-1") and not none.wants("id-2")
    assert Subscription.parse({"brands": "no-such-brand"}, d.resolve, d.jackpots_for_brands).jackpots == {NONE}


def test_the_per_address_limit_counts_an_ipv6_client_by_its_64():
    from jackpot.gateway.connection import address_bucket

    assert address_bucket("2001:db8::1") == address_bucket("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_bucket("2001:db8:0:1::1") != address_bucket("2001:db8::1")
    assert address_bucket("::ffff:10.0.0.7") == "10.0.0.7" and address_bucket("10.0.0.7") == "10.0.0.7"
    assert address_bucket("?") == "?"
