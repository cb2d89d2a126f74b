"""The storefront as it is deployed: gunicorn with the repository's gunicorn.conf.py and
several workers, a real redis-server for limits and the plan cache, and the Procfile's
processes. Redis is TEST_REDIS_URL when set (CI starts one), else a redis-server started here
on a free loopback port (skipped only when no redis-server is installed outside CI)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis
import requests

from tests.conftest import IN_CI
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
# Settings every production-like process here gets (the rest comes per test).
SECRET_KEY = "a-staging-secret-key-that-is-long-enough-for-the-checks"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url():
    """A Redis server for the run: TEST_REDIS_URL, else one of our own."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    server = shutil.which("redis-server")
    if server is None:
        if IN_CI:
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="storefront-redis-")
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        try:
            return redis.Redis.from_url(url).ping()
        except redis.ConnectionError:
            return False

    try:
        wait_for(answers, timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def fresh_redis(redis_url):
    """The Redis server, emptied before and after the test."""
    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    yield redis_url
    store.flushdb()
    store.close()


def staging_environment(database_url: str, redis: str, mail_port: int) -> dict[str, str]:
    """Production's settings and checks (STOREFRONT_ENV=staging: test keys, no emulator)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STRIPE_", "RATELIMIT_", "CACHE_", "PROXY_FIX_", "MAIL_"))}
    env.update({
        "STOREFRONT_ENV": "staging",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "STRIPE_SECRET_KEY": "sk_test_staging",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_staging",
        "STRIPE_WEBHOOK_SECRET": "whsec_staging",
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_port),
        "PUBLIC_BASE_URL": "https://shop.example.com",
        "TRUSTED_HOSTS": "shop.example.com",
        "RATELIMIT_STORAGE_URI": redis,
        "CACHE_REDIS_URL": redis.rsplit("/", 1)[0] + "/1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Gunicorn:
    """`gunicorn wsgi:app -c gunicorn.conf.py` from the repository root, on a free port; its
    access log (off in gunicorn.conf.py) is turned on here only to see which worker (pid)
    answered which request id."""

    def __init__(self, env: dict[str, str], workers: int = 2,
                 command: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (open while gunicorn runs)
            prefix="gunicorn-", suffix=".log", delete=False)
        self.access = Path(self.log.name + ".access")
        env = {**env, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)}
        command = command or ["gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"]
        assert command[0] == "gunicorn", command
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command,
             "--access-logfile", str(self.access),
             "--access-logformat", "%(p)s %({x-request-id}o)s %(s)s"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for(self._ready, timeout=90)
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.output()}")
        try:
            return requests.get(self.url + "/healthz", timeout=30,
                                headers={"Host": "shop.example.com"}).status_code == 200
        except requests.RequestException:
            return False

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def workers_by_request(self) -> dict[str, str]:
        """{request id: pid of the worker that answered it}, from the access log."""
        if not self.access.exists():
            return {}
        pairs = (line.split()[:2] for line in self.access.read_text().splitlines())
        return {request_id: pid for pid, request_id in pairs}

    def stop(self) -> None:
        if self.log.closed:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
        self.access.unlink(missing_ok=True)


@pytest.fixture
def gunicorn():
    """gunicorn(env, workers=2) -> a running Gunicorn; all are stopped after the test."""
    servers: list[Gunicorn] = []

    def start(env: dict[str, str], workers: int = 2) -> Gunicorn:
        servers.append(Gunicorn(env, workers))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class HeldRequest:
    """An HTTP request on its own connection, held back before its last bytes."""

    def __init__(self, base_url: str, raw: bytes) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = socket.create_connection((host, int(port)), timeout=60)
        self.connection.sendall(raw[:-4])
        self.rest = raw[-4:]

    def finish(self) -> int:
        """Send the rest; the response's status code."""
        self.connection.sendall(self.rest)
        answer = b""
        while chunk := self.connection.recv(65536):
            answer += chunk
        self.connection.close()
        return int(answer.split(b" ", 2)[1])


class Visitor:
    """A browser-like client of a production-like site over plain HTTP: keeps the session
    cookie itself (it is Secure, so a cookie jar would not send it back over http)."""

    def __init__(self, base_url: str, host: str = "shop.example.com") -> None:
        self.base_url = base_url
        self.headers = {"Host": host}
        self.session_cookie: str | None = None

    def get(self, path: str, **kwargs) -> requests.Response:
        response = requests.get(self.base_url + path, headers=self._headers(kwargs),
                                timeout=60, allow_redirects=False, **kwargs)
        self._keep(response)
        return response

    def post(self, path: str, **kwargs) -> requests.Response:
        response = requests.post(self.base_url + path, headers=self._headers(kwargs),
                                 timeout=60, allow_redirects=False, **kwargs)
        self._keep(response)
        return response

    def held_post(self, path: str, data: dict[str, str],
                  headers: dict[str, str] | None = None) -> HeldRequest:
        """A POST sent all but its last bytes: the worker that took it waits for them (and
        takes no other request) until HeldRequest.finish()."""
        body = urlencode(data).encode()
        lines = [f"POST {path} HTTP/1.1", "Connection: close",
                 "Content-Type: application/x-www-form-urlencoded",
                 f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in self._headers(
            {"headers": headers or {}}).items()]
        return HeldRequest(self.base_url, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def csrf_token(self, path: str) -> str:
        html = self.get(path).text
        return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def _headers(self, kwargs: dict) -> dict[str, str]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if self.session_cookie:
            headers["Cookie"] = f"session={self.session_cookie}"
        return headers

    def _keep(self, response: requests.Response) -> None:
        match = re.search(r"(?:^|[,\s])session=([^;]*)", response.headers.get("Set-Cookie", ""))
        if match:
            self.session_cookie = match.group(1) or None
