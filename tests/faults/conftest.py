"""Fault fixtures: a throwaway PostgreSQL cluster this test alone may stop and start."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import flask_migrate
import pytest

from storefront import create_app
from storefront.extensions import db
from tests.conftest import _base_config

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresCluster:
    """initdb'd in a temporary directory, on a free loopback port; `stop()` and `start()` it
    as an outage would. As root the server runs as the postgres user (it refuses root)."""

    def __init__(self) -> None:
        if not (PG_BIN / "pg_ctl").exists():
            pytest.fail(f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)")
        self.as_root = os.geteuid() == 0
        self.data = Path(tempfile.mkdtemp(prefix="storefront-pg-"))
        if self.as_root:
            shutil.chown(self.data, "postgres", "postgres")
        self.port = _free_port()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "storefront")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/storefront"

    def _run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "log"), "-w", "-t", "60",
                  "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} "
                        "-c fsync=off -c max_connections=100", "start")

    def stop(self) -> None:
        """Shut down at once, cutting every open connection (pg_ctl -m fast)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture
def pg_cluster(stripe_emulator):
    """A migrated PostgreSQL database of this test's own, removed afterwards."""
    cluster = PostgresCluster()
    try:
        app = create_app(_base_config(cluster.url, stripe_emulator.base_url))
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()
        yield cluster
    finally:
        cluster.destroy()
