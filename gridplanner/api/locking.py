"""Optimistic locking for plan edits: an edit names the ``lock_version`` it read; a stale one gets 409.

``grid_plans.lock_version`` is SQLAlchemy's ``version_id_col``: every UPDATE of the row bumps it and checks the
old value, so two edits racing past :func:`check_version` still cannot both win (the loser's flush raises
``StaleDataError``, answered 409 as well).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from gridplanner.api.errors import error_response


class StaleVersion(Exception):
    def __init__(self, entity: str, expected: int, current: int):
        super().__init__(f"{entity} was changed by someone else: you edited version {expected}, it is now version {current}; reload and try again")
        self.expected, self.current = expected, current


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "7"`` (or ``W/"7"``, or ``7``) -> 7; None when absent. A malformed value is a ValueError."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"')
    if not v.isdigit():
        raise ValueError(f'If-Match must name the lock_version you read, e.g. If-Match: "3"; got {value!r}')
    return int(v)


def check_version(plan, expected: int | None, *, entity: str | None = None) -> None:
    """Raise :class:`StaleVersion` when ``expected`` (the version the client read) is not the plan's
    current ``lock_version``. ``expected=None`` (the client named none) passes."""
    if expected is not None and int(expected) != plan.lock_version:
        raise StaleVersion(entity or f"plan {plan.id}", int(expected), plan.lock_version)


def install(app: FastAPI) -> None:
    @app.exception_handler(StaleVersion)
    async def stale(request: Request, exc: StaleVersion) -> JSONResponse:
        return error_response(request, 409, str(exc), expected=exc.expected, current=exc.current)

    @app.exception_handler(StaleDataError)
    async def stale_flush(request: Request, exc: StaleDataError) -> JSONResponse:
        return error_response(request, 409, "the plan was changed by a concurrent request; reload and try again")
