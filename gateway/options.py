"""Gateway tuning, read once from the settings object.

Until these fields exist on ``jackpot.settings.Settings`` they are read from the same
environment variables here (the only place the gateway reads the environment)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields

from .connection import Network, normalise_origin, parse_networks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayOptions:
    smoothing: bool = True  # JACKPOT_GATEWAY_SMOOTHING: off only for latency measurements/tests
    max_connections: int = 20_000  # JACKPOT_GATEWAY_MAX_CONNECTIONS (per process)
    max_per_ip: int = 50  # JACKPOT_GATEWAY_MAX_PER_IP
    max_msg_bytes: int = 4096  # JACKPOT_GATEWAY_MAX_MSG_BYTES: largest client message
    heartbeat_s: float = 20.0  # JACKPOT_GATEWAY_HEARTBEAT_S: WebSocket ping / SSE comment
    send_timeout_s: float = 10.0  # JACKPOT_GATEWAY_SEND_TIMEOUT_S: a blocked send longer than this disconnects
    max_queue: int = 64  # JACKPOT_GATEWAY_MAX_QUEUE: queued non-coalescable frames per connection
    max_buffer_bytes: int = 256 * 1024  # JACKPOT_GATEWAY_MAX_BUFFER_BYTES: user-space write buffer cap
    so_sndbuf: int = 64 * 1024  # JACKPOT_GATEWAY_SO_SNDBUF: kernel send buffer per socket (0 = OS default)
    fanout_ms: float = 100.0  # JACKPOT_GATEWAY_FANOUT_MS: ticker values are fanned out at most this often
    stats_interval_s: float = 5.0  # JACKPOT_GATEWAY_STATS_INTERVAL_S: hero stats / players chasing
    shutdown_timeout_s: float = 5.0
    metrics_port: int = 8781  # JACKPOT_GATEWAY_METRICS_PORT: /metrics, /metrics.json (internal, not public)
    allowed_origins: tuple[str, ...] = ()  # JACKPOT_GATEWAY_ALLOWED_ORIGINS: pages that may open /ws
    trusted_proxies: tuple[Network, ...] = ()  # JACKPOT_GATEWAY_TRUSTED_PROXIES: whose X-Forwarded-For counts

    @classmethod
    def from_settings(cls, settings) -> "GatewayOptions":
        values = {}
        for f in fields(cls):
            name = f"gateway_{f.name}"
            if hasattr(settings, name):
                values[f.name] = getattr(settings, name)
                continue
            raw = os.environ.get(f"JACKPOT_{name.upper()}")
            if raw is None:
                continue
            if f.name in LISTS:
                values[f.name] = raw
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() not in ("0", "false", "no", "off", "")
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            else:
                values[f.name] = float(raw)
        for name, parse in LISTS.items():
            if isinstance(values.get(name), str):
                values[name] = parse(values[name])
        return cls(**values)

    def check(self, production: bool) -> None:
        """Production refuses a gateway any page may open a WebSocket to; development warns."""
        if self.allowed_origins and "*" not in self.allowed_origins:
            return
        if production:
            raise ValueError("JACKPOT_GATEWAY_ALLOWED_ORIGINS must list the casino pages' origins in production")
        log.warning("JACKPOT_GATEWAY_ALLOWED_ORIGINS is not set: any page may open a WebSocket "
                    "(production refuses to start so)")


def _origins(text: str) -> tuple[str, ...]:
    return tuple(normalise_origin(o) for o in text.split(",") if o.strip())


LISTS = {"allowed_origins": _origins, "trusted_proxies": parse_networks}
