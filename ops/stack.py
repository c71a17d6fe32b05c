"""The local stack: real Kafka (KRaft), PostgreSQL 15 and Redis 7 as local processes.

Why local processes: there is no container engine on the machines this project is
developed and tested on, and mocks of the broker or the database hide exactly the
failures (rebalances, commits, recovery) that matter for money.

Each service is installed if missing (Debian packages; the Kafka broker jars from
Maven Central into a cache directory), started with its own data directory on a
non-default port, and recorded in a pid file.  ``up`` is idempotent and reuses
what is already running; ``down`` stops only processes this stack started (it
checks the pid file's process is still ours before signalling it).  A service
whose URL is configured explicitly in the environment is left alone.

PostgreSQL refuses to run as root, so root runs it as the ``postgres`` user; when that
user cannot reach the stack directory (a clone in a home directory of mode 0700), its
data directory, socket and log go to a directory of this clone under
``/var/lib/jackpot-stack/`` instead.  Where they are is recorded in the stack directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from jackpot.ops.kafka_auth import SUPER_USER, LocalBus, apply_grants, grants
from jackpot.settings import Settings, get_settings

KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>jackpot.local</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies>
</project>
"""

KAFKA_LOG4J = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""


WANTED_OPEN_FILES = 1 << 20

# Where root keeps PostgreSQL's files when the ``postgres`` user cannot reach the stack directory:
# one directory per stack directory, named by a hash of its path.
PG_SHARED_BASE = Path("/var/lib/jackpot-stack")


def raise_open_files_limit() -> None:
    """Kafka keeps three files open per partition segment: with every topic a few hundred test
    runs create, the usual 1024-20000 descriptors run out and the broker shuts its log dir down.
    Raise the limit as far as this user may (root: to the kernel's maximum)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        nr_open = hard
    for limit in (min(WANTED_OPEN_FILES, nr_open), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
            return
        except (ValueError, OSError):
            continue


class StackError(RuntimeError):
    """A service could not be installed or started; the message says what to do."""


def log(msg: str) -> None:
    print(f"[stack] {msg}", file=sys.stderr, flush=True)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def apt_install(*packages: str) -> None:
    """Install Debian packages without letting their maintainer scripts start services."""
    if os.geteuid() != 0:
        raise StackError(
            f"missing {' '.join(packages)}: install them (sudo apt-get install {' '.join(packages)}) "
            "or configure the service URL"
        )
    log(f"installing {' '.join(packages)} (apt-get)")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as exc:
        raise StackError(f"apt-get install {' '.join(packages)} failed ({exc})") from exc
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)


def java17(who: str) -> str:
    """The java executable (installed if missing); ``who`` names the service in the error."""
    java = shutil.which("java")
    if java is None:
        apt_install("openjdk-17-jre-headless")
        java = shutil.which("java")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    try:
        major = int(out.split('"')[1].split(".")[0])
    except (IndexError, ValueError):
        major = 0
    if major < 17:
        raise StackError(f"{who} needs Java 17 or newer, found: {out.splitlines()[0] if out else '?'}")
    return java


@dataclass
class Service:
    name: str
    host: str
    port: int

    def pidfile(self, stack_dir: Path) -> Path:
        return stack_dir / f"{self.name}.pid"

    def recorded_pid(self, stack_dir: Path) -> int | None:
        try:
            return int(self.pidfile(stack_dir).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


class Stack:
    """Start and stop the three services for this checkout."""

    def __init__(self, settings: Settings | None = None, kafka_security: str | None = None,
                 manage: tuple[str, ...] | None = None) -> None:
        self.s = settings or get_settings()
        # exactly these services (e.g. a second, secured broker on ports of its own), else every
        # service not configured by URL
        self.manage = manage
        # "sasl_ssl": the broker authenticates (SCRAM over TLS) and authorises (ACLs) every client;
        # its CA and users' passwords are under the stack directory (``self.bus``).
        self.kafka_security = kafka_security or self.s.stack_kafka_security
        self.dir = self.s.stack_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        pg = urlparse(self.s.database_url)
        rd = urlparse(self.s.redis_url)
        self.kafka = Service("kafka", "127.0.0.1", self.s.kafka_port)
        self.postgres = Service("postgres", pg.hostname or "127.0.0.1", pg.port or 5432)
        self.redis = Service("redis", rd.hostname or "127.0.0.1", rd.port or 6379)
        self.pg_db = (pg.path or "/jackpot").lstrip("/") or "jackpot"
        self.pg_user = pg.username or "postgres"

    # ------------------------------------------------------------------ public
    def managed(self) -> list[Service]:
        if self.manage is not None:
            return [svc for svc in (self.kafka, self.postgres, self.redis) if svc.name in self.manage]
        out = []
        if not self.s.is_external("kafka_bootstrap_servers"):
            out.append(self.kafka)
        if not self.s.is_external("database_url"):
            out.append(self.postgres)
        if not self.s.is_external("redis_url"):
            out.append(self.redis)
        return out

    def up(self) -> list[str]:
        """Start what is not running; return the names of services started now."""
        started = []
        for svc in self.managed():
            if self._running(svc):
                if svc is self.kafka and str(self.kafka_home() / "server.properties") not in cmdline(
                        svc.recorded_pid(self.dir) or 0):
                    raise StackError(f"kafka: running with another listener than {self.kafka_security} "
                                     "(JACKPOT_STACK_KAFKA_SECURITY); `jackpot stack down` first to switch")
                log(f"{svc.name}: already running on {svc.host}:{svc.port}")
                continue
            if port_open(svc.host, svc.port):
                raise StackError(
                    f"{svc.name}: port {svc.port} is taken by a process this stack did not start; "
                    f"stop it or point the service elsewhere (see README: configuration)"
                )
            t0 = time.monotonic()
            getattr(self, f"_start_{svc.name}")(svc)
            log(f"{svc.name}: started on {svc.host}:{svc.port} in {time.monotonic() - t0:.1f}s")
            started.append(svc.name)
        return started

    def down(self, only: list[str] | None = None) -> list[str]:
        stopped = []
        for svc in reversed(self.managed()):
            if only is not None and svc.name not in only:
                continue
            pid = svc.recorded_pid(self.dir)
            if pid is None or not self._ours(svc, pid):
                svc.pidfile(self.dir).unlink(missing_ok=True)
                continue
            getattr(self, f"_stop_{svc.name}", self._stop_pid)(svc, pid)
            svc.pidfile(self.dir).unlink(missing_ok=True)
            log(f"{svc.name}: stopped (pid {pid})")
            stopped.append(svc.name)
        return stopped

    def status(self) -> dict[str, str]:
        out = {}
        for svc in (self.kafka, self.postgres, self.redis):
            if svc not in self.managed():
                out[svc.name] = "external"
            elif self._running(svc):
                out[svc.name] = f"running pid={svc.recorded_pid(self.dir)} port={svc.port}"
            else:
                out[svc.name] = "stopped"
        return out

    # --------------------------------------------------------------- helpers
    def _ours(self, svc: Service, pid: int) -> bool:
        if not pid_alive(pid):
            return False
        marker = {"kafka": "kafka.Kafka", "postgres": "postgres", "redis": "redis-server"}[svc.name]
        line = cmdline(pid)
        # Kafka's port is in its properties file, the others' on the command line.
        return marker in line and (svc.name == "kafka" or str(svc.port) in line)

    def _running(self, svc: Service) -> bool:
        pid = svc.recorded_pid(self.dir)
        return pid is not None and self._ours(svc, pid) and port_open(svc.host, svc.port)

    def _wait_port(self, svc: Service, proc: subprocess.Popen | None, logfile: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open(svc.host, svc.port):
                return
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        raise StackError(f"{svc.name} did not come up on port {svc.port}; last log lines:\n{tail}")

    def _spawn(self, svc: Service, argv: list[str], logfile: Path, **kw) -> subprocess.Popen:
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=raise_open_files_limit, **kw,
            )
        svc.pidfile(self.dir).write_text(f"{proc.pid}\n")
        return proc

    def _stop_pid(self, svc: Service, pid: int, timeout: float = 20.0) -> None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        # Reap our own child if it is one (demo/test runs start the stack in-process).
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    # ----------------------------------------------------------------- kafka
    @property
    def secured(self) -> bool:
        return self.kafka_security == "sasl_ssl"

    @property
    def bus(self) -> LocalBus:
        """The secured broker's CA, keystore and users (its own directory: a PLAINTEXT broker's
        metadata has no SCRAM users)."""
        return LocalBus(self.dir / "kafka-secured")

    def kafka_home(self) -> Path:
        return self.bus.home if self.secured else self.dir / "kafka"

    def client_settings(self, principal: str) -> Settings:
        """The stack's settings as ``principal`` (provider, worker, sinks, gateway, admin, ops) of
        its broker: what a child process gets (``to_env()``); unchanged for a PLAINTEXT broker."""
        return self.bus.client_settings(self.s, principal) if self.secured else self.s

    async def apply_acls(self, settings: Settings | None = None) -> None:
        """The ACLs of the deployment ``settings`` describes (default: the stack's) on a secured broker."""
        if self.secured:
            await apply_grants(self.client_settings(SUPER_USER), grants(settings or self.s))

    def kafka_libs(self) -> Path:
        """The broker's jars, resolved from Maven Central once into the cache."""
        version = self.s.kafka_version
        libs = self.s.cache_dir / f"kafka-{version}" / "libs"
        if (libs / f"kafka_2.13-{version}.jar").exists():
            return libs
        if not shutil.which("mvn"):
            apt_install("maven")
        libs.parent.mkdir(parents=True, exist_ok=True)
        log(f"kafka: fetching Apache Kafka {version} broker jars from Maven Central")
        with tempfile.TemporaryDirectory(dir=libs.parent) as tmp:
            (Path(tmp) / "pom.xml").write_text(KAFKA_POM.format(version=version))
            res = subprocess.run(
                ["mvn", "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={tmp}/libs",
                 "-DincludeScope=runtime"],
                cwd=tmp, capture_output=True, text=True,
            )
            if res.returncode != 0:
                raise StackError(
                    f"kafka: download of the broker jars failed (mvn exit {res.returncode}):\n"
                    f"{(res.stdout + res.stderr)[-2000:]}"
                )
            os.replace(Path(tmp) / "libs", libs)
        return libs

    def _start_kafka(self, svc: Service) -> None:
        java = java17("kafka")
        libs = self.kafka_libs()
        home = self.kafka_home()
        data = home / "data"
        data.mkdir(parents=True, exist_ok=True)
        ctl_port = svc.port + 1
        if port_open(svc.host, ctl_port):
            raise StackError(f"kafka: controller port {ctl_port} is taken by another process")
        props = home / "server.properties"
        if self.secured:
            self.bus.ensure_pki(svc.host)
            listeners = self.bus.broker_properties(svc.host, svc.port, ctl_port)
        else:
            listeners = [
                f"listeners=PLAINTEXT://{svc.host}:{svc.port},CONTROLLER://{svc.host}:{ctl_port}",
                f"advertised.listeners=PLAINTEXT://{svc.host}:{svc.port}",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        props.write_text(
            "\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{svc.host}:{ctl_port}",
                *listeners,
                "controller.listener.names=CONTROLLER",
                f"log.dirs={data}",
                # Source topics are pre-created with the partition count we mean.
                "auto.create.topics.enable=false",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=8",
                "group.initial.rebalance.delay.ms=0",
                "log.cleaner.backoff.ms=1000",
                "",
            ])
        )
        (home / "log4j.properties").write_text(KAFKA_LOG4J)
        cp = f"{libs}/*"
        if not (data / "meta.properties").exists():
            res = subprocess.run(
                [java, "-cp", cp, "kafka.tools.StorageTool", "format", "-t",
                 _kafka_cluster_id(), "-c", str(props), "--ignore-formatted",
                 *(self.bus.format_args() if self.secured else [])],
                capture_output=True, text=True,
            )
            if res.returncode != 0:
                raise StackError(f"kafka: storage format failed:\n{res.stdout}{res.stderr}")
        logfile = home / "kafka.log"
        proc = self._spawn(
            svc,
            [java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
             f"-Dlog4j.configuration=file:{home / 'log4j.properties'}",
             f"-Dkafka.logs.dir={home}", "-cp", cp, "kafka.Kafka", str(props)],
            logfile,
        )
        self._wait_port(svc, proc, logfile, timeout=90)
        # The port opens a moment before the broker registers; wait for the log line.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "Kafka Server started" in logfile.read_text(errors="replace"):
                if self.secured:
                    asyncio.run(self.apply_acls())
                return
            time.sleep(0.2)
        raise StackError("kafka: broker did not report 'Kafka Server started' within 60s")

    # -------------------------------------------------------------- postgres
    def _pg_bindir(self) -> Path:
        for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
            if (candidate / "postgres").exists() and candidate.parent.name >= "15":
                return candidate
        apt_install("postgresql-15")
        return Path("/usr/lib/postgresql/15/bin")

    def _as_pg(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
            kw.setdefault("cwd", "/")  # the caller's directory may be one postgres cannot enter
        return subprocess.run(argv, capture_output=True, text=True, **kw)

    def _pg_record(self) -> Path:
        return self.dir / "postgres.location"

    def pg_home(self) -> Path:
        """The directory of PostgreSQL's data directory, socket and log: the recorded one, else
        ``postgres/`` in the stack directory (where a stack without a record kept them)."""
        try:
            recorded = self._pg_record().read_text().strip()
        except OSError:
            recorded = ""
        return Path(recorded) if recorded else self.dir.absolute() / "postgres"

    def _pg_shared_home(self) -> Path:
        """This stack directory's own directory under PG_SHARED_BASE: two clones never share one."""
        where = self.dir.resolve()
        digest = hashlib.sha256(str(where).encode()).hexdigest()[:16]
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in where.parent.name)[:32]
        return PG_SHARED_BASE / f"{name or 'stack'}-{digest}"

    def _pg_reaches(self, path: Path) -> bool:
        """True when the ``postgres`` user can reach ``path`` (search permission all the way)."""
        try:
            res = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(path.absolute())],
                                 capture_output=True, cwd="/")
        except OSError:
            return False
        return res.returncode == 0

    def _pg_choose_home(self) -> Path:
        """Where a stack without a record keeps PostgreSQL's files; recorded for later runs."""
        local = self.dir.absolute() / "postgres"
        if (local / "data" / "PG_VERSION").exists() or os.geteuid() != 0 or self._pg_reaches(self.dir):
            home = local
        else:
            home = self._pg_shared_home()
            if home.exists():
                # Left by an earlier clone at this path (or by this one before its .stack/ was
                # removed): the database goes with the stack directory, as Kafka's data does.
                pid_file = home / "data" / "postmaster.pid"
                try:
                    pid = int(pid_file.read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    pid = None
                if pid is not None and pid_alive(pid) and "postgres" in cmdline(pid):
                    raise StackError(
                        f"postgres: {home} is in use by a PostgreSQL (pid {pid}) this stack has no "
                        f"record of; stop it (pg_ctl -D {home / 'data'} stop) or remove {home}"
                    )
                log(f"postgres: removing {home}, left without a record by an earlier stack at this path")
                shutil.rmtree(home)
            PG_SHARED_BASE.mkdir(parents=True, exist_ok=True)
            PG_SHARED_BASE.chmod(0o755)  # postgres must pass through it, whatever the umask
        self._pg_record().write_text(f"{home}\n")
        return home

    def _start_postgres(self, svc: Service) -> None:
        bindir = self._pg_bindir()
        home = self.pg_home() if self._pg_record().exists() else self._pg_choose_home()
        data = home / "data"
        shared = home.parent == PG_SHARED_BASE
        home.mkdir(mode=0o700 if shared else 0o777, parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(home, "postgres", "postgres")
            if shared:
                home.chmod(0o700)
        if not (data / "PG_VERSION").exists():
            res = self._as_pg([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                               "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
            if res.returncode != 0:
                raise StackError(f"postgres: initdb failed:\n{res.stdout}{res.stderr}")
        logfile = home / "postgres.log"
        res = self._as_pg([
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w", "-t", "60",
            "-o", f"-p {svc.port} -k {home} -c listen_addresses={svc.host} "
                  "-c max_connections=200 -c shared_buffers=256MB -c fsync=on "
                  "-c synchronous_commit=on -c max_wal_size=2GB",
            "start",
        ])
        if res.returncode != 0:
            tail = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
            raise StackError(f"postgres: pg_ctl start failed:\n{res.stdout}{res.stderr}\n{tail}")
        pid = int((data / "postmaster.pid").read_text().split()[0])
        svc.pidfile(self.dir).write_text(f"{pid}\n")
        self._wait_port(svc, None, logfile, timeout=30)
        psql = [str(bindir / "psql"), "-h", svc.host, "-p", str(svc.port), "-U", "postgres", "-tAq"]
        exists = self._as_pg([*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{self.pg_db}'"])
        if exists.stdout.strip() != "1":
            res = self._as_pg([*psql, "-c", f'CREATE DATABASE "{self.pg_db}"'])
            if res.returncode != 0:
                raise StackError(f"postgres: create database failed: {res.stderr}")

    def _stop_postgres(self, svc: Service, pid: int) -> None:
        bindir = self._pg_bindir()
        res = self._as_pg([str(bindir / "pg_ctl"), "-D", str(self.pg_home() / "data"),
                           "-m", "fast", "-w", "stop"])
        if res.returncode != 0 and pid_alive(pid):
            self._stop_pid(svc, pid)

    # ----------------------------------------------------------------- redis
    def _start_redis(self, svc: Service) -> None:
        exe = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
        if exe is None:
            apt_install("redis-server")
            exe = "/usr/bin/redis-server"
        version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        if " v=" in version and int(version.split(" v=")[1].split(".")[0]) < 7:
            raise StackError(f"redis 7 or newer is needed, found: {version.strip()}")
        home = self.dir / "redis"
        home.mkdir(parents=True, exist_ok=True)
        logfile = home / "redis.log"
        proc = self._spawn(
            svc,
            [exe, "--port", str(svc.port), "--bind", svc.host, "--dir", str(home),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"],
            logfile,
        )
        self._wait_port(svc, proc, logfile, timeout=20)


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, never starting with
    "-" (the storage tool would read it as an option and refuse to format: one start in 64
    failed so), which is also why Kafka's own ``Uuid.randomUuid`` draws again in that case."""
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    cmd = args[0] if args else "status"
    stack = Stack()
    try:
        if cmd == "up":
            stack.up()
        elif cmd == "down":
            stack.down()
        elif cmd == "status":
            print(json.dumps(stack.status(), indent=2))
        else:
            print("usage: python -m jackpot.ops.stack up|down|status", file=sys.stderr)
            return 2
    except StackError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
