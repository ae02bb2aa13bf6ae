"""The embedded PostGIS cluster under ``GRIDPLANNER_HOME``, used when no ``DATABASE_URL`` is set.

It listens on 127.0.0.1 at its own port (default 54329) with its socket in its own folder, so it never clashes
with a system PostgreSQL. PostgreSQL refuses to run as root, so when we are root the cluster belongs to the
``postgres`` user that Debian's packages create.
"""

from __future__ import annotations

import fcntl
import glob
import os
import pwd
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from gridplanner.settings import Settings


class ClusterError(RuntimeError):
    """The embedded cluster could not be set up, started or reached."""


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries on this machine (Debian keeps them per version)."""
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if Path(cand, "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ClusterError("PostgreSQL server binaries not found: run `make setup` (installs postgresql and postgis)")


def _run_as() -> str | None:
    """The user to run server binaries as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterError("running as root but there is no 'postgres' user; install PostgreSQL with `make setup`") from None
    return "postgres"


def _cmd(args: list[str]) -> list[str]:
    user = _run_as()
    return ["runuser", "-u", user, "--", *args] if user else args


@dataclass
class Cluster:
    settings: Settings

    @property
    def data_dir(self) -> Path:
        return self.settings.pg_data_dir

    @property
    def socket_dir(self) -> Path:
        return self.settings.home / "run"

    @property
    def log_file(self) -> Path:
        return self.settings.home / "postgresql.log"

    @property
    def url(self) -> str:
        s = self.settings
        return f"postgresql+psycopg://postgres@127.0.0.1:{s.pg_port}/{s.pg_database}"

    def admin_dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.settings.pg_port} user=postgres dbname={dbname}"

    def _own(self, *paths: Path) -> None:
        user = _run_as()
        if user:
            pw = pwd.getpwnam(user)
            for p in paths:
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster if it does not exist yet (idempotent)."""
        if self.initialised():
            return
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self._own(self.data_dir, self.socket_dir)
        args = [str(pg_bindir() / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]
        res = subprocess.run(_cmd(args), capture_output=True, text=True)
        if res.returncode != 0:
            raise ClusterError(f"initdb failed:\n{res.stdout}\n{res.stderr}")
        conf = self.data_dir / "postgresql.auto.conf"
        with conf.open("a") as fh:
            fh.write(
                "# written by gridplanner: its own port and socket, loopback only\n"
                f"listen_addresses = '127.0.0.1'\nport = {self.settings.pg_port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 200\nshared_buffers = '256MB'\nwork_mem = '32MB'\n"
                "maintenance_work_mem = '256MB'\nmax_wal_size = '2GB'\n"
            )

    def running(self) -> bool:
        res = subprocess.run(_cmd([str(pg_bindir() / "pg_ctl"), "-D", str(self.data_dir), "status"]), capture_output=True, text=True)
        return res.returncode == 0

    @contextmanager
    def _locked(self):
        # Several processes (pytest workers, a CLI and a server) may start the cluster at once: one at a time.
        self.settings.home.mkdir(parents=True, exist_ok=True)
        with open(self.settings.home / "cluster.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def start(self) -> None:
        """Initialise if needed, start if not running, and make sure the database and PostGIS exist."""
        with self._locked():
            self._start()

    def _start(self) -> None:
        self.init()
        if not self.running():
            self.log_file.touch()
            self._own(self.log_file)
            args = [str(pg_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"]
            res = subprocess.run(_cmd(args), capture_output=True, text=True)
            if res.returncode != 0:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise ClusterError(f"could not start PostgreSQL on port {self.settings.pg_port}:\n{res.stderr}\n{tail}")
        self.wait_ready()
        self.ensure_database(self.settings.pg_database)

    def stop(self) -> None:
        if self.initialised() and self.running():
            subprocess.run(_cmd([str(pg_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]), check=True, capture_output=True)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"PostgreSQL on port {self.settings.pg_port} does not answer: {exc}") from None
                time.sleep(0.2)

    def ensure_database(self, name: str) -> None:
        create_database(self.admin_dsn(), name)


def create_database(admin_dsn: str, name: str, *, drop_first: bool = False) -> None:
    """Create database ``name`` with PostGIS on the server of ``admin_dsn`` (a libpq DSN to any database)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if drop_first:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
