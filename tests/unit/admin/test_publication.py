"""Pure parts of config publication: the CLI's default actor, and the Back Office status of an
engine status the Back Office does not have."""

from __future__ import annotations

import getpass

import pytest

from jackpot.gateway.admin.publication import _back_office_status, cli_actor
from jackpot.tables.betids import command_key


def test_the_cli_actor_names_the_os_user():
    assert cli_actor() == f"cli:{getpass.getuser()}"


@pytest.mark.parametrize("engine, back_office", [
    ("ACTIVE", "ACTIVE"), ("PAUSED", "PAUSED"), ("ARCHIVED", "ARCHIVED"), ("DRAFT", "DRAFT"),
    ("DROPPING", "ACTIVE"), ("EXPIRED", "ARCHIVED"),
])
def test_every_engine_status_maps_to_a_back_office_status(engine, back_office):
    assert _back_office_status({"status": engine}) == back_office


def test_a_command_key_cannot_be_a_bet_id():
    """Bet ids are UUIDs; the command namespace starts with NUL, so a bet id never collides."""
    key = command_key("3f0c1a9e-0000-4000-8000-000000000000")
    assert key.startswith("\x00") and not key.isprintable()
