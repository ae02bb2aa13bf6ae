"""Request-scoped resources: a database session per request (``SessionDep`` in a route's signature)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from gridplanner.store.database import new_session


async def get_session() -> AsyncIterator[Session]:
    """A session committed when the route succeeds, rolled back when it fails, before the response is sent.

    Async, so that a request whose session never opens a transaction (a lookup answered on a connection of its
    own, with a key this process remembers) costs no thread: only a commit, rollback or close that talks to the
    database goes to the thread pool."""
    session = new_session()
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


#: The request's session, declared once for every route. ``scope="function"``: committed (or rolled back)
#: when the route returns, before the response is sent. With FastAPI's default for dependencies with yield
#: the commit came after the response, so a client reading right after a write (the web app's "新建草稿"
#: re-reading its plans) could miss it, and a failed commit was never reported to the client.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
