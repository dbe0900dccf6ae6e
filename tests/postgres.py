"""A real PostgreSQL server for the database tests, started and stopped by the suite itself.

Debian's ``postgresql`` package (``make db-deps`` installs it) puts ``initdb`` and ``pg_ctl`` in
``/usr/lib/postgresql/<version>/bin``. Both refuse to run as root, and the suite runs as root in
CI, so they run as the ``postgres`` user there. The cluster lives in a temporary folder, listens
on a free loopback port and trusts local connections; each test gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy

from tests.real_server import free_port

SUPERUSER = "postgres"


def server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise RuntimeError(
            "PostgreSQL's server is not installed: run `make db-deps` (Debian's postgresql)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    binaries: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        user = f"{SUPERUSER}:{password}" if password else SUPERUSER
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its name."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        engine = sqlalchemy.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return name

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        run_as_postgres([str(self.binaries / program), *args])


def start_postgres(*, durable: bool = False) -> PostgresServer:
    """A new cluster; ``durable`` keeps fsync on (benchmarks), tests run faster without it."""
    binaries = server_binaries()
    # Not under pytest's basetemp: its folders are private to root, and the server runs as
    # postgres, which must reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="segment-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
    server = PostgresServer(binaries, root, free_port())
    server._run(
        "initdb", "-D", str(server.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"
    )
    options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1"
    if not durable:
        options += " -c fsync=off"
    server._run(
        "pg_ctl",
        "-D",
        str(server.data),
        "-l",
        str(root / "server.log"),
        "-o",
        options,
        "-w",
        "start",
    )
    return server


def run_as_postgres(command: Sequence[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", SUPERUSER, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
