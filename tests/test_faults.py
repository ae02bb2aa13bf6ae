"""Faults survived: the server killed with SIGKILL during a publish and during an import leaves nothing
half-written; PostgreSQL restarted under a running server, requests recover without restarting the app.

Everything runs against a throwaway cluster in a temporary folder on a free port, and a real uvicorn process,
so the other test workers' databases are never disturbed. Each wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner import plans
from gridplanner.auth.accounts import create_user
from gridplanner.settings import Settings
from gridplanner.store import database
from gridplanner.store.cluster import Cluster
from tests.test_incidents import hotline_csv
from tests.test_plans import _load

pytestmark = pytest.mark.slow
PASSWORD = "fault-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Server:
    """``uvicorn gridplanner.api.app:create_app`` in a process of its own, logged in as an admin."""

    def __init__(self, url: str, home: Path):
        self.url, self.home, self.port = url, home, _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def start(self) -> Server:
        env = {**os.environ, "DATABASE_URL": self.url, "GRIDPLANNER_HOME": str(self.home)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "gridplanner.api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.home / f"server-{self.port}.log", "ab"),
        )
        _wait(self._up, 30, "the server to answer")
        res = self.http.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})
        assert res.status_code == 200, res.text
        return self

    def _up(self) -> bool:
        try:
            return self.http.get("/api/v1/health").status_code in (200, 503)
        except httpx.TransportError:
            return False

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.http.close()


@pytest.fixture(scope="module")
def throwaway():
    """A PostGIS cluster of its own (temporary folder, free port), migrated; removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="gp-faults-", dir="/tmp"))
    home.chmod(0o755)  # the cluster may run as the postgres user
    cluster = Cluster(Settings(home=home, pg_port=_free_port(), pg_database="faults", database_url=None))
    cluster.start()
    engine = database.make_engine(cluster.url)
    with engine.begin() as conn:
        database.upgrade(conn)
    with Session(engine) as s, s.begin():
        create_user(s, "root", PASSWORD, "admin")
    try:
        yield cluster, engine, home
    finally:
        engine.dispose()
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


def _blocked_backend(engine, table: str) -> dict | None:
    """The server's backend waiting for a lock, with whether its transaction already wrote something."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """SELECT pid, backend_xid IS NOT NULL AS wrote, left(query, 80) AS query FROM pg_stat_activity
                   WHERE wait_event_type = 'Lock' AND datname = current_database() AND pid <> pg_backend_pid()"""
            )
        ).mappings().first()
    return dict(row) if row else None


def _kill_while_blocked(server: Server, engine, table: str, request) -> dict:
    """Hold an exclusive lock on ``table``, send ``request`` in a thread, wait until the server's transaction
    is stuck on the lock, SIGKILL the server, release the lock."""
    holder = engine.connect()
    tx = holder.begin()
    holder.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
    errors: list = []
    thread = threading.Thread(target=lambda: _call(request, errors), daemon=True)
    thread.start()
    try:
        blocked = _wait(lambda: _blocked_backend(engine, table), 30, f"the server to block on {table}")
        server.kill9()
    finally:
        tx.rollback()
        holder.close()
    thread.join(timeout=10)
    assert errors, "the request should have died with the server"
    # PostgreSQL notices the lost client and rolls its transaction back.
    _wait(lambda: _blocked_backend(engine, table) is None and not _has_backend(engine, blocked["pid"]), 30, "the orphaned transaction to end")
    return blocked


def _has_backend(engine, pid: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).scalar_one())


def _call(request, errors: list) -> None:
    try:
        request()
    except httpx.TransportError as exc:
        errors.append(exc)


def _counts(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT status, count(*) FROM grid_plans GROUP BY status")).all())


def test_kill_9_during_publish_leaves_the_previous_plan_published(throwaway, tmp_path):
    cluster, engine, home = throwaway
    with Session(engine) as s, s.begin():
        _load(s, tmp_path)
        first = plans.create_draft(s, "v1", from_published=False)
        plans.divide_into_draft(s, first.id)
        plans.publish(s, first.id)
        second = plans.create_draft(s, "v2")
        first_id, second_id = first.id, second.id
    before = _counts(engine)
    server = Server(cluster.url.replace("+psycopg", ""), home).start()
    try:
        # grid_codes is written late in a publish, after the previous plan has been archived.
        blocked = _kill_while_blocked(server, engine, "grid_codes", lambda: server.http.post(f"/api/v1/plans/{second_id}/publish"))
        assert blocked["wrote"], blocked  # the publish was half-way: it had written rows when it died
    finally:
        server.stop()
    with engine.connect() as conn:
        status = dict(conn.execute(text("SELECT id, status FROM grid_plans")).all())
        audit = conn.execute(text("SELECT count(*) FROM audit_log WHERE action IN ('publish', 'POST /api/v1/plans/{plan_id}/publish')")).scalar_one()
    assert status[first_id] == "published" and status[second_id] == "draft"
    assert _counts(engine) == before and audit == 1  # the first plan's publish only

    server = Server(cluster.url.replace("+psycopg", ""), home).start()  # restarted: the publish now goes through
    try:
        res = server.http.post(f"/api/v1/plans/{second_id}/publish")
        assert res.status_code == 200 and res.json()["version"] == 2
    finally:
        server.stop()


def test_kill_9_during_an_import_writes_nothing(throwaway):
    cluster, engine, home = throwaway
    rows = [
        {"id": f"K{i:04d}", "category": "市容环境", "status": "上报", "reported_at": "2026-10-01T09:00:00+08:00", "lon": 120.1 + i * 1e-4, "lat": 30.27, "description": "垃圾"}
        for i in range(200)
    ]
    data = hotline_csv(rows)
    server = Server(cluster.url.replace("+psycopg", ""), home).start()
    try:
        blocked = _kill_while_blocked(
            # The rows are staged and the audit row is written; the INSERT into incidents waits for the lock.
            server, engine, "incidents", lambda: server.http.post("/api/v1/incidents/import", files={"file": ("h.csv", data, "text/csv")})
        )
        assert blocked["wrote"], blocked
    finally:
        server.stop()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM incident_events")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE entity = 'incidents'")).scalar_one() == 0
    server = Server(cluster.url.replace("+psycopg", ""), home).start()
    try:
        res = server.http.post("/api/v1/incidents/import", files={"file": ("h.csv", data, "text/csv")})
        assert res.status_code == 200, res.text
    finally:
        server.stop()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 200


def test_requests_recover_after_postgresql_restarts(throwaway):
    cluster, engine, home = throwaway
    server = Server(cluster.url.replace("+psycopg", ""), home).start()
    try:
        assert server.http.get("/api/v1/plans").status_code == 200
        engine.dispose()
        cluster.stop()
        down = server.http.get("/api/v1/plans")
        assert down.status_code == 503 and down.json()["detail_en"] == "database unavailable, try again shortly"
        cluster.start()
        # Same process, same pool: pre-ping throws away the dead connections.
        assert server.proc.poll() is None
        assert _wait(lambda: server.http.get("/api/v1/plans").status_code == 200, 20, "requests to succeed again")
        assert server.http.get("/api/v1/auth/me").json()["username"] == "root"  # the session survived in the table
    finally:
        server.stop()
