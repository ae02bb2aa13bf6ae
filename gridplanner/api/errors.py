"""Error responses: one JSON shape, ``{"detail": ..., "problems": [...]}``, for every 4xx/5xx we raise."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from gis.errors import VectorInputError


def install(app: FastAPI) -> None:
    @app.exception_handler(VectorInputError)
    async def bad_input(_: Request, exc: VectorInputError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": str(exc).splitlines()[0], "source": exc.path, "problems": [{"feature": p.feature, "id": p.ident, "problem": p.message} for p in exc.problems]},
        )

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": "database unavailable, try again shortly"})
