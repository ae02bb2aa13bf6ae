"""What the benchmarks share: a database of their own on the project's PostGIS (DATABASE_URL, else the embedded
cluster), created fresh and dropped afterwards."""

from __future__ import annotations

import os
import re

import psycopg


def server_url() -> str:
    """A libpq URL of the server in use, starting the embedded cluster when it is the one."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        from gridplanner.cli.db import ensure_database
        from gridplanner.store.database import database_url

        ensure_database()
        url = database_url()
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead.

    >>> with_database("postgresql://u@h:1/a?x=1", "b")
    'postgresql://u@h:1/b?x=1'
    """
    scheme, rest = url.split("://", 1)
    return f"{scheme}://" + re.sub(r"/[^/?]*(\?|$)", rf"/{name}\1", rest, count=1)


def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` anew on the server of ``url``, migrate it and point the store at it."""
    from gridplanner.store import database

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    own = with_database(url, name)
    database.use_database(own)
    database.upgrade()
    return own


def drop_database(url: str, name: str) -> None:
    from gridplanner.store import database

    database.get_engine().dispose()
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
