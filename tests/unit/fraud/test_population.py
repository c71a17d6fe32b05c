"""The labelled population through every detector: each injected fraudster is caught for its own
pattern and no honest player of the fixed seed is flagged (the recall and false-alert figures)."""

from __future__ import annotations

from collections import defaultdict

from jackpot.fraud.alerts import Pattern
from jackpot.fraud.engine import FraudEngine
from jackpot.fraud.population import Population
from jackpot.fraud.signals import BetSeen, SessionSeen


def detect(pop: Population) -> dict[str, set[Pattern]]:
    engine, flagged = FraudEngine(), defaultdict(set)
    for _, _, signal in pop.events():
        if isinstance(signal, SessionSeen):
            alerts = engine.on_session(signal)
        elif isinstance(signal, BetSeen):
            alerts = engine.on_bet(signal)
        else:
            alerts = engine.on_win(signal)
        for alert in alerts:
            for player in alert.player_ids:
                flagged[player].add(alert.pattern)
    return flagged


def test_every_injected_fraudster_is_caught_and_no_honest_player_is_flagged():
    pop = Population(seed=11, honest=100, per_pattern=6, duration_ms=2 * 3_600_000)
    flagged = detect(pop)
    by_pattern = defaultdict(list)
    for player, label in pop.labels.items():
        by_pattern[label].append(player)
    assert set(by_pattern) == {None, *Pattern}
    for pattern in Pattern:
        missed = [p for p in by_pattern[pattern] if pattern not in flagged[p]]
        assert not missed, f"{pattern.value}: {missed} not flagged"
    assert [p for p in by_pattern[None] if flagged[p]] == []


def test_the_population_is_fixed_by_its_seed_and_honest_play_looks_human():
    a, b = Population(seed=3, honest=20, per_pattern=3), Population(seed=3, honest=20, per_pattern=3)
    assert a.events() == b.events() and a.labels == b.labels
    assert Population(seed=4, honest=20, per_pattern=3).events() != a.events()
    bets = [s for _, _, s in a.events() if isinstance(s, BetSeen) and a.labels[s.player_id] is None]
    assert bets and min(s.amount_micros for s in bets) == min(s.min_bet_micros for s in bets)
    assert any(s.near_trigger for s in bets) and not all(s.near_trigger for s in bets)
