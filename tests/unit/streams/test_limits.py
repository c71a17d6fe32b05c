"""The router refuses bets and player records that decode but cannot be stored: a NUL in an id
made PostgreSQL refuse the ledger row, which the sink then retried forever."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from jackpot.streams import limits
from jackpot.streams.limits import RejectedRecord, check_player_record
from jackpot.streams.pipeline import Pipeline, RejectedBet

MIGRATIONS = Path(__file__).resolve().parents[3] / "sinks" / "migrations"


def bet(**changes) -> dict:
    return {"event_id": uuid.uuid4(), "timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "player_id": "p-1", "game_id": "g-1", "brand_id": "b-1", "currency": "EUR",
            "bet_amount": Decimal("2.500000"), "bet_type": "real", "session_id": "s-1"} | changes


def refused(record: dict) -> str:
    with pytest.raises(RejectedBet) as err:
        Pipeline.validate_bet(record)
    return str(err.value)


def test_a_real_bet_passes():
    Pipeline.validate_bet(bet())
    Pipeline.validate_bet(bet(player_id="p" * 128, bet_amount=Decimal("99999999999999.999999")))


@pytest.mark.parametrize("field", ["player_id", "game_id", "brand_id", "session_id"])
def test_a_nul_in_an_id_is_refused_with_its_name(field):
    assert refused(bet(**{field: "ab\x00c"})) == f"{field}: contains a control character (NUL at position 2)"


@pytest.mark.parametrize("char, name", [("\x1b", "ESC"), ("\n", "LF"), ("\x7f", "DEL"), ("\x85", "U+0085"),
                                        ("\x9f", "U+009F")])
def test_other_control_characters_are_refused(char, name):
    assert f"({name} at position 1)" in refused(bet(player_id=f"p{char}"))


def test_ids_longer_than_the_limit_are_refused():
    assert refused(bet(game_id="g" * 129)) == "game_id: 129 characters, more than the limit of 128"
    assert "event_id" in refused(bet(event_id="e" * 200))  # a str event id (never from the decoder)
    assert "bet_type" in refused(bet(bet_type="real\x00"))


def test_the_limit_is_the_setting(monkeypatch):
    monkeypatch.setattr(limits, "max_id_chars", lambda: 40)
    assert "more than the limit of 40" in refused(bet(player_id="p" * 41))


def test_unicode_ids_are_fine():
    Pipeline.validate_bet(bet(player_id="joueur-é-ü-日本", brand_id="marque\u00a0x"))


def test_amounts_beyond_the_ledger_column_are_refused():
    assert refused(bet(bet_amount=Decimal("100000000000000"))).startswith(
        "bet_amount: 100000000000000 has more than 14 integer digits (the ledger's numeric(20,6))")
    assert refused(bet(bet_amount=Decimal("0"))) == "bet_amount: must be positive, got 0"
    assert "decimal places" in refused(bet(bet_amount=Decimal("1.0000001")))
    assert "finite" in refused(bet(bet_amount=Decimal("NaN")))


def test_the_amount_limit_is_the_ledger_columns():
    sql = (MIGRATIONS / "0001_ledger.sql").read_text()
    types = set(re.findall(r"\bbet_amount\s+numeric\((\d+),(\d+)\)", sql, re.I))
    assert types == {(str(limits.LEDGER_PRECISION), str(limits.LEDGER_SCALE))}


def test_currency_and_empty_ids_are_still_refused():
    assert refused(bet(currency="eu")) == "currency: 'eu' is not an ISO 4217 code"
    assert refused(bet(brand_id="")) == "brand_id: must not be empty"


# ------------------------------------------------------------------- players
def profile(**changes) -> dict:
    return {"event_id": uuid.uuid4(), "player_id": "p-1", "brand_id": "b-1", "segments": ["vip", "new"],
            "vip_tier": "gold", "loyalty_tier": 2, "kyc_verified": True, "jurisdiction": "MT",
            "excluded": False, "self_excluded": False} | changes


def session(**changes) -> dict:
    return {"event_id": uuid.uuid4(), "player_id": "p-1", "brand_id": "b-1", "session_id": "s-1"} | changes


def test_player_records_pass_and_are_checked_like_bets():
    check_player_record("PlayerProfile", profile())
    check_player_record("PlayerProfile", profile(vip_tier=None, jurisdiction=None, segments=[]))
    check_player_record("PlayerSessionStart", session())
    with pytest.raises(RejectedRecord, match=r"^PlayerSessionEnd\.session_id: contains a control character \(NUL"):
        check_player_record("PlayerSessionEnd", session(session_id="\x00"))
    with pytest.raises(RejectedRecord, match=r"^PlayerProfile\.player_id: 300 characters"):
        check_player_record("PlayerProfile", profile(player_id="p" * 300))
    with pytest.raises(RejectedRecord, match=r"^PlayerProfile\.segments\[1\]: contains a control character \(ESC"):
        check_player_record("PlayerProfile", profile(segments=["ok", "\x1b[31m"]))
    with pytest.raises(RejectedRecord, match=r"^PlayerSessionStart\.player_id: must not be empty"):
        check_player_record("PlayerSessionStart", session(player_id=""))


def test_a_rejected_player_record_is_a_rejected_bet_for_the_router():
    assert issubclass(RejectedRecord, RejectedBet)
    with pytest.raises(RejectedRecord, match="not a player record"):
        check_player_record("BetPlaced", bet())
