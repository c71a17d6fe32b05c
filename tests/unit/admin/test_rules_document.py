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
    assert ro["title"] == "Coroana" and "primul" in ro["sections"][4]["body"]
    text = json.dumps(build(config(), PRESENTATION, "en"))
    assert "win_target" not in text and "warn" not in text.lower()
