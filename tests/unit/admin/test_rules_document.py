"""The public rules document states funding, seeds and ceilings, RTP share, ineligibility and the
simultaneous-trigger rule, from the configuration itself, in each configured language."""

import json
import uuid

from jackpot.engine.catalog import instantiate
from jackpot.gateway.admin.rules_document import build, languages


def config() -> dict:
    jp = instantiate("classic_progressive", name="Crown", jackpot_id=str(uuid.UUID(int=9)), brands=["b1"])
    return json.loads(jp.model_dump_json())


PRESENTATION = {"default_language": "en", "content": {"en": {"title": "Crown Fortune", "rules": "Have fun."},
                                                      "ro": {"title": "Coroana"}}}


def test_english_document_has_every_required_section_with_numbers():
    doc = build(config(), PRESENTATION, "en")
    sections = {s["key"]: s["body"] for s in doc["sections"]}
    assert set(sections) >= {"funding", "seeds", "rtp", "eligibility", "simultaneous"}
    assert "1.5%" in sections["funding"] and "Grand 40%" in sections["funding"]
    assert "1.35%" in sections["rtp"]  # 1.5% x (1 - 10% house cut)
    assert "Grand (EUR): starts between 5000 and 8000; always drops by 60000." in sections["seeds"]
    assert "at least 0.50 EUR" in sections["eligibility"]
    assert "first in the jackpot's order of events wins" in sections["simultaneous"]
    assert sections["operator_rules"] == "Have fun."
    assert doc["title"] == "Crown Fortune"


def test_each_configured_language_and_no_secrets():
    assert languages(PRESENTATION) == ["en", "ro"]
    ro = build(config(), PRESENTATION, "ro")
    assert ro["title"] == "Coroana" and "primul" in {s["key"]: s["body"] for s in ro["sections"]}["simultaneous"]
    text = json.dumps(build(config(), PRESENTATION, "en"))
    assert "win_target" not in text and "warn" not in text.lower()


def test_games_selection_and_schedule_are_disclosed():
    """Regulatory item 18: contribution-only games, per-game coefficients and the Mode 2/3
    weighting are in the rules; a scheduled jackpot says when bets count."""
    jp = instantiate("happy_hour_blitz", name="Lucky", jackpot_id=str(uuid.UUID(int=7)), brands=["b1"],
                     games=[{"game_id": "starburst", "coefficient": "1.2"},
                            {"game_id": "roulette", "coefficient": "0.1", "trigger_eligible": False},
                            {"game_id": "blackjack", "coefficient": "0"}])
    sections = {s["key"]: s["body"] for s in build(json.loads(jp.model_dump_json()), PRESENTATION, "en")["sections"]}
    assert "starburst ×1.2" in sections["games"] and "roulette ×0.1" in sections["games"]
    assert "blackjack take part but do not contribute" in sections["games"]
    assert "Bets on roulette contribute but cannot win" in sections["games"]
    assert sections["selection"].startswith("When the jackpot triggers, the winner is drawn at random")
    assert "bet size (30%)" in sections["selection"] and "most recent bet (5%)" in sections["selection"]
    assert sections["schedule"] == "Bets count only between 20:00 and 22:00 (UTC) each day."
    mode3 = {**json.loads(jp.model_dump_json()), "distribution_mode": 3,
             "operator_rules": {"custom_weights": {"ltv": "0.5"}, "star_boost": "2"}}
    body = {s["key"]: s["body"] for s in build(mode3, PRESENTATION, "ro")["sections"]}["selection"]
    assert "ponderi după ltv" in body and "de 2 ori" in body
    crown = {s["key"]: s["body"] for s in build(config(), PRESENTATION, "en")["sections"]}
    assert "schedule" not in crown
