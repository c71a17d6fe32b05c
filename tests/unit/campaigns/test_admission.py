"""The player stage: limits applied by the player's single writer, and a replayed candidate
given back its stored decision instead of being refused by its own cooldown."""

from __future__ import annotations

from jackpot.campaigns.admission import KEEP_DECISIONS_MS, Candidate, PlayerLedger
from jackpot.campaigns.admission import admit as admit_now
from jackpot.campaigns.plan import Member, Planned
from jackpot.campaigns.rules import Channel, Limits

LIMITS = Limits()
HOUR = 3600_000
T0 = 1_796_522_400_000


CONSENTING = Member("p1", consent=frozenset({Channel.PUSH, Channel.EMAIL, Channel.SMS}))


def admit(ledger, cand, limits, *, kill_switch=False, member=CONSENTING):
    return admit_now(ledger, cand, limits, kill_switch=kill_switch, member=member)


def candidate(fire: str, at: int, *channels: Channel, received: int | None = None) -> Candidate:
    actions = tuple(Planned(f"{fire}-{c.value}", fire, "rule", 1, c, "t", None, "jp", "p1") for c in channels)
    return Candidate(fire, "p1", at, actions, received)


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


def test_a_late_tag_does_not_make_room_for_a_fourth_push():
    ledger = PlayerLedger()
    for k, hours in enumerate((-20, -18, -16)):
        ledger, d = admit(ledger, candidate(f"f{k}", T0 + hours * HOUR, Channel.PUSH), LIMITS)
        assert d.action_ids
    ledger, d = admit(ledger, candidate("tag", T0 + 10 * HOUR, Channel.CRM_TAG), LIMITS)
    assert d.action_ids == ("tag-crm_tag",) and len(ledger.contact.pushes) == 3
    ledger, d = admit(ledger, candidate("late", T0, Channel.PUSH), LIMITS)
    assert d.action_ids == () and d.reason == "push_limit"


def test_a_cooling_player_still_gets_the_tag_and_send_time_spaces_a_drained_backlog():
    ledger, _ = admit(PlayerLedger(), candidate("f1", T0, Channel.PUSH), LIMITS)
    ledger, d = admit(ledger, candidate("f2", T0 + 60_000, Channel.PUSH, Channel.CRM_TAG), LIMITS)
    assert d.action_ids == ("f2-crm_tag",) and d.reason == "player_cooldown"
    # a backlog: events an hour apart, received seconds apart: one push, the others wait out the hour
    patient = Limits(stale_after_s=4 * 3600)  # a backlog of two hours is not stale here
    ledger = PlayerLedger()
    got = []
    for k in range(3):
        ledger, d = admit(ledger, candidate(f"b{k}", T0 + k * 65 * 60_000, Channel.PUSH, received=T0 + 2 * HOUR + k),
                          patient)
        got.append(d.reason)
    assert got == [None, "player_cooldown", "player_cooldown"]


def test_kill_switch_opt_out_consent_and_staleness_are_checked_at_send_time():
    c = candidate("f1", T0, Channel.PUSH, Channel.CRM_TAG)
    assert admit(PlayerLedger(), c, LIMITS, kill_switch=True)[1].reason == "kill_switch"
    assert admit(PlayerLedger(), c, LIMITS, member=Member("p1", opted_out=True))[1].action_ids == ()
    assert admit(PlayerLedger(), c, LIMITS, member=None)[1].reason == "unknown_player"
    _, d = admit(PlayerLedger(), c, LIMITS, member=Member("p1"))
    assert d.action_ids == ("f1-crm_tag",) and d.reason == "no_consent"
    stale = candidate("f2", T0, Channel.PUSH, received=T0 + LIMITS.stale_after_s * 1000 + 1)
    assert admit(PlayerLedger(), stale, LIMITS)[1].reason == "stale"
    # the stored decision stands once taken: switching the kill switch off does not resend an old fire
    ledger, _ = admit(PlayerLedger(), c, LIMITS, kill_switch=True)
    assert admit(ledger, c, LIMITS)[1].reason == "kill_switch"


def test_the_player_stage_checks_segments_and_brands_and_a_dry_run_changes_nothing():
    from dataclasses import replace

    from jackpot.campaigns.admission import Candidate, PlayerLedger, admit
    from jackpot.campaigns.plan import Member, Planned
    from jackpot.campaigns.rules import Channel, Limits

    push = Planned("a1", "f1", "r", 1, Channel.PUSH, "t", None, "jp", "p")
    cand = Candidate("f1", "p", 1_000_000, (push,), segments=frozenset({"vip"}), brands=frozenset({"b"}))
    member = Member("p", "b", frozenset({"vip"}), consent=frozenset({Channel.PUSH}))
    ledger, d = admit(PlayerLedger(), cand, Limits(), kill_switch=False, member=member)
    assert d.action_ids == ("a1",) and ledger.contact.pushes == (1_000_000,)
    for other, why in ((replace(member, segments=frozenset({"sports"})), "segment"), (replace(member, brand="x"), "brand")):
        assert admit(PlayerLedger(), cand, Limits(), kill_switch=False, member=other)[1].reason == why
    dry = replace(cand, fire_id="f2", dry_run=True)
    after, d = admit(ledger, dry, Limits(), kill_switch=False, member=member)
    assert d.reason == "player_cooldown" and after is ledger  # reported as a live send would be, nothing kept
    assert Candidate.from_json(cand.to_json(), received_ms=5) == replace(cand, received_ms=5)
