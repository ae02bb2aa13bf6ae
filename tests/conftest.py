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
    os.environ["DATABASE_URL"] = url
    for cached in (get_settings, database.get_engine, database._sessionmaker):
        cached.cache_clear()
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
    from gridplanner.store.models import Base

    yield engine
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(db):
    """An API client whose requests share the test's rolled-back session."""
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.api.dependencies import get_session

    app = create_app()
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app) as c:
        yield c


def count(session: Session, table: str) -> int:
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
