"""The web app end to end in headless Chromium: log-in, the dashboard and its filters, split, merge, undo, reshape,
moving buildings, re-planning a community, the English switch, a conflict between two planners and publishing
(with a conflict of its own), driven by tests/e2e/run.mjs (playwright-core from web/node_modules).

The server runs as its own process on a free 127.0.0.1 port against the test database, seeded with the sample
district (planned, published, staff and incidents) and one account per role. Screenshots are kept in
test-artifacts/e2e/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.e2e.seed import PASSWORD, create_users, seed_store

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "e2e" / "run.mjs"
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (CHROMIUM.exists() and shutil.which("node") and (ROOT / "web" / "node_modules" / "playwright-core").is_dir()),
    reason="needs /usr/bin/chromium, node and web/node_modules/playwright-core (scripts/setup.sh installs them)",
)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{(ARTIFACTS / 'server.log').read_text(encoding='utf-8', errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server did not answer on {base} within {seconds} s")


@pytest.fixture
def server(committed_db, test_database_url):
    with Session(committed_db) as session:
        seed_store(session)
        if not create_users(session):
            pytest.skip("no accounts module (gridplanner.auth.accounts): the web app needs log-in")
        session.commit()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": test_database_url, "GRIDPLANNER_RATE_LIMIT_PER_SECOND": "10000", "GRIDPLANNER_RATE_LIMIT_BURST": "100000"}
    # The server's output goes to a file: a pipe nobody reads fills up with the access log (64 KB) and the
    # server then blocks writing it, which stalled the later browser steps at random (a publish waiting 60 s).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "server.log", "w", encoding="utf-8")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gridplanner"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_web_app_end_to_end(server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BASE": server, "ARTIFACTS": str(ARTIFACTS), "PASSWORD": PASSWORD}
    run = subprocess.run(["node", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    (ARTIFACTS / "run.log").write_text(output, encoding="utf-8")
    assert run.returncode == 0, f"browser tests failed (screenshots in {ARTIFACTS}):\n{output}"
    # Every step ran (none skipped): the server has accounts and the editing API.
    for step in ("login", "dashboard", "split", "merge", "undo", "reshape", "move", "replan", "english", "conflict", "publish"):
        assert f"ok {step}" in output, f"step {step} did not pass:\n{output}"
