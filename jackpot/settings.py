"""One typed settings object, read from the environment once at start-up.

Defaults point at the local stack that ``jackpot stack up`` starts, so a fresh
clone works with no configuration; production sets the URLs.  A URL given
explicitly in the environment means "this service is managed elsewhere": the
local stack then leaves it alone.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # "production" turns weak security settings (no audit key, the example key, an unauthenticated
    # bus, no state key) from warnings into refusals to start: see README "Security".
    env: str = Field("development", alias="JACKPOT_ENV", pattern="^(development|production)$")

    # Connections (production: managed services, configured by URL).
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    database_url: str = "postgresql://postgres@127.0.0.1:15432/jackpot"
    redis_url: str = "redis://127.0.0.1:16379/0"

    # Kafka client security (streams/kafka.py client_options, used by every client). PLAINTEXT is
    # for a development broker on loopback only; production refuses it at start. SASL_SSL: TLS
    # (server verified against the CA file, or the system CAs when empty) and a SASL login, one
    # principal per process kind (README "Security": who may read and write which topic).
    kafka_security_protocol: str = Field("PLAINTEXT", alias="JACKPOT_KAFKA_SECURITY_PROTOCOL",
                                         pattern="^(PLAINTEXT|SASL_SSL)$")
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", alias="JACKPOT_KAFKA_SASL_MECHANISM",
                                      pattern="^(SCRAM-SHA-512|SCRAM-SHA-256|PLAIN)$")
    kafka_username: str = Field("", alias="JACKPOT_KAFKA_USERNAME")
    kafka_password: str = Field("", alias="JACKPOT_KAFKA_PASSWORD", repr=False)
    kafka_ca_file: str = Field("", alias="JACKPOT_KAFKA_CA_FILE")

    # Topology.
    app_id: str = Field("jackpot-engine", alias="JACKPOT_APP_ID")
    partitions: int = Field(8, alias="JACKPOT_PARTITIONS", ge=1, le=1024)
    topic_prefix: str = Field("", alias="JACKPOT_TOPIC_PREFIX")
    # Standby replicas (safe since streams/recovery.py fixed faust's faults) take restore off a
    # take-over but apply every changelog record a second time: off by default, 1 where workers
    # have cores of their own (README "Scaling workers").
    standby_replicas: int = Field(0, alias="JACKPOT_STANDBY_REPLICAS", ge=0)
    data_dir: Path = Field(REPO_ROOT / ".stack" / "worker-data", alias="JACKPOT_DATA_DIR")
    # The worker's (and a sinks process's) /metrics, /health and /ready host (0.0.0.0 in a pod, so
    # probes and scrapes reach it).
    worker_web_host: str = Field("127.0.0.1", alias="JACKPOT_WORKER_WEB_HOST")
    worker_web_port: int = Field(6066, alias="JACKPOT_WORKER_WEB_PORT")
    # The sinks (ledger, events, live values) run inside every worker, or, with this false, only
    # in `jackpot sinks` processes (sinks/service.py), which serve /metrics on their own port.
    worker_sinks: bool = Field(True, alias="JACKPOT_WORKER_SINKS")
    sinks_web_port: int = Field(6067, alias="JACKPOT_SINKS_WEB_PORT")

    # Wire format: Confluent framing through this registry when set, else single-object encoding.
    schema_registry_url: str = Field("", alias="SCHEMA_REGISTRY_URL")
    schema_registry_auto_register: bool = Field(True, alias="SCHEMA_REGISTRY_AUTO_REGISTER")
    registry_port: int = Field(18081, alias="JACKPOT_REGISTRY_PORT")

    # Audit trail: HMAC key for the hash chain and its checkpoints (empty: plain SHA-256, development
    # only; production refuses to start the sinks or the admin API without a strong one, see
    # sinks/audit.py require_key), so someone with database write access cannot recompute the chain.
    audit_hmac_key: str = Field("", alias="JACKPOT_AUDIT_KEY")
    # The sinks and the admin API publish a signed checkpoint of the chain's head this often when
    # it moved (sinks/checkpoints.py): a tail cut after it is caught by `jackpot audit verify`.
    audit_checkpoint_interval_s: float = Field(5.0, alias="JACKPOT_AUDIT_CHECKPOINT_INTERVAL_S", gt=0)
    # Jackpot table secrets (win targets, thresholds, cycle seeds) are sealed with this key
    # (base64 of 32 bytes; tables/sealing.py). Empty: production refuses to start a worker,
    # development uses a key generated once into the stack directory. Old keys (comma list)
    # still open values sealed before a rotation.
    state_key: str = Field("", alias="JACKPOT_STATE_KEY", repr=False)
    # The operator platform signs its logged-in players' tokens (HS256 JWT, ``sub`` = player id)
    # with this secret; the public gateway then serves each player's own journey. Empty: off.
    player_token_secret: str = Field("", alias="JACKPOT_PLAYER_TOKEN_SECRET", repr=False)
    state_old_keys: str = Field("", alias="JACKPOT_STATE_OLD_KEYS", repr=False)

    # Log level of Kafka/Faust libraries (our own follows --log-level).
    library_log_level: str = Field("warning", alias="JACKPOT_LIBRARY_LOG_LEVEL")

    # How long the group waits for a silent worker before moving its partitions (a SIGKILLed worker
    # is noticed only then), and how often members heartbeat; fail-over time is about the former.
    # 6 s (the broker's minimum) with a 1 s heartbeat keeps fail-over after a SIGKILL under 10 s;
    # the consumer heartbeats from its own thread, so a busy agent does not stall it.
    session_timeout_s: float = Field(6.0, alias="JACKPOT_SESSION_TIMEOUT_S", ge=6)
    heartbeat_interval_s: float = Field(1.0, alias="JACKPOT_HEARTBEAT_INTERVAL_S", gt=0)
    # Static group membership: a worker restarted in place under the same id within the session
    # timeout gets its partitions back without a rebalance of the others (Kubernetes: the pod
    # name).  Empty: dynamic membership.  Two live processes must never share an id.
    group_instance_id: str = Field("", alias="JACKPOT_GROUP_INSTANCE_ID", max_length=200)

    # Hot path tuning.
    batch_size: int = Field(500, alias="JACKPOT_BATCH_SIZE", ge=1)
    # How often a worker re-freezes its heap (streams/heap.py): one full collection per interval.
    heap_freeze_interval_s: float = Field(300.0, alias="JACKPOT_HEAP_FREEZE_INTERVAL_S", gt=0)
    batch_within_s: float = Field(0.02, alias="JACKPOT_BATCH_WITHIN_S", gt=0)
    # The router waits less for its batch: its wait adds to every bet's latency before the
    # jackpot agent's own; under load its batches fill while the previous one is routed anyway.
    route_within_s: float = Field(0.005, alias="JACKPOT_ROUTE_WITHIN_S", gt=0)
    # How long the producer holds records to fill a request: a batch's many small records (table
    # changelogs, outputs) then leave in a few requests instead of one each.
    producer_linger_ms: int = Field(2, alias="JACKPOT_PRODUCER_LINGER_MS", ge=0, le=100)
    # The producer keeps one open batch per partition and one request in flight per broker, so a
    # partition whose records outgrow its batch waits a round trip per batch: at the 16 KiB
    # default a save of 20 table values (about 10 KiB each) took several round trips per
    # partition, with every output behind them.  Below the topics' 1 MB message limit.
    producer_max_batch_bytes: int = Field(512 << 10, alias="JACKPOT_PRODUCER_MAX_BATCH_BYTES",
                                          ge=16 << 10, le=900 << 10)

    # Untrusted provider traffic (docs/providers.md).  A bet re-sent with the same event_id within
    # the dedup horizon (at least; at most 1.25 times it) is applied once per jackpot.
    dedup_horizon_s: int = Field(36 * 3600, alias="JACKPOT_DEDUP_HORIZON_S", ge=60)
    # A provider timestamp further than this from the received time is flagged (never used).
    clock_tolerance_s: float = Field(300.0, alias="JACKPOT_CLOCK_TOLERANCE_S", ge=0)
    # An owned input partition with messages waiting whose committed offset has not moved for
    # this long makes the worker not ready (and raises the stalled-partition alert).
    stall_after_s: float = Field(120.0, alias="JACKPOT_STALL_AFTER_S", gt=0)

    # Time inside the partitions: the leader publishes a tick to every partition this often.
    clock_interval_s: float = Field(1.0, alias="JACKPOT_CLOCK_INTERVAL_S", gt=0)

    # Reconciliation of the ledger with the live pools (the leader runs it; 0 disables it), and
    # how long a difference may be ledger lag before it counts as a mismatch.
    reconcile_interval_s: float = Field(900.0, alias="JACKPOT_RECONCILE_INTERVAL_S", ge=0)
    reconcile_settle_s: float = Field(60.0, alias="JACKPOT_RECONCILE_SETTLE_S", ge=0)
    # The budget alerts and Budget Constraint Mode limits (sinks/budget.py; the leader; 0 disables).
    budget_interval_s: float = Field(900.0, alias="JACKPOT_BUDGET_INTERVAL_S", ge=0)

    # Payout: the operator's wallet (the reference wallet of `jackpot wallet` by default).
    wallet_url: str = Field("http://127.0.0.1:8790", alias="WALLET_URL")
    wallet_port: int = Field(8790, alias="JACKPOT_WALLET_PORT")

    # Campaign deliveries: the reference receiver (`jackpot campaign-receiver`) and the HMAC key
    # deliveries are signed with (secret; at least 16 bytes).
    campaign_receiver_port: int = Field(8796, alias="JACKPOT_CAMPAIGN_RECEIVER_PORT")
    campaign_secret: str = Field("", alias="JACKPOT_CAMPAIGN_SECRET", repr=False)
    # The campaigns process (`jackpot campaigns`, streams/campaigns.py): where it delivers (a base
    # URL, each channel at <base>/<channel>; empty: every delivery fails as not configured, logged),
    # its health port and local state, and the safety limits of every fire (campaigns/rules.Limits).
    campaign_endpoint: str = Field("", alias="JACKPOT_CAMPAIGN_ENDPOINT")
    # partners' hosts webhook actions may reach (comma list); a webhook to any other host fails
    campaign_webhook_hosts: str = Field("", alias="JACKPOT_CAMPAIGN_WEBHOOK_HOSTS")
    campaign_web_port: int = Field(6067, alias="JACKPOT_CAMPAIGN_WEB_PORT")
    campaign_data_dir: Path = Field(REPO_ROOT / ".stack" / "campaigns-data", alias="JACKPOT_CAMPAIGN_DATA_DIR")
    campaign_pushes_per_day: int = Field(3, alias="JACKPOT_CAMPAIGN_PUSHES_PER_DAY", ge=0, le=10)
    campaign_approval_threshold: int = Field(1000, alias="JACKPOT_CAMPAIGN_APPROVAL_THRESHOLD", ge=0)
    # a player is in a jackpot's audience this long after their last contribution to it
    campaign_active_window_s: int = Field(900, alias="JACKPOT_CAMPAIGN_ACTIVE_WINDOW_S", gt=0)
    # velocity triggers compare the contributions of consecutive windows of this length
    campaign_velocity_window_s: int = Field(300, alias="JACKPOT_CAMPAIGN_VELOCITY_WINDOW_S", gt=0)

    # Gateway.
    gateway_host: str = Field("127.0.0.1", alias="JACKPOT_GATEWAY_HOST")
    gateway_port: int = Field(8780, alias="JACKPOT_GATEWAY_PORT")
    # /metrics and /metrics.json, /health, /ready for scrapes and probes: an internal port, not
    # the public one.
    gateway_metrics_port: int = Field(8781, alias="JACKPOT_GATEWAY_METRICS_PORT")
    # Pages allowed to open the WebSocket (comma list of origins, e.g. https://casino.example;
    # production requires it). A request with another Origin is refused with 403.
    gateway_allowed_origins: str = Field("", alias="JACKPOT_GATEWAY_ALLOWED_ORIGINS")
    # Load balancers / proxies (comma list of CIDRs) whose X-Forwarded-For is believed: the
    # per-address limit then counts the client behind them.
    gateway_trusted_proxies: str = Field("", alias="JACKPOT_GATEWAY_TRUSTED_PROXIES")

    # Admin API (operators): its own port, separate from the public gateway.
    admin_host: str = Field("127.0.0.1", alias="JACKPOT_ADMIN_HOST")
    admin_port: int = Field(8785, alias="JACKPOT_ADMIN_PORT")
    # How long a command call waits for the engine's receipt before answering 202 Accepted.
    admin_command_wait_s: float = Field(10.0, alias="JACKPOT_ADMIN_COMMAND_WAIT_S", ge=0, le=60)
    # How often scheduled configuration changes and activations are checked.
    admin_scheduler_interval_s: float = Field(2.0, alias="JACKPOT_ADMIN_SCHEDULER_INTERVAL_S", gt=0)
    # Four-eyes requests (void win, emergency shutdown) expire unapproved after this long.
    admin_co_approval_hours: int = Field(24, alias="JACKPOT_ADMIN_CO_APPROVAL_HOURS", ge=1, le=168)
    # Optional JWTs from the operators' identity provider (empty issuer: only CLI-issued tokens).
    admin_jwt_issuer: str = Field("", alias="JACKPOT_ADMIN_JWT_ISSUER")
    admin_jwt_audience: str = Field("jackpot-admin", alias="JACKPOT_ADMIN_JWT_AUDIENCE")
    admin_jwt_jwks_url: str = Field("", alias="JACKPOT_ADMIN_JWT_JWKS_URL")
    admin_jwt_public_key: str = Field("", alias="JACKPOT_ADMIN_JWT_PUBLIC_KEY")
    admin_jwt_algorithms: str = Field("RS256,ES256", alias="JACKPOT_ADMIN_JWT_ALGORITHMS")
    # An unknown JWT kid refetches the IdP's key set at most once per this many seconds (failed
    # fetches included), so made-up kids cannot make the API hammer the IdP.
    admin_jwt_jwks_min_refetch_s: float = Field(30.0, alias="JACKPOT_ADMIN_JWT_JWKS_MIN_REFETCH_S", ge=1, le=3600)
    # Where simulation jobs started from the admin API write their reports.
    admin_simulation_dir: Path = Field(REPO_ROOT / ".stack" / "simulations", alias="JACKPOT_ADMIN_SIMULATION_DIR")
    # Simulation jobs one admin process runs at once (CPU-bound); over it, a start is a 429.
    admin_simulation_max_jobs: int = Field(2, alias="JACKPOT_ADMIN_SIMULATION_MAX_JOBS", ge=1, le=64)

    # Local stack (ignored for services configured by URL).
    stack_dir: Path = Field(REPO_ROOT / ".stack", alias="JACKPOT_STACK_DIR")
    cache_dir: Path = Field(Path.home() / ".cache" / "jackpot", alias="JACKPOT_CACHE_DIR")
    kafka_version: str = Field("3.9.1", alias="JACKPOT_KAFKA_VERSION")
    stack_mode: str = Field("local", alias="JACKPOT_STACK", pattern="^(local|containers)$")
    # The local broker's listener: plaintext (development default) or sasl_ssl (SCRAM users and ACLs
    # per process kind, as in production; ops/kafka_auth.py).
    stack_kafka_security: str = Field("plaintext", alias="JACKPOT_STACK_KAFKA_SECURITY",
                                      pattern="^(plaintext|sasl_ssl)$")

    # Input limits (streams/codec.py, streams/limits.py). Providers' messages (BetPlaced, player
    # profiles and sessions) above this size are refused before decoding: a real BetPlaced is
    # ~100-300 bytes, and fastavro decodes a huge decimal in quadratic time (1 MB: ~100 s).
    max_input_bytes: int = Field(4096, alias="JACKPOT_MAX_INPUT_BYTES", ge=512, le=1 << 20)
    # Ids (player, game, brand, session...) longer than this are refused; 128 fits any UUID or code.
    max_id_chars: int = Field(128, alias="JACKPOT_MAX_ID_CHARS", ge=36, le=4096)
    # A dead letter keeps at most this many bytes of the message (the rest: its length and SHA-256
    # in the reason), so it stays under the broker's 1 MB limit yet holds an internal batch whole.
    dead_letter_max_value_bytes: int = Field(256 * 1024, alias="JACKPOT_DEAD_LETTER_MAX_VALUE_BYTES",
                                             ge=1024, le=768 * 1024)

    @property
    def production(self) -> bool:
        return self.env == "production"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[1])

    def to_env(self) -> dict[str, str]:
        """Environment for a child process that must see exactly these settings."""
        env = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            env[(info.alias or name).upper()] = str(value)
        return env

    def is_external(self, field: str) -> bool:
        """True when the operator configured this URL explicitly."""
        return field in self.model_fields_set


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
