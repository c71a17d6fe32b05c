"""The pipeline's contribution step hands the worker every event a bet causes."""

import datetime as dt
import uuid
from decimal import Decimal

from jackpot.engine.lifecycle import activate
from jackpot.engine.rng import master_seed_source
from jackpot.streams.pipeline import Pipeline


def _doc() -> dict:
    return {
        "jackpot_id": str(uuid.uuid4()), "name": "Edge", "internal_name": "edge", "type": "PERSISTENT",
        "status": "ACTIVE", "brands": ["b"], "currencies": ["EUR"], "games": [{"game_id": "g"}],
        "contribution_rate": "1", "house_cut": "0",
        "compliance_profile": {"jurisdiction_code": "MT", "allowed_distribution_modes": [1]},
        "drop_mode": "manual",
        "levels": [{"level_id": str(uuid.uuid4()), "name": "Solo", "display_order": 1, "contribution_split": "1",
                    "seed_from": "1", "seed_to": "1", "win_from": "10", "win_to": "10", "win_max": "10",
                    "warn_from": "0.5", "warn_to": "0.5", "max_contribution": "20"}],
    }


def _request(doc: dict, amount: str, n: int) -> dict:
    ts = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=n)
    return {"jackpot_id": doc["jackpot_id"], "bet_id": str(uuid.uuid4()), "player_id": "p1", "game_id": "g",
            "brand_id": "b", "currency": "EUR", "bet_amount": Decimal(amount), "bet_type": "real",
            "session_id": "s", "timestamp": ts, "bet_timestamp": ts, "source_partition": 0, "source_offset": n}


def _play(amounts: list[str]) -> list[str]:
    doc = _doc()
    p = Pipeline()
    cj = p.compile(doc)
    state = p.draft_state(cj)
    activate(cj, state, master_seed_source(b"k" * 32), actor="system", cause_id="a", now=0)
    kinds = []
    for n, amount in enumerate(amounts):
        req = _request(doc, amount, n)
        outcome = p.contribute(cj, state, req)
        kinds += [e.event_type for e in p.evaluate(cj, state, req, outcome, None).events]
    return kinds


def test_thresholds_a_bet_crosses_come_out_of_the_contribution_step():
    # seed 1, warn at 50% of the target 10, approaching at 90% of Win Max 10, at max at 10
    kinds = _play(["1", "3", "4", "5"])
    for kind in ("WarnThresholdReached", "PoolApproachingMax", "PoolAtMax", "WarnStateChanged"):
        assert kind in kinds, kinds
    assert kinds.count("WarnThresholdReached") == 1 and kinds.count("PoolAtMax") == 1


def test_a_rejected_contribution_raises_its_alert():
    kinds = _play(["25"])  # above the single-contribution bound of 20
    assert kinds == ["ContributionRejected"]


def test_the_engine_runs_on_the_received_time_and_keeps_the_providers_for_reporting():
    doc = _doc()
    p = Pipeline()
    cj = p.compile(doc)
    state = p.draft_state(cj)
    activate(cj, state, master_seed_source(b"k" * 32), actor="system", cause_id="a", now=0)
    received = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    claimed = received + dt.timedelta(hours=30)  # a provider clock (or a provider) 30 hours ahead
    req = _request(doc, "1", 0) | {"timestamp": received, "bet_timestamp": claimed}
    outcome = p.contribute(cj, state, req)
    assert outcome.timestamp == int(received.timestamp() * 1000)
    assert outcome.ledger["timestamp"] == received and outcome.ledger["bet_timestamp"] == claimed


def test_matches_are_cached_per_brand_currency_and_game_until_the_configs_change():
    from types import SimpleNamespace

    def jackpot(status, brands, currencies, games):
        return SimpleNamespace(config=SimpleNamespace(status=status), brands=brands, currencies=currencies,
                               games=games)

    view = SimpleNamespace(version=1, compiled={
        "a": jackpot("ACTIVE", {"b1"}, {"EUR"}, {"g1", "g2"}),
        "b": jackpot("PAUSED", {"b1", "b2"}, {"EUR", "USD"}, {"g1"}),
        "c": jackpot("ARCHIVED", {"b1"}, {"EUR"}, {"g1"})})
    p = Pipeline()
    bet = {"brand_id": "b1", "currency": "EUR", "game_id": "g1"}
    assert p.match(view, bet) == ("a", "b")
    assert p.match(view, {**bet, "game_id": "g2"}) == ("a",)
    assert p.match(view, {**bet, "currency": "GBP"}) == ()
    view.compiled["a"].config.status = "ARCHIVED"
    assert p.match(view, bet) == ("a", "b")  # the cache holds until the view says it changed
    view.version += 1
    assert p.match(view, bet) == ("b",)
