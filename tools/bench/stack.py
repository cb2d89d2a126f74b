"""The production stack on loopback for `make bench`: PostgreSQL, Redis, an SMTP sink, the
Stripe emulator, the mail worker and gunicorn servers; everything started is stopped again."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PGBIN = Path(os.environ.get("BENCH_PGBIN", "/usr/lib/postgresql/15/bin"))
WEBHOOK_SECRET = "whsec_" + "b" * 32  # placeholder: only this harness signs events with it


class BenchError(RuntimeError):
    """Something the harness needs is missing or did not start."""


@dataclass(frozen=True)
class Ports:
    """Every port the run listens on (all on 127.0.0.1)."""

    app: int
    hello: int
    checkout: int
    postgres: int
    redis: int
    emulator: int
    smtp: int

    @classmethod
    def from_env(cls) -> Ports:
        """BENCH_PORT_BASE moves the three web servers; the services have their own knobs."""
        base = int(os.environ.get("BENCH_PORT_BASE", "5240"))
        return cls(
            app=base + 1, hello=base + 2, checkout=base + 3,
            postgres=int(os.environ.get("BENCH_PG_PORT", "25441")),
            redis=int(os.environ.get("BENCH_REDIS_PORT", "26441")),
            emulator=int(os.environ.get("BENCH_EMULATOR_PORT", "8441")),
            smtp=int(os.environ.get("BENCH_SMTP_PORT", "2541")),
        )

    def check_free(self) -> None:
        """Fail early, naming the port, when one is already in use."""
        for name, port in vars(self).items():
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    raise BenchError(f"port {port} ({name}) is in use; set BENCH_PORT_BASE or "
                                     f"BENCH_*_PORT to free ones") from None


def wait_until(condition, timeout: float, what: str):
    """Poll `condition` until it returns something truthy, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = condition()
            if result:
                return result
        time.sleep(0.1)
    raise BenchError(f"{what} did not become ready within {timeout:.0f} s")


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def worker_pids(master_pid: int) -> list[int]:
    """The pids of a gunicorn master's worker processes."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # Field 4 (after the parenthesised command name) is the parent pid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
                children.append(int(entry.name))
    return sorted(children)


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


@dataclass
class Server:
    """One gunicorn master serving on 127.0.0.1:port."""

    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """Its worker pids."""
        return worker_pids(self.process.pid)


@dataclass
class Stack:
    """Starts services one by one and stops all of them (newest first) on close()."""

    ports: Ports
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench.")))
    _exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    env: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        """Stop everything that was started and remove the temporary files."""
        try:
            self._exit.close()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _log(self, name: str):
        return self._exit.enter_context((self.workdir / f"{name}.log").open("w"))

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None,
               ) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, env=env or os.environ.copy(),
                                   stdout=self._log(name), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self._exit.callback(stop_process, process)
        return process

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The end of a service's log, for error messages."""
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else ""

    # PostgreSQL: a throwaway cluster with the defaults (fsync on), on loopback only.
    def start_postgres(self) -> str:
        """initdb + start a cluster; return the DATABASE_URL of an empty storefront database."""
        if not (PGBIN / "initdb").exists():
            raise BenchError(f"PostgreSQL binaries not found in {PGBIN} (set BENCH_PGBIN)")
        data = self.workdir / "pgdata"
        data.mkdir()
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_postgres:
            shutil.chown(self.workdir, "postgres")
            shutil.chown(data, "postgres", "postgres")
        subprocess.run([*as_postgres, str(PGBIN / "initdb"), "-D", str(data), "-U", "postgres",
                        "-A", "trust", "-E", "UTF8"], check=True, capture_output=True)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.ports.postgres} -k {data} "
                   "-c max_connections=100")
        ctl = [*as_postgres, str(PGBIN / "pg_ctl"), "-D", str(data)]
        subprocess.run([*ctl, "-l", str(data / "server.log"), "-w", "-t", "60", "-o", options,
                        "start"], check=True, capture_output=True)
        self._exit.callback(subprocess.run, [*ctl, "-m", "fast", "-w", "stop"],
                            capture_output=True, check=False)
        url = f"postgresql+psycopg://postgres@127.0.0.1:{self.ports.postgres}/storefront"
        subprocess.run([*as_postgres, str(PGBIN / "createdb"), "-h", "127.0.0.1", "-p",
                        str(self.ports.postgres), "-U", "postgres", "storefront"],
                       check=True, capture_output=True)
        return url

    def start_redis(self) -> str:
        """A redis-server with no persistence; return its URL."""
        if not shutil.which("redis-server"):
            raise BenchError("redis-server not found (apt-get install redis-server)")
        self._spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port",
                              str(self.ports.redis), "--save", "", "--appendonly", "no"])
        wait_until(lambda: _accepts(self.ports.redis), 20, "redis-server")
        return f"redis://127.0.0.1:{self.ports.redis}"

    def start_smtp_sink(self) -> None:
        """An SMTP server accepting and discarding every message (tools/bench/smtp_sink.py),
        the mail worker's stand-in for the mail provider."""
        self._spawn("smtp", [sys.executable, "-m", "tools.bench.smtp_sink", str(self.ports.smtp)])
        wait_until(lambda: _accepts(self.ports.smtp), 20, "the SMTP sink")

    def start_emulator(self) -> str:
        """The Stripe emulator (localstripe) for the checkout figure; return its base URL."""
        self._spawn("emulator", [sys.executable, "-m", "storefront.stripe_emulator",
                                 "--port", str(self.ports.emulator)])
        wait_until(lambda: _accepts(self.ports.emulator), 60, "the Stripe emulator")
        return f"http://127.0.0.1:{self.ports.emulator}"

    def production_env(self, database_url: str, redis_url: str) -> dict[str, str]:
        """The environment README's "Deploying" section asks for, with placeholder live keys."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("STRIPE_", "RATELIMIT_", "CACHE_", "PROXY_FIX_", "MAIL_",
                                    "STOREFRONT_", "BIND", "WEB_CONCURRENCY"))}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "FLASK_APP": "wsgi.py",
            "STOREFRONT_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": database_url,
            "STRIPE_SECRET_KEY": "sk_live_" + "0" * 24,  # placeholders: never sent anywhere
            "STRIPE_PUBLISHABLE_KEY": "pk_live_" + "0" * 24,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.ports.app}",
            "TRUSTED_HOSTS": "127.0.0.1,localhost",
            "RATELIMIT_STORAGE_URI": f"{redis_url}/0",
            "CACHE_REDIS_URL": f"{redis_url}/1",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(self.ports.smtp),
            "WEB_CONCURRENCY": "2",
            "GUNICORN_LOGLEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        })
        self.env = env
        return env

    def flask(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a `flask …` command (release steps); return its output."""
        done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env or self.env,
                              capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise BenchError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start_mail_worker(self) -> None:
        """The Procfile's worker process: `flask mail deliver --watch`."""
        self._spawn("mail-worker", [str(BIN / "flask"), "mail", "deliver", "--watch"],
                    env=self.env)

    def start_gunicorn(self, name: str, app: str, port: int, env: dict[str, str] | None = None,
                       probe: str = "/healthz") -> Server:
        """gunicorn APP -c gunicorn.conf.py bound to 127.0.0.1:port; wait until it answers."""
        env = dict(env or self.env, BIND=f"127.0.0.1:{port}")
        process = self._spawn(name, [str(BIN / "gunicorn"), app, "-c", "gunicorn.conf.py"],
                              env=env)
        server = Server(name, port, process)

        def answers() -> bool:
            if process.poll() is not None:
                raise BenchError(f"{name} exited:\n{self.log_tail(name)}")
            return requests.get(server.url + probe, timeout=5).status_code == 200

        try:
            wait_until(answers, 60, name)
        except BenchError as error:
            raise BenchError(f"{error}\n{self.log_tail(name)}") from None
        wait_until(lambda: len(server.workers()) >= int(env.get("WEB_CONCURRENCY", "2")), 30,
                   f"{name}'s workers")
        return server

    def restart(self, server: Server, app: str, env: dict[str, str] | None = None) -> Server:
        """Stop a gunicorn and start a fresh one on the same port (fresh workers)."""
        stop_process(server.process)
        return self.start_gunicorn(server.name, app, server.port, env=env)


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
