"""A real PostgreSQL server for the tests (issue 15 item 6), started here, stopped at the
end of the session: Debian's versioned binaries (``initdb``/``pg_ctl`` are not on PATH),
a temporary data directory, a free loopback port, no systemd. PostgreSQL refuses to run
as root, so as root it runs as the ``postgres`` user (``runuser``). ``make postgresql``
installs the Debian package when missing; a missing server fails, it is never skipped.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "postgres_server"]


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server not installed (Debian: `make postgresql`)")


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.parent.name)
    except ValueError:
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory on 127.0.0.1:``port``."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="simrig-pg-"))
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self._schemas = itertools.count(1)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "simrig", "-E", "UTF8")
        log = str(self.dir / "server.log")
        for attempt in range(3):  # a free port may be taken before the server binds it
            self.port = _free_port()
            options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
            try:
                self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.url = f"postgresql://simrig@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")

    def fresh_url(self) -> str:
        """The URL of a new, empty schema (one per test: no state leaks between tests)."""
        import psycopg

        name = f"t{next(self._schemas)}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


_shared: list[PostgresServer] = []
_users = 0


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (one per session even if two conftests import
    this fixture); stopped when its last user's session ends."""
    global _users
    if not _shared:
        _shared.append(PostgresServer())
    _users += 1
    try:
        yield _shared[0]
    finally:
        _users -= 1
        if _users == 0:
            _shared.pop().stop()
