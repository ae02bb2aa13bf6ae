"""One-statement reads for the single-point lookup, on autocommit connections of their own.

A lookup through the request's session costs four round trips (the pool's ping, BEGIN, the query, COMMIT) and
SQLAlchemy's session machinery around them; here it is one prepared statement, which sees what a fresh
transaction would see. There is no ping: a connection found broken is dropped and the statement retried once on
a new one, so a PostgreSQL restart costs no request.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

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


class _AsyncConnections:
    """Autocommit connections of one event loop, each lent for one statement.

    The server's hot lookup awaits its statement on the event loop instead of a worker thread: with threads,
    every request handed the GIL back and forth with the loop (5 ms switch interval), which put lookups of a few
    milliseconds at the tail of 100+ ms under load."""

    def __init__(self, conninfo: str, size: int):
        self.conninfo = conninfo
        self.idle: list[psycopg.AsyncConnection] = []
        self.slots = asyncio.Semaphore(size)

    async def fetch_one(self, sql: str, params: dict) -> tuple | None:
        async with self.slots:
            for attempt in (1, 2):
                conn = self.idle.pop() if self.idle else await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                try:
                    row = await (await conn.execute(sql, params)).fetchone()
                except psycopg.OperationalError:
                    await conn.close()  # the server went away under it: once more on a new one
                    if attempt == 2:
                        raise
                    continue
                except BaseException:
                    # A failed or cancelled statement (the client went away): the connection's state is not
                    # known, so it is not lent again.
                    asyncio.ensure_future(conn.close())
                    raise
                self.idle.append(conn)
                return row
        raise AssertionError("unreachable")


_conninfo: dict[Engine, str] = {}  # the store's engine -> libpq URL of its database
#: Per event loop (a loop gone takes its connections with it), per database.
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _AsyncConnections]] = weakref.WeakKeyDictionary()


def conninfo() -> str:
    """The libpq URL of the store's database."""
    main = database.get_engine()
    found = _conninfo.get(main)
    if found is None:  # rendering the URL on every lookup cost more than the dict
        found = _conninfo[main] = main.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return found


async def fetch_one_async(sql: str, params: dict) -> tuple | None:
    """:func:`fetch_one` awaited on the running event loop, on a connection of that loop."""
    conninfo_ = conninfo()
    pools = _async.setdefault(asyncio.get_running_loop(), {})
    pool = pools.get(conninfo_)
    if pool is None:
        # As many as the thread pool's sync path keeps per process.
        pool = pools[conninfo_] = _AsyncConnections(conninfo_, 16)
    return await pool.fetch_one(sql, params)


def dispose() -> None:
    """Close every connection (tests; a process that forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _async.clear()
