"""``GET /search``: a grid by code, a community or street by name or code, a building by id or name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from gridplanner.api.dependencies import SessionDep
from gridplanner.store.search import search

router = APIRouter(tags=["search"])


class Hit(BaseModel):
    kind: str = Field(description="grid, community, street or building", examples=["community"])
    code: str = Field(description="the grid's, community's or street's code; a building's id", examples=["330106001001"])
    name: str = Field(examples=["翠苑一区社区"])
    detail: str | None = Field(None, description="where it is: a grid's or building's community, a community's street")
    bbox: list[float] = Field(description="west, south, east, north (EPSG:4490)")


@router.get("/search", response_model=list[Hit])
def find(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="a code (from its start) or part of a name")],
    plan: Annotated[int | None, Query(description="grids of this plan (default: the published one)")] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="hits of each kind at most")] = 10,
) -> list[dict]:
    """Places whose code starts with ``q`` or whose name holds it: grids, then communities, streets and
    buildings, each with the box to zoom to."""
    return search(session, q, plan_id=plan, limit=limit)
