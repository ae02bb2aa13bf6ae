"""Grid plans: create drafts, plan communities into them as background jobs, publish."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridplanner import plans
from gridplanner.api import jobs
from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.planning.rules import SizeRule, size_rules
from gridplanner.store import models as m
from gridplanner.store.geojson import feature_collection

router = APIRouter(prefix="/plans", tags=["plans"], dependencies=[Depends(security.plan_writes)])


class PlanOut(BaseModel):
    id: int
    name: str
    status: str
    version: int | None
    based_on_id: int | None
    grids: int
    created_at: datetime
    published_at: datetime | None
    lock_version: int
    created_by: str | None = Field(None, description="the user who created the plan")


class PlanCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["2026 年网格调整"])
    from_published: bool = Field(True, description="start from a copy of the published plan's grids")


class DivideRequest(BaseModel):
    communities: list[Annotated[str, Field(pattern=r"^\d{12}$")]] | None = Field(None, description="12-digit codes; all when omitted", max_length=5000)
    min_households: int = Field(300, gt=0)
    max_households: int = Field(500, gt=0)
    rural_min_households: int | None = Field(None, gt=0)
    rural_max_households: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_households > self.max_households:
            raise ValueError(f"min_households ({self.min_households}) is greater than max_households ({self.max_households})")
        if (self.rural_min_households or 0) > (self.rural_max_households or 10**9):
            raise ValueError("rural_min_households is greater than rural_max_households")
        return self


class MergeRequest(BaseModel):
    base: str | None = Field(None, description="department whose edges win; default: the one agreeing most with the others", examples=["综治"])
    sliver_area_m2: float = Field(50.0, ge=0)
    sliver_width_m: float = Field(3.0, ge=0)
    min_households: int = Field(300, gt=0)
    max_households: int = Field(500, gt=0)

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_households > self.max_households:
            raise ValueError(f"min_households ({self.min_households}) is greater than max_households ({self.max_households})")
        return self


class JobRef(BaseModel):
    job_id: int
    status_url: str


def _out(session: Session, plan: m.GridPlan) -> PlanOut:
    n = session.execute(select(func.count()).where(m.Grid.plan_id == plan.id)).scalar_one()
    return PlanOut(grids=n, **{k: getattr(plan, k) for k in ("id", "name", "status", "version", "based_on_id", "created_at", "published_at", "lock_version", "created_by")})


def _plan(session: Session, plan_id: int) -> m.GridPlan:
    plan = session.get(m.GridPlan, plan_id)
    if plan is None:
        raise HTTPException(404, f"no plan {plan_id}")
    return plan


@router.get("", response_model=list[PlanOut])
def list_plans(session: SessionDep) -> list[PlanOut]:
    """Every plan, newest first."""
    return [_out(session, p) for p in session.scalars(select(m.GridPlan).order_by(m.GridPlan.id.desc()))]


@router.post("", response_model=PlanOut, status_code=status.HTTP_201_CREATED)
def create_plan(body: PlanCreate, session: SessionDep, principal: security.PrincipalDep) -> PlanOut:
    """A new draft, by default a copy of the published plan; it is its creator's (``created_by``)."""
    plan = plans.create_draft(session, body.name, from_published=body.from_published, actor=principal.name)
    session.flush()
    return _out(session, plan)


class PlanRename(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["2026 年网格调整（送审稿）"])


def _may_change(principal, plan: m.GridPlan, what: str) -> None:
    """Admins change any plan; a planner only the drafts they made."""
    if principal.role == "admin":
        return
    if plan.status != "draft" or plan.created_by != principal.name:
        made_by = plan.created_by or "unknown"
        if what == "rename":
            raise HTTPException(403, f"only an admin or the planner who made a draft may rename it; plan {plan.id} is {plan.status}, made by {made_by}")
        raise HTTPException(403, f"only an admin or the planner who made a draft may delete it; plan {plan.id} is {plan.status}, made by {made_by}")


@router.patch("/{plan_id}", response_model=PlanOut, responses={403: {"description": "not an admin, nor the draft's own planner"}})
def rename_plan(plan_id: int, body: PlanRename, session: SessionDep, principal: security.PrincipalDep) -> PlanOut:
    """Rename a plan (a draft by its planner or an admin; a published or archived plan by an admin)."""
    plan = _plan(session, plan_id)
    _may_change(principal, plan, "rename")
    return _out(session, plans.rename(session, plan_id, body.name, actor=principal.name))


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={403: {"description": "not an admin, nor the draft's own planner"}, 409: {"description": "not a draft"}})
def delete_plan(plan_id: int, session: SessionDep, principal: security.PrincipalDep) -> None:
    """Delete a draft with its grids and edit history (its planner or an admin); published and archived plans
    stay, as the record of what was in force."""
    plan = _plan(session, plan_id)
    if plan.status == "draft":
        _may_change(principal, plan, "delete")
    plans.delete_draft(session, plan_id, actor=principal.name)


@router.get("/{plan_id}", response_model=PlanOut)
def get_plan(plan_id: int, session: SessionDep) -> PlanOut:
    return _out(session, _plan(session, plan_id))


@router.get("/{plan_id}/report")
def plan_report(plan_id: int, session: SessionDep) -> dict:
    """The planning report: per community figures, grids outside the size rule with reasons, unplaced buildings."""
    return _plan(session, plan_id).report or {}


@router.post("/{plan_id}/divide", response_model=JobRef, status_code=status.HTTP_202_ACCEPTED)
def divide_plan(plan_id: int, body: DivideRequest, session: SessionDep) -> JobRef:
    """Plan communities into the draft as a background job; poll the job for progress."""
    plan = _plan(session, plan_id)
    if plan.status != "draft":
        raise HTTPException(409, f"plan {plan_id} is {plan.status}; only drafts can be planned")
    rules = size_rules(body.min_households, body.max_households, body.rural_min_households, body.rural_max_households)

    def work(job_session: Session, progress) -> dict:
        report = plans.divide_into_draft(job_session, plan_id, communities=body.communities, rules=rules, progress=progress, actor="api")
        return {"plan_id": plan_id, "communities": len(report.get("communities", {})), "out_of_bounds": len(report.get("out_of_bounds", []))}

    job_id = jobs.submit("divide", {"plan_id": plan_id, **body.model_dump()}, work)
    return JobRef(job_id=job_id, status_url=f"/api/v1/jobs/{job_id}")


@router.post("/{plan_id}/merge", response_model=JobRef, status_code=status.HTTP_202_ACCEPTED)
def merge_plan(plan_id: int, body: MergeRequest, session: SessionDep) -> JobRef:
    """多网合一: merge the imported department layers into the draft (replacing its grids) as a background job;
    the crosswalk and conflict report are saved with the plan."""
    plan = _plan(session, plan_id)
    if plan.status != "draft":
        raise HTTPException(409, f"plan {plan_id} is {plan.status}; only drafts can be changed")
    rule = SizeRule(body.min_households, body.max_households)

    def work(job_session: Session, progress) -> dict:
        report = plans.merge_into_draft(job_session, plan_id, base=body.base, sliver_area_m2=body.sliver_area_m2, sliver_width_m=body.sliver_width_m, rule=rule, progress=progress, actor="api")
        return {"plan_id": plan_id, "base": report.get("base", {}).get("department")}

    job_id = jobs.submit("merge", {"plan_id": plan_id, **body.model_dump()}, work)
    return JobRef(job_id=job_id, status_url=f"/api/v1/jobs/{job_id}")


@router.post("/{plan_id}/publish", response_model=PlanOut)
def publish_plan(plan_id: int, session: SessionDep) -> PlanOut:
    """Publish the draft atomically; the previously published plan is archived."""
    try:
        plan = plans.publish(session, plan_id, actor="api")
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return _out(session, plan)


@router.get("/{plan_id}/grids", response_description="GeoJSON FeatureCollection")
def plan_grids(
    plan_id: int,
    session: SessionDep,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
) -> dict:
    """A plan's grids as GeoJSON (EPSG:4490), with code, households, population, area and type."""
    _plan(session, plan_id)
    return feature_collection(
        session,
        """SELECT id, code, name, type, dedicated_kind, community_code, households, population,
                  round(area_m2::numeric, 1) AS area_m2, building_count AS buildings, source, geom
           FROM grids WHERE plan_id = :p AND (CAST(:c AS text) IS NULL OR community_code = :c) ORDER BY community_code, code, id""",
        {"p": plan_id, "c": community},
    )
