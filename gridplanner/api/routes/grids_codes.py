"""Grid codes for other systems: decode a code into the names of its levels, a code's lineage, and the
crosswalk from a department's own grid id to the unified grids (多网合一)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from gridplanner import lookup
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.errors import error_json
from gridplanner.api.params import PlanParam
from gridplanner.coding import CodeError, decode_code
from gridplanner.plans.codes import active_rule

router = APIRouter(tags=["grid codes"])
CodeParam = Annotated[str, Path(min_length=1, max_length=32, description="grid code, or a 6/9/12-digit division code", examples=["330106001001001"])]


class Level(BaseModel):
    code: str
    name: str | None = Field(description="from the store; null when it does not know the unit")
    kind: str = Field(description="市辖区/县/县级市, 街道/镇/乡, 居委会/村委会")


class Registry(BaseModel):
    status: str = Field(description="active or retired")
    first_version: int
    retired_version: int | None


class Decoded(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "330106001001901",
                    "rule": "default",
                    "district": {"code": "330106", "name": "西湖区", "kind": "市辖区"},
                    "street": {"code": "330106001", "name": "北山街道", "kind": "街道"},
                    "community": {"code": "330106001001", "name": "翠苑一区社区", "kind": "居委会"},
                    "sequence": 901,
                    "grid_type": "dedicated",
                    "registry": {"status": "active", "first_version": 1, "retired_version": None},
                }
            ]
        }
    )
    code: str
    rule: str
    district: Level
    street: Level | None
    community: Level | None
    sequence: int | None = Field(description="the grid's number within its community; null for a division code")
    grid_type: str | None = Field(description="basic or dedicated (专属网格), from the sequence range or type segment")
    registry: Registry | None = Field(description="the code's record if it was ever published")


class BadCode(BaseModel):
    detail: str = Field(examples=["malformed code '3301060010010': does not fit the template '{community}{seq:03}'"])
    code: str
    reason: str


class LineageEvent(BaseModel):
    plan_version: int
    plan_id: int
    date: datetime
    kind: str = Field(description="kept, new, split, merged, redrawn or retired")
    from_codes: list[str]
    to_codes: list[str]
    communities: list[str]


class Lineage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "330106001002004",
                    "registry": {"status": "active", "first_version": 2, "retired_version": None},
                    "events": [
                        {"plan_version": 1, "plan_id": 1, "date": "2026-01-05T08:00:00+08:00", "kind": "new", "from_codes": [], "to_codes": ["330106001002001"], "communities": ["330106001002"]},
                        {"plan_version": 2, "plan_id": 3, "date": "2026-06-01T08:00:00+08:00", "kind": "merged", "from_codes": ["330106001002001", "330106001002002"], "to_codes": ["330106001002004"], "communities": ["330106001002"]},
                    ],
                }
            ]
        }
    )
    code: str
    registry: Registry | None
    events: list[LineageEvent] = Field(description="oldest first: events touching the code and those that made its predecessors")


class CrosswalkGrid(BaseModel):
    code: str | None
    name: str | None
    shared_area_m2: float
    share_of_department_grid: float = Field(description="share of the department grid's area inside this grid (0–1)")
    share_of_unified_grid: float = Field(description="share of this grid's area inside the department grid (0–1)")
    shared_households: int


class Crosswalk(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "department": "城管",
                    "id": "CG-0012",
                    "plan": {"id": 3, "version": 2},
                    "grids": [
                        {"code": "330106001001002", "name": None, "shared_area_m2": 81234.5, "share_of_department_grid": 0.8123, "share_of_unified_grid": 0.9511, "shared_households": 402},
                        {"code": "330106001001003", "name": None, "shared_area_m2": 18766.0, "share_of_department_grid": 0.1877, "share_of_unified_grid": 0.2012, "shared_households": 88},
                    ],
                }
            ]
        }
    )
    department: str
    id: str
    plan: dict
    grids: list[CrosswalkGrid] = Field(description="largest share of the department grid first")


def _registry(session: Session, code: str) -> dict | None:
    row = lookup.code_status(session, code)
    return None if row is None else {k: row[k] for k in ("status", "first_version", "retired_version")}


@router.get("/codes/{code}/decode", response_model=Decoded, responses={422: {"model": BadCode, "description": "the code breaks the coding rules"}})
def decode(code: CodeParam, session: SessionDep):
    """Decode a grid code (or a 6/9/12-digit division code) by the active coding rule into its district,
    street (街道/镇/乡), community (居委会/村委会), sequence and grid type, with names from the store."""
    rule = active_rule()
    try:
        parts = decode_code(code, rule)
    except CodeError as exc:
        return error_json(422, f"malformed code {code!r}: {exc.reason}", code=code, reason=exc.reason)
    d = parts.division
    names = lookup.division_names(session, d.county, d.township_code, d.community_code)
    return {
        "code": parts.code,
        "rule": rule.name,
        "district": {"code": d.county, "name": names["district"], "kind": d.county_kind},
        "street": None if d.township is None else {"code": d.township_code, "name": names["street"], "kind": d.township_kind},
        "community": None if d.community is None else {"code": d.community_code, "name": names["community"], "kind": d.community_kind},
        "sequence": parts.sequence,
        "grid_type": parts.grid_type,
        "registry": _registry(session, parts.code),
    }


@router.get("/codes/{code}/lineage", response_model=Lineage, responses={404: {"description": "the code was never published"}})
def code_lineage(code: CodeParam, session: SessionDep):
    """Every split, merge, redraw and retirement touching a code, with plan version and date, followed back
    through its predecessors to their origins."""
    events = lookup.lineage(session, code)
    registry = _registry(session, code)
    if not events and registry is None:
        raise HTTPException(404, f"grid code {code} was never published: it has no lineage")
    return {"code": code, "registry": registry, "events": events}


@router.get("/crosswalk", response_model=Crosswalk, responses={404: {"description": "no crosswalk rows for this department grid"}})
def crosswalk(
    session: SessionDep,
    department: Annotated[str, Query(min_length=1, description="the department whose grid id this is", examples=["城管"])],
    id: Annotated[str, Query(min_length=1, description="the department's own grid id", examples=["CG-0012"])],
    plan: PlanParam = None,
):
    """The unified grid(s) a department's own grid maps to (多网合一), with the shares of area and households."""
    ref = lookup.resolve_plan(session, plan)  # PlanNotFound: 404 (api.errors)
    grids = lookup.crosswalk(session, ref.id, department, id)
    if not grids:
        known = lookup.crosswalk_departments(session, ref.id)
        if department not in known:
            hint = f"departments with a crosswalk there: {', '.join(known)}" if known else "that plan has no crosswalk (it was not made by merging department layers)"
            raise HTTPException(404, f"no crosswalk for department {department!r} in plan {ref.id}; {hint}")
        raise HTTPException(404, f"department {department!r} has no grid {id!r} in the crosswalk of plan {ref.id}")
    return {"department": department, "id": id, "plan": {"id": ref.id, "version": ref.version}, "grids": grids}
