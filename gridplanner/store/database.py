"""Connections: the engine for ``DATABASE_URL`` or the embedded cluster, sessions, schema upgrades."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gridplanner.settings import Settings, get_settings
from gridplanner.store.cluster import Cluster

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def database_url(settings: Settings | None = None) -> str:
    """The SQLAlchemy URL in use: ``DATABASE_URL`` (any postgres:// form) or the embedded cluster's."""
    settings = settings or get_settings()
    if not settings.database_url:
        return Cluster(settings).url
    url = make_url(settings.database_url)
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def use_database(url: str) -> None:
    """Point this process's store at ``url`` from now on (tests and benchmarks use databases of their own).
    The environment is left alone: a child process is told its database explicitly."""
    from gridplanner.settings import configure

    configure(database_url=url)
    for cached in (get_engine, _sessionmaker):
        cached.cache_clear()


def make_engine(url: str) -> Engine:
    # pre_ping lets requests recover by themselves after PostgreSQL restarts under a running server.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache
def get_engine() -> Engine:
    return make_engine(database_url())


@lru_cache
def _sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def new_session() -> Session:
    """A session on the store (no connection is taken until it is used)."""
    return _sessionmaker()()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session whose work is committed at the end of the block, or rolled back whole on error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url().replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection | None = None, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic), on ``connection`` or the configured database."""
    command.upgrade(alembic_config(connection), revision)


def server_versions(connection: Connection) -> dict[str, str]:
    row = connection.execute(text("SELECT current_setting('server_version'), postgis_lib_version()")).one()
    return {"postgres": row[0], "postgis": row[1]}
