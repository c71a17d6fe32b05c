"""Wizard steps assemble into the engine's config; review lists the checklist and every engine rule."""

import json
import uuid

from jackpot.engine.catalog import instantiate
from jackpot.engine.config import Jackpot
from jackpot.gateway.admin.wizard import (
    GamesStep,
    IdentityStep,
    LevelsStep,
    Step,
    assemble,
    level_id_for,
    normalise_step,
    review,
    steps_from_config,
)

JID = str(uuid.uuid4())


def steps(split: str = "1") -> dict:
    identity = IdentityStep(name="Night Fortune", type="PERSISTENT", brands=["b1"], currencies=["EUR"])
    levels = LevelsStep.model_validate({"contribution_rate": "0.015", "levels": [{
        "name": "Grand", "display_order": 1, "contribution_split": split, "seed_from": "1000", "seed_to": "1000",
        "win_from": "5000", "win_to": "6000", "win_max": "10000"}]})
    games = GamesStep.model_validate({"games": [{"game_id": "starburst"}]})
    return {s.value: normalise_step(JID, s, m) for s, m in
            ((Step.IDENTITY, identity), (Step.LEVELS, levels), (Step.GAMES, games))}


def test_complete_steps_review_ready_and_validate_as_engine_config():
    result, jackpot = review(JID, steps())
    assert result.ready and result.problems == [] and all(result.checklist.values())
    assert isinstance(jackpot, Jackpot)
    assert str(jackpot.levels[0].level_id) == level_id_for(JID, "Grand")
    assert jackpot.internal_name == "night-fortune"
    assert jackpot.compliance_profile.jurisdiction_code == "CW"


def test_missing_steps_and_broken_rules_are_listed():
    s = steps()
    del s["games"]
    result, jackpot = review(JID, s)
    assert not result.ready and jackpot is None and result.missing_steps == ["games"]
    assert not result.checklist["at_least_one_game"]
    result, _ = review(JID, steps(split="0.5"))
    assert not result.checklist["splits_sum_to_100_percent"]
    assert any("sum to exactly 100%" in p for p in result.problems)


def test_floats_never_reach_the_engine():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        LevelsStep.model_validate({"contribution_rate": 0.015, "levels": []})


def test_template_round_trips_through_the_steps():
    jp = instantiate("classic_progressive", name="Crown", jackpot_id=JID, brands=["b1"])
    doc = json.loads(jp.model_dump_json())
    s = steps_from_config(doc)
    assert set(s) == {"identity", "levels", "games", "eligibility", "trigger"}
    again = Jackpot.model_validate(assemble(JID, s, status=doc["status"]))
    assert again == jp  # sets compare as sets (their JSON order may differ)
