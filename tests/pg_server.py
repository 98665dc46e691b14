"""A throw-away PostgreSQL server for the tests: ``initdb`` in a temporary folder, ``pg_ctl`` on a
Unix socket there (no TCP port), removed afterwards. Needs Debian's ``postgresql`` package
(``scripts/setup.sh`` installs it). PostgreSQL refuses to run as root: as root (CI), the server
runs as the ``postgres`` user the package creates (``runuser``)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "ipe"  # the server's superuser in the throw-away cluster (trust authentication on the socket)


def _bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (bash scripts/setup.sh)")
    return found


class PgServer:
    """``durable=False`` (the tests) turns fsync off; benchmarks keep PostgreSQL's default (on)."""

    def __init__(self, durable: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ipe-pg-"))
        self.data, self.socket = self.root / "data", self.root / "socket"
        self.socket.mkdir()
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, self.socket):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(_bin("initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8")
        options = f"-k {self.socket} -c listen_addresses='' -c max_connections=200"
        if not durable:
            options += " -c fsync=off"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self._as, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout}{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@/{database}?host={self.socket}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # a generated name, no input
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
