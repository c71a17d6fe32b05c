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
        return SimpleNamespace(config=SimpleNamespace(status=status), brands=brands, currencies=currencies, network_rates={},
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


def test_a_network_jackpot_pools_other_currencies_at_its_explicit_rate():
    """Spec Multi-Currency: no cross-currency pooling unless configured for a network jackpot; then
    each bet is converted exactly (rounded down to the micro) and the rate is in its ledger row."""
    import pytest

    from jackpot.engine.config import Jackpot

    doc = _doc() | {"network": {"rates": {"GBP": "1.17", "USD": "0.923456789012"}}}
    doc["levels"][0].update(win_from="1000", win_to="1000", win_max="1000", max_contribution="1000")
    p = Pipeline()
    cj = p.compile(doc)
    state = p.draft_state(cj)
    activate(cj, state, master_seed_source(b"k" * 32), actor="system", cause_id="a", now=0)
    pool = state.pools["EUR"][doc["levels"][0]["level_id"]]
    assert set(state.pools) == {"EUR"}  # one pool: the network's currency
    out = p.contribute(cj, state, _request(doc, "10.00", 1) | {"currency": "GBP"})
    assert out.result.applied and pool.visible == 1_000_000 + 11_700_000  # seed 1 + 10 GBP x 1.17 (rate 1)
    assert (out.ledger["currency"], out.ledger["bet_amount"], out.ledger["bet_currency"],
            out.ledger["original_bet_amount"], out.ledger["fx_rate"]) == ("EUR", 11_700_000, "GBP", 10_000_000, "1.17")
    out = p.contribute(cj, state, _request(doc, "0.000001", 2) | {"currency": "USD"})
    assert not out.result.applied and out.ledger is None  # 0.92 of a micro rounds down to nothing
    out = p.contribute(cj, state, _request(doc, "3.000001", 3) | {"currency": "USD"})
    assert out.ledger["bet_amount"] == 2_770_371  # 3.000001 x 0.923456789012 = 2.770371290... down to the micro
    eur = p.contribute(cj, state, _request(doc, "1", 4))
    assert eur.ledger["bet_currency"] is None and eur.ledger["fx_rate"] is None
    chf = p.contribute(cj, state, _request(doc, "1", 5) | {"currency": "CHF"})
    assert not chf.result.applied and chf.result.reason == "currency_not_supported"
    assert list(p._match(SimpleNamespaceView(cj), "b", "GBP", "g")) == [cj.jackpot_id]
    assert list(p._match(SimpleNamespaceView(cj), "b", "CHF", "g")) == []
    bad = dict(doc, currencies=["EUR", "GBP"])
    with pytest.raises(ValueError, match="GBP is the pool currency; it needs no rate"):
        Jackpot.model_validate(bad)


class SimpleNamespaceView:
    def __init__(self, cj) -> None:
        self.compiled = {cj.jackpot_id: cj}
