"""What the router refuses in a decoded bet or player record, before anything stores it.

Providers' text ends up in PostgreSQL ``text`` columns, the players table and every event a bet
causes: PostgreSQL refuses NUL in text (the ledger sink then retried such a row forever), control
characters garble logs and reports, and an unbounded id bloats state. Amounts must fit the
ledger's ``numeric(20,6)`` columns (sinks/migrations/0001_ledger.sql). The message size is
bounded earlier, in the codec (``JACKPOT_MAX_INPUT_BYTES``), before decoding.

Both checks raise :class:`~jackpot.streams.pipeline.RejectedBet` (player records: its subclass
:class:`RejectedRecord`), which the router dead-letters with the reason.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from jackpot.engine.money import to_micros
from jackpot.settings import get_settings
from jackpot.streams.pipeline import CURRENCY_RE, RejectedBet

# The ledger's money columns: numeric(20,6), so at most 14 integer digits.
LEDGER_PRECISION, LEDGER_SCALE = 20, 6
MAX_AMOUNT = Decimal(10) ** (LEDGER_PRECISION - LEDGER_SCALE)

BET_TEXT = ("event_id", "player_id", "game_id", "brand_id", "session_id", "bet_type")
BET_REQUIRED = ("player_id", "game_id", "brand_id")
PLAYER_TEXT = {
    "PlayerProfile": ("event_id", "player_id", "brand_id", "vip_tier", "jurisdiction"),
    "PlayerSessionStart": ("event_id", "player_id", "brand_id", "session_id"),
    "PlayerSessionEnd": ("event_id", "player_id", "brand_id", "session_id"),
}

# C0 controls, DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_C0 = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI "
       "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US").split()


class RejectedRecord(RejectedBet):
    """A player profile or session record that decodes but cannot be kept (the router
    dead-letters it like a rejected bet)."""


def max_id_chars() -> int:
    """``JACKPOT_MAX_ID_CHARS`` (default 128)."""
    return get_settings().max_id_chars


def _control_name(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x20:
        return _C0[cp]
    return "DEL" if cp == 0x7F else f"U+{cp:04X}"


def text_problem(value: Any, limit: int) -> str | None:
    """Why ``value`` cannot be an id or label (None when it can); non-text values pass
    (a UUID or enum the decoder already checked)."""
    if not isinstance(value, str):
        return None
    if len(value) > limit:
        return f"{len(value)} characters, more than the limit of {limit}"
    bad = _CONTROL.search(value)
    if bad:
        return f"contains a control character ({_control_name(bad.group())} at position {bad.start()})"
    return None


def amount_problem(amount: Any) -> str | None:
    """Why ``amount`` cannot be a stake: not positive, beyond the ledger's column, finer than a micro."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return f"must be a finite decimal, got {amount!r}"
    if amount <= 0:
        return f"must be positive, got {amount}"
    if amount >= MAX_AMOUNT:
        return (f"{amount} has more than {LEDGER_PRECISION - LEDGER_SCALE} integer digits "
                f"(the ledger's numeric({LEDGER_PRECISION},{LEDGER_SCALE}))")
    try:
        to_micros(amount)
    except ValueError as exc:
        return str(exc)
    return None


def check_bet(bet: dict, limit: int | None = None) -> None:
    """Raise :class:`RejectedBet` naming the field when ``bet`` (a decoded BetPlaced) cannot be real."""
    problem = amount_problem(bet["bet_amount"])
    if problem:
        raise RejectedBet(f"bet_amount: {problem}")
    if not CURRENCY_RE.match(bet["currency"]):
        raise RejectedBet(f"currency: {bet['currency']!r} is not an ISO 4217 code")
    for field in BET_REQUIRED:
        if not bet[field]:
            raise RejectedBet(f"{field}: must not be empty")
    _check_texts(((f, bet.get(f)) for f in BET_TEXT), limit, RejectedBet, "")


MAX_ATTRIBUTES = 32  # Mode 3 custom attributes a profile may carry (each is kept with every bet of the player)


def check_player_record(name: str, rec: dict, limit: int | None = None) -> None:
    """Raise :class:`RejectedRecord` naming the field when a decoded PlayerProfile,
    PlayerSessionStart or PlayerSessionEnd cannot be kept (empty player id, an id too long or
    with control characters, the same for each profile segment)."""
    fields = PLAYER_TEXT.get(name)
    if fields is None:
        raise RejectedRecord(f"{name} is not a player record")
    if not rec.get("player_id"):
        raise RejectedRecord(f"{name}.player_id: must not be empty")
    texts = [(f, rec.get(f)) for f in fields]
    texts += [(f"segments[{i}]", segment) for i, segment in enumerate(rec.get("segments") or ())]
    attributes = rec.get("attributes") or {}
    if len(attributes) > MAX_ATTRIBUTES:
        raise RejectedRecord(f"{name}.attributes: {len(attributes)} attributes, at most {MAX_ATTRIBUTES}")
    texts += [(f"attributes key {i}", key) for i, key in enumerate(attributes)]
    _check_texts(texts, limit, RejectedRecord, f"{name}.")


def _check_texts(texts, limit: int | None, error: type[RejectedBet], prefix: str) -> None:
    """Raise ``error`` for the first (field, value) of ``texts`` that cannot be an id or label."""
    limit = max_id_chars() if limit is None else limit
    for field, value in texts:
        problem = text_problem(value, limit)
        if problem:
            raise error(f"{prefix}{field}: {problem}")
