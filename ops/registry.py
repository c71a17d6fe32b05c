"""A local Confluent-compatible schema registry: Apicurio Registry, as a local Java process.

Why Apicurio: Confluent's own registry is not published to Maven Central and Karapace is not
on PyPI; Apicurio Registry is (``io.apicurio:apicurio-registry-app``, a ready-to-run Quarkus
build attached as ``-all.tar.gz``) and serves the Confluent REST API under
``/apis/ccompat/v7``, including per-subject compatibility levels such as FULL_TRANSITIVE.
3.0.9 is the newest release line that runs on Java 17 (3.1 and later need Java 21).

Like the rest of the local stack: fetched once into the cache directory with Maven, started
only when asked, on a non-default port bound to 127.0.0.1, with its own data directory (an
H2 file database, so schema ids survive a restart and keep matching the messages already in
Kafka), recorded in a pid file; ``up`` is idempotent and ``down`` stops only a process this
module started. ``SchemaRegistryService(settings).up()`` is the call to wire into the stack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from jackpot.ops.stack import Service, StackError, apt_install, cmdline, java17, log, pid_alive, port_open
from jackpot.settings import Settings, get_settings

APICURIO_VERSION = "3.0.9"
DEFAULT_PORT = 18081
CCOMPAT_PATH = "/apis/ccompat/v7"
MARKER = "apicurio-registry-app"


def registry_port_from_env() -> int:
    """Port of the local registry (``JACKPOT_REGISTRY_PORT``, default 18081)."""
    return Settings().registry_port


def local_registry_url(port: int | None = None, host: str = "127.0.0.1") -> str:
    """The Confluent-compatible base URL to use as ``SCHEMA_REGISTRY_URL``."""
    return f"http://{host}:{port or registry_port_from_env()}{CCOMPAT_PATH}"


class SchemaRegistryService:
    """Install, start, stop and inspect the local Apicurio Registry."""

    def __init__(
        self, settings: Settings | None = None, port: int | None = None, version: str = APICURIO_VERSION
    ) -> None:
        self.s = settings or get_settings()
        self.version = version
        self.svc = Service("schema-registry", "127.0.0.1", port or registry_port_from_env())
        self.dir = self.s.stack_dir
        self.home = self.dir / "schema-registry"

    @property
    def url(self) -> str:
        return local_registry_url(self.svc.port, self.svc.host)

    # ---------------------------------------------------------------- install
    def install(self) -> Path:
        """The runner jar, fetched from Maven Central into the cache once."""
        target = self.s.cache_dir / f"apicurio-registry-{self.version}"
        jar = target / f"apicurio-registry-app-{self.version}-runner.jar"
        if jar.exists():
            return jar
        if not shutil.which("mvn"):
            apt_install("maven")
        target.parent.mkdir(parents=True, exist_ok=True)
        log(f"schema-registry: fetching Apicurio Registry {self.version} from Maven Central")
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            res = subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "dependency:copy",
                    f"-Dartifact=io.apicurio:apicurio-registry-app:{self.version}:tar.gz:all",
                    f"-DoutputDirectory={tmp}",
                ],
                cwd=tmp,
                capture_output=True,
                text=True,
            )
            archive = Path(tmp) / f"apicurio-registry-app-{self.version}-all.tar.gz"
            if res.returncode != 0 or not archive.exists():
                tail = (res.stdout + res.stderr)[-2000:]
                raise StackError(f"schema-registry: download failed (mvn exit {res.returncode}):\n{tail}")
            unpacked = Path(tmp) / "app"
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
            if not (unpacked / jar.name).exists():
                raise StackError(f"schema-registry: {jar.name} not found in {archive.name}")
            os.replace(unpacked, target)
        return jar

    # ----------------------------------------------------------------- status
    def _ours(self, pid: int) -> bool:
        line = cmdline(pid)
        return pid_alive(pid) and MARKER in line and f"-Dquarkus.http.port={self.svc.port}" in line

    def running(self) -> bool:
        pid = self.svc.recorded_pid(self.dir)
        return pid is not None and self._ours(pid) and port_open(self.svc.host, self.svc.port)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def status(self) -> str:
        if self.running():
            return f"running pid={self.svc.recorded_pid(self.dir)} url={self.url}"
        return "stopped"

    # ------------------------------------------------------------- up / down
    def up(self, timeout: float = 120.0) -> bool:
        """Start the registry unless it runs; True when started now (so the caller may stop it)."""
        if self.running():
            log(f"schema-registry: already running on {self.url}")
            return False
        if port_open(self.svc.host, self.svc.port):
            raise StackError(
                f"schema-registry: port {self.svc.port} is taken by a process this stack did not start; "
                "stop it, set JACKPOT_REGISTRY_PORT, or point SCHEMA_REGISTRY_URL at your registry"
            )
        t0 = time.monotonic()
        java = java17("schema-registry")
        jar = self.install()
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        logfile = self.home / "registry.log"
        argv = [
            java,
            "-Xms64m",
            "-Xmx384m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dquarkus.http.host={self.svc.host}",
            f"-Dquarkus.http.port={self.svc.port}",
            "-Dquarkus.management.enabled=false",
            "-Dquarkus.http.access-log.enabled=false",
            f"-Dapicurio.datasource.url=jdbc:h2:file:{data / 'registry'}",
            "-Dapicurio.datasource.jdbc.initial-size=2",
            "-Dapicurio.datasource.jdbc.min-size=2",
            "-Dapicurio.datasource.jdbc.max-size=10",
            # look-ups match on the canonical form, so re-formatting a schema finds the same id
            "-Dapicurio.ccompat.use-canonical-hash=true",
            "-jar",
            str(jar),
        ]
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )
        self.svc.pidfile(self.dir).write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if self.ready():
                log(f"schema-registry: started on {self.url} in {time.monotonic() - t0:.1f}s")
                return True
            time.sleep(0.3)
        tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        if proc.poll() is None:
            proc.terminate()
        self.svc.pidfile(self.dir).unlink(missing_ok=True)
        raise StackError(f"schema-registry did not become ready on {self.url}; last log lines:\n{tail}")

    def down(self, timeout: float = 20.0) -> bool:
        """Stop the registry if this module started it; True when stopped now."""
        pid = self.svc.recorded_pid(self.dir)
        if pid is None or not self._ours(pid):
            self.svc.pidfile(self.dir).unlink(missing_ok=True)
            return False
        os.kill(pid, 15)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, 9)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        self.svc.pidfile(self.dir).unlink(missing_ok=True)
        log(f"schema-registry: stopped (pid {pid})")
        return True


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    cmd = args[0] if args else "status"
    service = SchemaRegistryService()
    try:
        if cmd == "up":
            service.up()
            print(service.url)
        elif cmd == "down":
            service.down()
        elif cmd == "url":
            print(service.url)
        elif cmd == "status":
            print(service.status())
        else:
            print("usage: python -m jackpot.ops.registry [up|down|status|url]", file=sys.stderr)
            return 2
    except StackError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
