"""The ACLs of ops/kafka_auth.py give each process kind what it uses and no more, and the bus
options refuse an unauthenticated bus in production."""

from __future__ import annotations

import ssl

import pytest

from jackpot.ops.kafka_auth import PRINCIPALS, grants
from jackpot.settings import Settings
from jackpot.streams import topics as T
from jackpot.streams.kafka import InsecureBusError, client_options, faust_credentials

S = Settings(JACKPOT_APP_ID="jp", JACKPOT_TOPIC_PREFIX="p.")


def allowed(principal: str, operation: str, topic: str) -> bool:
    """Whether a grant (literal or prefixed, or "all") lets ``principal`` do ``operation`` on ``topic``."""
    return any(g.principal == principal and g.resource == "topic" and g.operation in (operation, "all")
               and (topic == g.name if g.pattern == "literal" else topic.startswith(g.name))
               for g in grants(S))


def writers(topic: str) -> set[str]:
    return {p for p in PRINCIPALS if allowed(p, "write", topic)}


def test_only_the_admin_api_and_the_engine_may_publish_operator_commands_and_configs():
    assert writers("p.operator-commands") == {"admin", "worker"}
    assert writers("p.jackpot-configs") == {"admin"}
    assert writers("p.jackpot-contributions") == {"worker"}  # every input of a jackpot, commands copied in


def test_providers_write_their_inputs_only_and_read_nothing():
    for spec in T.ALL:
        topic = S.topic(spec.name)
        assert allowed("provider", "write", topic) == (spec.name in ("bets", "player-sessions", "player-profiles"))
        assert not allowed("provider", "read", topic)
    assert writers("p.bets") == {"provider"}


def test_the_changelogs_are_the_workers_alone():
    changelog = "jp-jackpots-changelog"
    assert {p for p in PRINCIPALS if allowed(p, "read", changelog) or allowed(p, "describe", changelog)} == {"worker"}
    assert allowed("worker", "create", changelog)


def test_the_public_gateway_reads_public_outputs_only():
    assert writers("p.pool-updated") == {"worker"}
    for spec in T.ALL:
        assert not allowed("gateway", "write", S.topic(spec.name))
    assert allowed("gateway", "read", "p.pool-updated") and allowed("gateway", "read", "p.jackpot-configs")
    for private in ("audit-events", "bets", "operator-commands", "ledger-contributions", "wallet-credit-commands"):
        assert not allowed("gateway", "read", S.topic(private)), private
    assert not [g for g in grants(S) if g.principal == "gateway" and g.resource == "group"]


def test_consumer_groups_follow_the_app_id():
    groups = {(g.principal, g.name, g.pattern, g.operation) for g in grants(S) if g.resource == "group"}
    assert ("worker", "jp", "literal", "read") in groups
    assert {("sinks", f"jp-{n}-sink", "literal", "read") for n in ("ledger", "live", "event")} <= groups
    separate = Settings(JACKPOT_APP_ID="jp", JACKPOT_WORKER_SINKS="false")
    assert [g.operation for g in grants(separate) if g.principal == "worker" and g.name == "jp-"
            and g.resource == "group"] == ["describe"]
    checkpoints = [g for g in grants(separate) if g.name == "audit-checkpoints" and g.operation == "write"]
    assert {g.principal for g in checkpoints} == {"sinks", "admin"}


def test_production_refuses_a_plaintext_bus_and_development_allows_it():
    with pytest.raises(InsecureBusError, match="PLAINTEXT is refused in production"):
        client_options(Settings(JACKPOT_ENV="production"))
    with pytest.raises(InsecureBusError):
        faust_credentials(Settings(JACKPOT_ENV="production"))
    assert client_options(Settings())["security_protocol"] == "PLAINTEXT"
    assert faust_credentials(Settings()) is None


def test_sasl_ssl_needs_credentials_and_verifies_the_broker():
    with pytest.raises(InsecureBusError, match="USERNAME"):
        client_options(Settings(JACKPOT_ENV="production", JACKPOT_KAFKA_SECURITY_PROTOCOL="SASL_SSL"))
    s = Settings(JACKPOT_ENV="production", JACKPOT_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
                 JACKPOT_KAFKA_USERNAME="gateway", JACKPOT_KAFKA_PASSWORD="pw")
    opts = client_options(s)
    assert (opts["security_protocol"], opts["sasl_mechanism"], opts["sasl_plain_username"]) == (
        "SASL_SSL", "SCRAM-SHA-512", "gateway")
    ctx = opts["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    creds = faust_credentials(s)
    assert creds.username == "gateway" and creds.protocol.value == "SASL_SSL"
    assert "pw" not in repr(s)
