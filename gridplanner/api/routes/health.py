"""Health: is the database reachable, and which PostgreSQL / PostGIS answer."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gridplanner import __version__
from gridplanner.store.database import get_engine, server_versions

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    version: str
    database: str
    postgres: str | None = None
    postgis: str | None = None


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "database unreachable"}})
def health() -> Health | JSONResponse:
    """Database reachable, with the PostgreSQL and PostGIS versions (503 when it is not)."""
    try:
        with get_engine().connect() as conn:
            versions = server_versions(conn)
    except Exception as exc:  # any failure to reach the database is "unhealthy", never a 500
        body = Health(status="unavailable", version=__version__, database=f"unreachable: {type(exc).__name__}")
        return JSONResponse(status_code=503, content=body.model_dump())
    return Health(status="ok", version=__version__, database="ok", **versions)
