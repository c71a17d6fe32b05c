"""The player stage: limits applied by the player's single writer, and a replayed candidate
given back its stored decision instead of being refused by its own cooldown."""

from __future__ import annotations

from jackpot.campaigns.admission import KEEP_DECISIONS_MS, Candidate, PlayerLedger, admit
from jackpot.campaigns.plan import Planned
from jackpot.campaigns.rules import Channel, Limits

LIMITS = Limits()
HOUR = 3600_000
T0 = 1_796_522_400_000


def candidate(fire: str, at: int, *channels: Channel) -> Candidate:
    actions = tuple(Planned(f"{fire}-{c.value}", fire, "rule", 1, c, "t", None, "jp", "p1") for c in channels)
    return Candidate(fire, "p1", at, actions)


def test_a_replayed_candidate_gets_its_stored_decision_not_its_own_cooldown():
    ledger, first = admit(PlayerLedger(), candidate("f1", T0, Channel.PUSH, Channel.EMAIL), LIMITS)
    assert first.action_ids == ("f1-push", "f1-email") and first.reason is None
    again_ledger, again = admit(ledger, candidate("f1", T0, Channel.PUSH, Channel.EMAIL), LIMITS)
    assert again == first and again_ledger is ledger  # nothing recorded twice
    _, other = admit(ledger, candidate("f2", T0 + 60_000, Channel.PUSH), LIMITS)
    assert other.action_ids == () and other.reason == "player_cooldown"


def test_the_push_limit_keeps_the_other_channels_and_decisions_expire():
    ledger = PlayerLedger()
    for k in range(3):
        ledger, d = admit(ledger, candidate(f"f{k}", T0 + k * 2 * HOUR, Channel.PUSH), LIMITS)
        assert d.action_ids == (f"f{k}-push",)
    ledger, d = admit(ledger, candidate("f3", T0 + 6 * HOUR, Channel.PUSH, Channel.SMS), LIMITS)
    assert d.action_ids == ("f3-sms",) and d.reason == "push_limit"
    ledger, d = admit(ledger, candidate("f4", T0 + 8 * HOUR, Channel.PUSH), LIMITS)
    assert d.action_ids == () and d.reason == "push_limit"
    assert set(ledger.decisions) == {"f0", "f1", "f2", "f3", "f4"}
    ledger, _ = admit(ledger, candidate("f5", T0 + KEEP_DECISIONS_MS + 9 * HOUR, Channel.EMAIL), LIMITS)
    assert set(ledger.decisions) == {"f5"}  # older than two days: dropped
    assert PlayerLedger.from_json(ledger.to_json()) == ledger
