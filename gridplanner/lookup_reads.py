"""One-statement reads for the single-point lookup, on autocommit connections of their own.

A lookup through the request's session costs four round trips (the pool's ping, BEGIN, the query, COMMIT) and
SQLAlchemy's session machinery around them; here it is one prepared statement, which sees what a fresh
transaction would see. There is no ping: a connection found broken is dropped and the statement retried once on
a new one, so a PostgreSQL restart costs no request.
"""

from __future__ import annotations

import threading

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from gridplanner.store import database

_engines: dict[Engine, Engine] = {}  # the store's engine -> ours, on the same database
_lock = threading.Lock()


def _engine() -> Engine:
    main = database.get_engine()  # cached; changes when a test or bench points the store elsewhere
    engine = _engines.get(main)
    if engine is None:
        with _lock:
            engine = _engines.get(main) or create_engine(
                # A connection is held for one statement, plus however long its thread then waits for the GIL:
                # under 32 concurrent clients about 16 per process are out at once, and with 8 kept the overflow
                # connections were opened and closed hundreds of times a run. 40 in all: the threadpool's size.
                main.url, isolation_level="AUTOCOMMIT", pool_size=16, max_overflow=24, pool_reset_on_return=None
            )
            _engines[main] = engine
    return engine


def may_read_outside(session: Session) -> bool:
    """True when ``session`` holds no transaction of its own yet and is bound to the engine: reading on another
    connection then sees exactly what it would. A session bound to a connection (a caller's open transaction,
    as in the tests) must be read through, to see what that transaction wrote."""
    return not session.in_transaction() and isinstance(session.get_bind(), Engine)


def fetch_one(sql: str, params: dict) -> tuple | None:
    """The first row of ``sql`` (psycopg placeholders), prepared on the connection after a few calls."""
    for attempt in (1, 2):
        raw = _engine().raw_connection()
        try:
            return raw.driver_connection.execute(sql, params).fetchone()
        except psycopg.OperationalError:
            # The server went away under an idle connection: forget it (and its pool), try once more.
            raw.invalidate()
            if attempt == 2:
                raise
        finally:
            raw.close()
    raise AssertionError("unreachable")


def dispose() -> None:
    """Close every connection (tests; a process that forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
