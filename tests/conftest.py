"""Tests run against a real PostGIS: the embedded cluster, or the server of DATABASE_URL.

Each xdist worker gets a fresh database (``<name>_test_<worker>``) migrated with Alembic; each test runs in a
transaction that is rolled back, so tests never see each other's rows. Tests that must commit (CLI runs) use
``committed_db``, which empties the tables afterwards.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gridplanner.settings import Settings, get_settings
from gridplanner.store import database
from gridplanner.store.cluster import Cluster, create_database


def _libpq_dsn(url) -> str:
    return psycopg.conninfo.make_conninfo(
        host=url.host or "", port=str(url.port or 5432), user=url.username or "", password=url.password or "", dbname=url.database or "postgres"
    )


@pytest.fixture(scope="session")
def test_database_url(worker_id: str) -> str:
    base = Settings()
    if base.embedded:
        Cluster(base).start()
    server = make_url(database.database_url(base))
    name = f"{server.database}_test_{worker_id}"
    create_database(_libpq_dsn(server.set(database="postgres")), name, drop_first=True)
    url = server.set(database=name).render_as_string(hide_password=False)
    # Everything below (CLI, API, store) now resolves the test database through the usual settings.
    database.use_database(url)
    database.upgrade()
    return url


@pytest.fixture(scope="session")
def engine(test_database_url):
    return database.get_engine()


@pytest.fixture
def db(engine):
    """A session inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def committed_db(engine):
    """For tests whose code commits (the CLI, the server): the tables are emptied afterwards."""
    from gridplanner.lookup import answers
    from gridplanner.store.models import Base

    yield engine
    answers.reset()  # waits for a build of the lookup answers a server in the test began: it reads the tables
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} RESTART IDENTITY CASCADE"))


def _app(db):
    from gridplanner.api.app import create_app
    from gridplanner.api.dependencies import get_session

    app = create_app()
    app.dependency_overrides[get_session] = lambda: db
    return app


def login_as(session: Session, client, username: str, role: str, districts=()) -> None:
    """Give ``client`` the web session of a user (created when missing) without the cost of hashing a password."""
    from gridplanner.auth.sessions import COOKIE, open_session
    from gridplanner.store import models as m

    user = session.query(m.User).filter_by(username=username).one_or_none()
    if user is None:
        user = m.User(username=username, password_hash="!", role=role, districts=list(districts), active=True)
        session.add(user)
        session.flush()
    token, _ = open_session(session, user, hours=1)
    client.cookies.set(COOKIE, token)


@pytest.fixture
def anon_client(db):
    """An API client with no session and no key."""
    from fastapi.testclient import TestClient

    with TestClient(_app(db)) as c:
        yield c


@pytest.fixture
def client(db):
    """An API client logged in as an admin, whose requests share the test's rolled-back session."""
    from fastapi.testclient import TestClient

    with TestClient(_app(db)) as c:
        login_as(db, c, "test-admin", "admin")
        yield c


@pytest.fixture
def client_as(db):
    """A factory: ``client_as("planner", districts=["330106"])`` is a client logged in with that role."""
    from fastapi.testclient import TestClient

    opened = []

    def make(role: str, districts=(), username: str | None = None):
        c = TestClient(_app(db))
        c.__enter__()
        opened.append(c)
        login_as(db, c, username or f"test-{role}-{'-'.join(districts) or 'all'}", role, districts)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def api_key_client(db):
    """A factory: ``api_key_client("lookup")`` is a client sending a new API key with that scope."""
    from fastapi.testclient import TestClient

    from gridplanner.auth.accounts import create_key

    opened = []

    def make(*scopes: str):
        _, token = create_key(db, "test-system", list(scopes))
        c = TestClient(_app(db), headers={"X-API-Key": token})
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def count(session: Session, table: str) -> int:
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
