"""Who may do what on the bus: one Kafka principal per process kind, their ACLs, and the pieces a
local broker needs to enforce them (a CA and broker certificate, SCRAM users, an ops super user).

The broker authenticates every client (SASL/SCRAM-SHA-512 over TLS) and its StandardAuthorizer
denies anything no ACL allows, so a compromised gateway pod cannot publish an operator command and
a provider's credentials cannot read a jackpot's changelog.  ``grants`` is the single description
of the ACLs: the local secured stack applies it, and README "Security" shows it as a table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from jackpot.settings import Settings
from jackpot.streams import topics as T

# The process kinds with a principal of their own (``ops`` is the super user that creates topics
# and ACLs: an operator's tool, never given to a running service).
PRINCIPALS = ("provider", "worker", "sinks", "gateway", "admin", "campaigns")
SUPER_USER = "ops"
# The broker-to-controller login of the local broker (SASL/PLAIN on the loopback controller port).
CONTROLLER_USER = "controller"

# Kafka protocol codes (org.apache.kafka.common.resource / acl).
RESOURCE = {"topic": 2, "group": 3, "cluster": 4}
PATTERN = {"literal": 3, "prefixed": 4}
OPERATION = {"all": 2, "read": 3, "write": 4, "create": 5, "describe": 8}
ALLOW = 3

# Topics the public gateway follows (gateway/ticker.py EVENT_TOPICS and the configs).
GATEWAY_READS = (T.POOL_UPDATED, T.JACKPOT_WON, T.JACKPOT_RESEEDED, T.WARN_THRESHOLD, T.STATE_CHANGED, T.CONFIGS,
                 T.CAMPAIGN_SURFACES)
# What providers publish: nothing else.
PROVIDER_WRITES = (T.BETS, T.SESSIONS, T.PLAYERS)


@dataclass(frozen=True)
class Grant:
    principal: str
    operation: str  # read | write | create | describe | all
    resource: str  # topic | group
    name: str
    pattern: str = "literal"  # or prefixed

    def as_acl(self) -> tuple[int, str, int, str, str, int, int]:
        """(resource type, name, pattern type, principal, host, operation, permission) of CreateAcls."""
        return (RESOURCE[self.resource], self.name, PATTERN[self.pattern], f"User:{self.principal}", "*",
                OPERATION[self.operation], ALLOW)


def _catalogue(name: str) -> T.TopicSpec | None:
    return next((s for s in T.ALL if s.name == name), None)


def grants(settings: Settings) -> list[Grant]:
    """Every ACL of the deployment ``settings`` describes (its topic prefix and app id)."""
    app = settings.app_id
    every = [settings.topic(s.name) for s in T.ALL]
    out: list[Grant] = []

    def topics(principal: str, operation: str, specs) -> None:
        names = dict.fromkeys(s.name for s in specs if s is not None)  # once each, in order
        out.extend(Grant(principal, operation, "topic", settings.topic(name)) for name in names)

    # Everyone may see that the catalogue's topics exist (start-up checks list them); nothing more.
    for principal in PRINCIPALS:
        out.extend(Grant(principal, "describe", "topic", t) for t in every)

    topics("provider", "write", PROVIDER_WRITES)

    # The worker (Faust app, and the sinks when they run inside it) reads every engine topic and
    # writes all but the providers' inputs and the operators' configs; its tables' changelogs and
    # Faust's internal topics are named after the app id, and so is its consumer group.
    not_written = {s.name for s in (*PROVIDER_WRITES, T.CONFIGS)}
    if not settings.worker_sinks:  # the audit chain's checkpoints come from the sinks and the admin API
        not_written.add("audit-checkpoints")
    campaign_only = {s.name for s in T.CAMPAIGN_TOPICS} - ({T.CAMPAIGN_LOG.name} if settings.worker_sinks else set())
    topics("worker", "read", [s for s in T.ALL if s.name not in campaign_only])
    topics("worker", "write", [s for s in T.ALL if s.name not in not_written and s not in T.CAMPAIGN_TOPICS])
    out.append(Grant("worker", "all", "topic", f"{app}-", "prefixed"))
    out.append(Grant("worker", "read", "group", app))
    # the embedded sinks' groups (read), or only their offsets (describe: the reconciler's lag check)
    out.append(Grant("worker", "read" if settings.worker_sinks else "describe", "group", f"{app}-", "prefixed"))

    # The sinks read the outputs into PostgreSQL and Redis; they publish outage alerts and dead letters.
    from jackpot.sinks.service import EVENT_SINK_TOPICS, LIVE_SINK_TOPICS

    topics("sinks", "read", (T.LEDGER, T.CONFIGS, *EVENT_SINK_TOPICS, *LIVE_SINK_TOPICS, T.CAMPAIGN_LOG))
    topics("sinks", "write", (T.ENGINE_EVENTS, T.DEAD_LETTERS, _catalogue("audit-checkpoints")))
    out.extend(Grant("sinks", "read", "group", f"{app}-{g}-sink") for g in ("ledger", "live", "event", "campaign-log"))

    # Campaign automation reads the engine's events, the ledger (its audiences) and the players'
    # profiles (consent), and writes its own topics only; its tables and group are <app id>.campaigns
    # (outside the worker's "<app id>-" prefix: the worker cannot read players' consent or contacts).
    campaigns = f"{app}.campaigns"
    topics("campaigns", "read", (T.ENGINE_EVENTS, T.POOL_UPDATED, T.ACTIVE_PLAYERS, T.LEDGER, T.PLAYERS, T.CONFIGS,
                                 *T.CAMPAIGN_TOPICS))
    topics("campaigns", "write", (T.CAMPAIGN_CANDIDATES, T.CAMPAIGN_ACTIONS, T.CAMPAIGN_LOG, T.CAMPAIGN_TICKS,
                                  T.CAMPAIGN_SURFACES, T.DEAD_LETTERS))
    out.append(Grant("campaigns", "all", "topic", f"{campaigns}-", "prefixed"))
    out.append(Grant("campaigns", "read", "group", campaigns))

    # The public gateway only reads the public outputs.
    topics("gateway", "read", GATEWAY_READS)

    # The admin API publishes commands and configs and reads the receipts on the audit topic.
    topics("admin", "write", (T.COMMANDS, T.CONFIGS, _catalogue("audit-checkpoints"), T.CAMPAIGN_RULES,
                              T.CAMPAIGN_CONTROL))
    topics("admin", "read", (T.AUDIT, T.CONFIGS))
    return out


async def apply_grants(ops: Settings, wanted: list[Grant]) -> None:
    """Create ``wanted`` ACLs on the broker, as the ops super user (idempotent: Kafka keeps one of each)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    from jackpot.streams.kafka import client_options

    class CreateMany(CreateAclsRequest):
        """aiokafka's CreateAcls request, with every creation in one request (v1 and later)."""

        def __init__(self, acls: list[tuple]) -> None:
            self.acls = acls

        def build(self, request_struct_class):
            return request_struct_class(self.acls)

    admin = AIOKafkaAdminClient(**client_options(ops))
    await admin.start()
    try:
        response = await admin._send_request(CreateMany([g.as_acl() for g in wanted]))
        refused = [(g, code, message) for g, (code, message) in zip(wanted, response.creation_responses) if code]
        if refused:
            raise RuntimeError(f"ACLs refused by the broker: {refused[:5]}")
    finally:
        await admin.close()


# ---------------------------------------------------------------- local stack
@dataclass(frozen=True)
class LocalBus:
    """Where a local secured broker keeps its CA, keystore and users' passwords."""

    home: Path

    @property
    def ca_file(self) -> Path:
        return self.home / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.home / "broker.pem"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials.json"

    def passwords(self) -> dict[str, str]:
        """The users' passwords, generated once (file mode 0600) and kept for the broker's lifetime."""
        try:
            return json.loads(self.credentials_file.read_text())
        except FileNotFoundError:
            pass
        users = {u: secrets.token_urlsafe(24) for u in (*PRINCIPALS, SUPER_USER, CONTROLLER_USER)}
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.credentials_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(users, f)
        return users

    def client_settings(self, settings: Settings, principal: str) -> Settings:
        """``settings`` as ``principal`` of this broker sees them (for a child process: ``to_env()``)."""
        return settings.model_copy(update={
            "kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_username": principal, "kafka_password": self.passwords()[principal],
            "kafka_ca_file": str(self.ca_file)})

    def ensure_pki(self, host: str) -> None:
        """A CA and a broker certificate for ``host`` (PEM, as Kafka's PEM keystore reads them)."""
        if self.ca_file.exists() and self.keystore.exists():
            return
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jackpot local Kafka CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False,
                                           encipher_only=False, decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName("localhost")]
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName(names), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            f.write(cert.public_bytes(pem) + ca.public_bytes(pem))
        self.ca_file.write_bytes(ca.public_bytes(pem))

    def broker_properties(self, host: str, port: int, ctl_port: int) -> list[str]:
        """server.properties lines of a SASL_SSL listener with SCRAM, PEM stores and the authorizer."""
        pw = self.passwords()
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        ctl = pw[CONTROLLER_USER]
        return [
            f"listeners=SASL_SSL://{host}:{port},CONTROLLER://{host}:{ctl_port}",
            f"advertised.listeners=SASL_SSL://{host}:{port}",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            f'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram} required '
            f'username="{SUPER_USER}" password="{pw[SUPER_USER]}";',
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f'listener.name.controller.plain.sasl.jaas.config={plain} required '
            f'username="{CONTROLLER_USER}" password="{ctl}" user_{CONTROLLER_USER}="{ctl}";',
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca_file}",
            "ssl.client.auth=none",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{SUPER_USER};User:{CONTROLLER_USER}",
        ]

    def format_args(self) -> list[str]:
        """``kafka-storage format`` arguments that create the SCRAM users with the metadata log."""
        out = []
        for user, password in self.passwords().items():
            if user != CONTROLLER_USER:
                out += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        return out


def main(argv: list[str] | None = None) -> int:
    """``python -m jackpot.ops.kafka_auth [apply | env PRINCIPAL]``: print the deployment's ACLs (the
    settings' app id and topic prefix); or create them on the broker, logged in with the settings'
    Kafka user (ops); or print the shell exports that make a command log in to the local secured
    stack (``JACKPOT_STACK_KAFKA_SECURITY=sasl_ssl``) as PRINCIPAL."""
    import shlex
    import sys

    from jackpot.settings import get_settings

    args = sys.argv[1:] if argv is None else argv
    settings = get_settings()
    wanted = grants(settings)
    if args == ["apply"]:
        asyncio.run(apply_grants(settings, wanted))
        print(f"{len(wanted)} ACLs in place on {settings.kafka_bootstrap_servers}")
        return 0
    if len(args) == 2 and args[0] == "env" and args[1] in (*PRINCIPALS, SUPER_USER):
        bus = LocalBus(settings.stack_dir / "kafka-secured")
        if not bus.credentials_file.exists():
            print(f"no secured local stack in {bus.home} (JACKPOT_STACK_KAFKA_SECURITY=sasl_ssl jackpot stack up)",
                  file=sys.stderr)
            return 1
        env = bus.client_settings(settings, args[1]).to_env()
        for name in ("JACKPOT_KAFKA_SECURITY_PROTOCOL", "JACKPOT_KAFKA_SASL_MECHANISM", "JACKPOT_KAFKA_USERNAME",
                     "JACKPOT_KAFKA_PASSWORD", "JACKPOT_KAFKA_CA_FILE"):
            print(f"export {name}={shlex.quote(env[name])}")
        return 0
    if args:
        print("usage: python -m jackpot.ops.kafka_auth [apply | env PRINCIPAL]", file=sys.stderr)
        return 2
    for g in wanted:
        print(f"User:{g.principal}\t{g.operation}\t{g.resource}\t{g.pattern}\t{g.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
