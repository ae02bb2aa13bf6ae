"""Request-scoped resources: a database session per request."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from gridplanner.store.database import session_scope


def get_session() -> Iterator[Session]:
    """A session committed when the request succeeds, rolled back when it fails."""
    with session_scope() as session:
        yield session
