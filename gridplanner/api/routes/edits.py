"""The planner workspace's edits of a draft: split, merge, reshape, move buildings, re-plan a community, undo and
redo, live validation, the diff against the published plan and the buildings a planner picks to move.

Every edit names the ``lock_version`` of the plan it read; a stale one gets 409 with the current version and
nothing is written. A successful edit answers with the new ``lock_version``, the ids of the grids it changed or
removed and a validation of the communities it touched. Geometry in and out is lon/lat (CGCS2000 = WGS84 here).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shapely.geometry import LineString
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gridplanner.api.security import READ_METHODS, PrincipalDep, require_write_for_district
from gridplanner.editing import log as edit_log
from gridplanner.store import models as m
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.errors import error_json
from gridplanner.api.params import parse_bbox
from gridplanner.editing import service
from gridplanner.editing.geometry import EditError
from gridplanner.planning import SizeRule



def _touched_communities(session: Session, plan_id: int, action: str, body: dict) -> set[str]:
    """The communities an edit request would change: from its grids, buildings or community, or for undo and
    redo from the grids of the log entry it would replay."""
    found = {str(body["community_code"])} if body.get("community_code") else set()
    ids = [body.get(k) for k in ("grid_id", "neighbour_id", "to_grid_id")] + list(body.get("grid_ids") or [])
    ids = [int(i) for i in ids if isinstance(i, int) or (isinstance(i, str) and i.isdigit())]
    if ids:
        found |= set(session.execute(select(m.Grid.community_code).where(m.Grid.plan_id == plan_id, m.Grid.id.in_(ids))).scalars())
    buildings = [int(i) for i in body.get("building_ids") or [] if isinstance(i, int)]
    if buildings:
        found |= set(session.execute(select(m.Building.community_code).where(m.Building.id.in_(buildings))).scalars()) - {None}
    if action in ("undo", "redo"):
        entry = edit_log.last_done(session, plan_id) if action == "undo" else edit_log.first_undone(session, plan_id)
        if entry is not None:
            found |= {row["community_code"] for row in (entry.before or []) + (entry.after or []) if row.get("community_code")}
    return found


async def edit_writes(request: Request, principal: PrincipalDep, session: SessionDep) -> None:
    """A planner edits the grids of their own districts only (admins any); the district is that of what the edit
    touches. Malformed bodies pass through to the handler's 422."""
    if request.method.upper() in READ_METHODS or principal.role == "admin":
        return
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    communities = await run_in_threadpool(_touched_communities, session, int(request.path_params["plan_id"]), action, body)
    for code in sorted(communities):
        require_write_for_district(principal, code)


router = APIRouter(prefix="/plans", tags=["grid editing"], dependencies=[Depends(edit_writes)])


def current_actor(request: Request) -> str:
    """Who the audit log names: the authenticated principal when there is one."""
    principal = getattr(request.state, "principal", None)
    return getattr(principal, "actor", None) or "api"


ActorDep = Annotated[str, Depends(current_actor)]

LOCK = Field(description="the plan's lock_version you read (GET /api/v1/plans/{id}); a stale one gets 409", examples=[7], ge=0)


class LineStringIn(BaseModel):
    """A GeoJSON LineString in lon/lat."""

    type: Literal["LineString"]
    coordinates: list[tuple[float, float]] = Field(min_length=2, max_length=10_000)

    @field_validator("coordinates")
    @classmethod
    def _lon_lat(cls, coords):
        for lon, lat in coords:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"({lon}, {lat}) is not lon/lat")
        return coords

    def shape(self) -> LineString:
        return LineString(self.coordinates)


class SplitRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"grid_id": 12, "line": {"type": "LineString", "coordinates": [[120.1040, 30.2695], [120.1040, 30.2805]]}, "lock_version": 7}]})
    grid_id: int
    line: LineStringIn = Field(description="drawn across the grid, ends outside it (or within 2 m of its corners)")
    lock_version: int = LOCK


class MergeRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"grid_ids": [12, 13], "lock_version": 7}]})
    grid_ids: list[int] = Field(min_length=2, max_length=100, description="adjacent grids of one community")
    lock_version: int = LOCK


class ReshapeRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"grid_id": 12, "neighbour_id": 13, "boundary": {"type": "LineString", "coordinates": [[120.1050, 30.2700], [120.1062, 30.2750], [120.1050, 30.2800]]}, "lock_version": 7}]}
    )
    grid_id: int
    neighbour_id: int
    boundary: LineStringIn = Field(description="the new shared boundary, from edge to edge of the two grids; snapped to their vertices within 2 m")
    lock_version: int = LOCK


class MoveBuildingsRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"building_ids": [5012, 5013], "to_grid_id": 13, "lock_version": 7}]})
    building_ids: list[int] = Field(min_length=1, max_length=1000)
    to_grid_id: int = Field(description="a neighbour of the grid(s) holding the buildings")
    lock_version: int = LOCK


class ReplanRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"community_code": "330106001001", "min_households": 300, "max_households": 500, "lock_version": 7}]})
    community_code: str = Field(pattern=r"^\d{12}$")
    min_households: int | None = Field(None, gt=0)
    max_households: int | None = Field(None, gt=0)
    lock_version: int = LOCK

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_households and self.max_households and self.min_households > self.max_households:
            raise ValueError(f"min_households ({self.min_households}) is greater than max_households ({self.max_households})")
        return self


class VersionRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"lock_version": 8}]})
    lock_version: int = LOCK


class EditOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"lock_version": 8, "changed": [12, 311], "removed": [], "validation": {"ok": True, "size_ok": False, "summary": {"gaps": 0, "overlaps": 0, "out_of_bounds": 1}}}]}
    )
    lock_version: int = Field(description="send this with the next edit")
    changed: list[int] = Field(description="grids written by the edit (reload them)")
    removed: list[int] = Field(description="grids the edit deleted")
    validation: dict = Field(description="validation of the communities the edit touched (same shape as GET .../validation)")
    carried_buildings: list[int] | None = Field(None, description="move-buildings: other buildings handed over with them because the new boundary would have cut them")
    replan: dict | None = Field(None, description="replan: grids made and how many are outside the size rule")


class Problem(BaseModel):
    detail: str


class Conflict(BaseModel):
    detail: str = Field(examples=["plan 3 was changed by someone else since you loaded it (you edited version 7, it is now version 8); reload the plan and redo your edit"])
    current_lock_version: int | None = Field(None, examples=[8])


ERRORS = {
    404: {"model": Problem, "description": "no such plan, grid, building or community"},
    409: {"model": Conflict, "description": "stale lock_version (with current_lock_version), a plan that is not a draft, or nothing to undo/redo"},
    422: {"model": Problem, "description": "the edit cannot be made as drawn; detail says why"},
}


def _run(session: Session, work: Callable[[], service.EditOutcome]) -> EditOut | JSONResponse:
    """Run an edit in a savepoint, so a refused edit leaves nothing behind whatever the request's session does."""
    try:
        with session.begin_nested():
            outcome = work()
    except service.StaleEdit as exc:
        return error_json(409, str(exc), current_lock_version=exc.current)
    except service.NothingToDo as exc:
        raise HTTPException(409, str(exc)) from None
    except EditError as exc:
        raise HTTPException(422, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None
    return EditOut(**outcome.as_dict())


@router.post("/{plan_id}/edits/split", response_model=EditOut, responses=ERRORS)
def split_grid(plan_id: int, body: SplitRequest, session: SessionDep, actor: ActorDep):
    """Split a grid along a drawn line. A building the line cuts goes whole to the side holding most of it;
    households, population and buildings are recounted per part. The larger part keeps the grid's id."""
    return _run(session, lambda: service.split(session, plan_id, body.lock_version, body.grid_id, body.line.shape(), actor=actor))


@router.post("/{plan_id}/edits/merge", response_model=EditOut, responses=ERRORS)
def merge_grids(plan_id: int, body: MergeRequest, session: SessionDep, actor: ActorDep):
    """Merge adjacent grids (sharing edges, not just corners) of one community into the one with the smallest id."""
    return _run(session, lambda: service.merge(session, plan_id, body.lock_version, body.grid_ids, actor=actor))


@router.post("/{plan_id}/edits/reshape", response_model=EditOut, responses=ERRORS)
def reshape_boundary(plan_id: int, body: ReshapeRequest, session: SessionDep, actor: ActorDep):
    """Replace the boundary two neighbours share by a drawn line, snapped to their vertices within 2 m: both
    grids move together, their union is unchanged, each stays one polygon inside its community and no building
    is cut (422 with the reason otherwise)."""
    return _run(session, lambda: service.reshape(session, plan_id, body.lock_version, body.grid_id, body.neighbour_id, body.boundary.shape(), actor=actor))


@router.post("/{plan_id}/edits/move-buildings", response_model=EditOut, responses=ERRORS)
def move_buildings(plan_id: int, body: MoveBuildingsRequest, session: SessionDep, actor: ActorDep):
    """Move buildings into a neighbouring grid by handing over the ground between them and the shared boundary;
    buildings in the way go along (``carried_buildings``); 422 when the grids would fall into pieces."""
    return _run(session, lambda: service.move_buildings(session, plan_id, body.lock_version, body.building_ids, body.to_grid_id, actor=actor))


@router.post("/{plan_id}/edits/replan", response_model=EditOut, responses=ERRORS)
def replan_community(plan_id: int, body: ReplanRequest, session: SessionDep, actor: ActorDep):
    """Re-run the automatic plan for one community of the draft (the size rule defaults to the plan's own)."""
    return _run(session, lambda: service.replan(session, plan_id, body.lock_version, body.community_code, min_households=body.min_households, max_households=body.max_households, actor=actor))


@router.post("/{plan_id}/undo", response_model=EditOut, responses=ERRORS)
def undo_edit(plan_id: int, body: VersionRequest, session: SessionDep, actor: ActorDep):
    """Undo the draft's last edit (409 when there is none)."""
    return _run(session, lambda: service.undo(session, plan_id, body.lock_version, actor=actor))


@router.post("/{plan_id}/redo", response_model=EditOut, responses=ERRORS)
def redo_edit(plan_id: int, body: VersionRequest, session: SessionDep, actor: ActorDep):
    """Redo the edit undone last (409 when there is none; a new edit after an undo clears what could be redone)."""
    return _run(session, lambda: service.redo(session, plan_id, body.lock_version, actor=actor))


@router.get("/{plan_id}/edits", responses={404: ERRORS[404]})
def edit_history(plan_id: int, session: SessionDep) -> dict:
    """What undo and redo would do next: ``{"undo": {"edit": id, "action": ...} | null, "redo": ... | null}``."""
    if session.get(service.m.GridPlan, plan_id) is None:
        raise HTTPException(404, f"no plan {plan_id}")
    return service.history(session, plan_id)


@router.get("/{plan_id}/validation", responses={404: ERRORS[404], 422: ERRORS[422]})
def validate_plan(
    plan_id: int,
    session: SessionDep,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$", description="check one community only")] = None,
    min_households: Annotated[int | None, Query(gt=0, description="urban size rule; default: the plan's own")] = None,
    max_households: Annotated[int | None, Query(gt=0)] = None,
) -> dict:
    """Live validation: gaps and overlaps per community (GeoJSON features with ``area_m2``), grids outside the
    size rule (with households and the rule), grids reaching outside their community, invalid or multipart
    geometry. ``ok`` covers topology; ``size_ok`` the size rule."""
    rules = None
    try:
        if min_households is not None or max_households is not None:
            plan = session.get(service.m.GridPlan, plan_id)
            rules = service.plan_rules((plan.settings if plan else None) or {})
            urban = rules["urban"]
            rules["urban"] = SizeRule(min_households or urban.min_households, max_households or urban.max_households)
        return service.validate_plan(session, plan_id, [community] if community else None, rules)
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/{plan_id}/diff", responses={404: ERRORS[404]})
def diff_plan(plan_id: int, session: SessionDep) -> dict:
    """The plan against the published plan: a FeatureCollection whose features carry ``change`` (added /
    removed / changed / unchanged), ``published_id`` and ``code_if_published``; ``summary`` counts them and
    ``codes`` lists the codes publishing now would keep, issue and retire (nothing is written)."""
    try:
        return service.plan_diff(session, plan_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None


BUILDINGS_LIMIT = 5000


@router.get("/{plan_id}/buildings", responses={404: ERRORS[404], 422: ERRORS[422]}, response_description="GeoJSON FeatureCollection")
def plan_buildings(
    plan_id: int,
    session: SessionDep,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees (lon/lat)", examples=["120.10,30.26,120.12,30.28"])] = None,
    grid: Annotated[int | None, Query(gt=0, description="only the buildings of this grid of the plan")] = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = BUILDINGS_LIMIT,
) -> dict:
    """Buildings in a bbox or a grid, for picking the ones to move: each feature (id = building id) carries
    ``households`` and ``grid_id``/``grid_code``, the plan's grid holding the building's representative point
    (null: none). ``truncated`` says the limit cut the list."""
    if bbox is None and grid is None:
        raise HTTPException(422, "give bbox or grid")
    if session.get(m.GridPlan, plan_id) is None:
        raise HTTPException(404, f"no plan {plan_id}")
    params: dict = {"p": plan_id, "lim": limit + 1}
    where = []
    if bbox is not None:
        params.update(zip(("w", "s", "e", "n"), parse_bbox(bbox)))
        where.append(f"b.geom && ST_MakeEnvelope(:w, :s, :e, :n, {m.SRID})")
    if grid is not None:
        if session.execute(select(m.Grid.id).where(m.Grid.id == grid, m.Grid.plan_id == plan_id)).first() is None:
            raise HTTPException(404, f"no grid {grid} in plan {plan_id}")
        params["grid"] = grid
        where.append("EXISTS (SELECT 1 FROM grids h WHERE h.id = :grid AND h.geom && b.geom AND ST_Intersects(h.geom, ST_PointOnSurface(b.geom)))")
    # The representative point decides the holder here (cheap, one grid per building); the move itself checks
    # which grid holds most of each building.
    # json_build_object rather than ST_AsGeoJSON(record, ..., id_column): that argument needs PostGIS 3.5.
    features = session.execute(
        text(
            f"""SELECT COALESCE(json_agg(json_build_object('type', 'Feature', 'id', t.id,
                          'properties', json_build_object('id', t.id, 'name', t.name, 'households', t.households,
                                                          'community_code', t.community_code, 'grid_id', t.grid_id, 'grid_code', t.grid_code),
                          'geometry', ST_AsGeoJSON(t.geom, 7, 0)::json) ORDER BY t.id), '[]'::json)
                FROM (SELECT b.id, b.name, b.households, b.community_code, g.id AS grid_id, g.code AS grid_code, b.geom
                      FROM buildings b
                      LEFT JOIN LATERAL (SELECT g.id, g.code FROM grids g
                                         WHERE g.plan_id = :p AND g.geom && b.geom AND ST_Intersects(g.geom, ST_PointOnSurface(b.geom))
                                         ORDER BY g.id LIMIT 1) g ON TRUE
                      WHERE {" AND ".join(where)}
                      ORDER BY b.id LIMIT :lim) t"""
        ),
        params,
    ).scalar_one()
    fc = {"type": "FeatureCollection", "features": features}
    fc["truncated"] = len(fc["features"]) > limit
    fc["features"] = fc["features"][:limit]
    return fc
