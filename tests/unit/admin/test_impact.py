"""Change-impact warnings of the Configuration Panel and regulatory item 7."""

import json
import uuid
from decimal import Decimal

from jackpot.engine.catalog import ROMANIA_ONJN, instantiate
from jackpot.gateway.admin import impact


def config(**over) -> dict:
    jp = instantiate("classic_progressive", name="Crown", jackpot_id=str(uuid.UUID(int=7)), brands=["b1"])
    doc = json.loads(jp.model_dump_json())
    doc.update(over)
    return doc


def test_no_change_no_warning():
    old = config()
    assert impact.warnings(old, config(), current_amounts={}, active_players=0) == []
    assert impact.math_changes(old, config()) == []


def test_win_from_below_the_current_pool_warns():
    old, new = config(), config()
    grand = new["levels"][0]
    grand["win_from"] = "20000"
    amounts = {(grand["level_id"], "EUR"): Decimal("25000")}
    codes = [w.code for w in impact.warnings(old, new, current_amounts=amounts, active_players=3)]
    assert "win_from_below_pool" in codes
    assert impact.math_changes(old, new) == ["level Grand: win_from"]


def test_splits_games_and_eligibility_warn():
    old, new = config(), config()
    new["levels"][0]["contribution_split"], new["levels"][1]["contribution_split"] = "0.45", "0.20"
    new["games"] = new["games"][1:]
    new["levels"][0]["min_bet"] = "1"
    codes = {w.code for w in impact.warnings(old, new, current_amounts={}, active_players=12)}
    assert codes == {"splits_changed_mid_cycle", "games_removed_while_active", "eligibility_changed"}


def test_compliance_profile_decides_on_immediate_math_changes():
    assert impact.immediate_math_allowed(config()["compliance_profile"])
    assert not impact.immediate_math_allowed(json.loads(ROMANIA_ONJN.model_dump_json()))


def test_removed_levels_and_currencies_are_named_for_the_next_cycle_refusal():
    old = config(currencies=["EUR", "USD"])
    new = config(currencies=["EUR"])
    new["levels"] = new["levels"][:-1]
    assert impact.removals(old, new) == [f"level {old['levels'][-1]['name']}", "currency USD"]
    assert impact.removals(old, old) == []
