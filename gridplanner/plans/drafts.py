"""Grid plans in the store: drafts are planned and edited, publishing is atomic, the published plan is never
changed in place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import shapely
from geoalchemy2.elements import WKBElement
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from gis.errors import InputError
from gridplanner.auth.audit import record
from gridplanner import maplayers

from gridplanner.plans.codes import code_plan, record_publication
from gridplanner.planning import SizeRule, divide
from gridplanner.planning.rules import size_rules
from gridplanner.staffing.reassign import reassign_after_publish

__all__ = ["PlanError", "SizeRule", "create_draft", "divide_into_draft", "merge_into_draft", "publish", "published_plan", "size_rules", "write_grids"]
from gridplanner.store import frames
from gridplanner.store import models as m


class PlanError(InputError):
    """A plan operation that is not allowed (planning a published plan, publishing an empty one ...)."""


def published_plan(session: Session) -> m.GridPlan | None:
    return session.execute(select(m.GridPlan).where(m.GridPlan.status == "published")).scalar_one_or_none()


def create_draft(session: Session, name: str, *, from_published: bool = True, actor: str = "system") -> m.GridPlan:
    """A new draft; by default a copy of the published plan's grids, so re-planning one community leaves the
    others as they are."""
    base = published_plan(session) if from_published else None
    plan = m.GridPlan(name=name, status="draft", based_on_id=base.id if base else None, created_by=actor, settings={}, report={})
    session.add(plan)
    session.flush()
    if base is not None:
        cols = "code, name, type, dedicated_kind, community_code, households, population, area_m2, building_count, source, geom"
        session.execute(text(f"INSERT INTO grids (plan_id, {cols}) SELECT :new, {cols} FROM grids WHERE plan_id = :old ORDER BY id"), {"new": plan.id, "old": base.id})
    _audit(session, actor, "create draft", plan.id, {"name": name, "based_on": plan.based_on_id})
    return plan


def _draft(session: Session, plan_id: int) -> m.GridPlan:
    plan = session.get(m.GridPlan, plan_id)
    if plan is None:
        raise LookupError(f"no plan {plan_id}")
    if plan.status != "draft":
        raise PlanError(f"plan {plan_id} is {plan.status}; only drafts can be changed")
    return plan


def divide_into_draft(
    session: Session,
    plan_id: int,
    *,
    communities: list[str] | None = None,
    rules: dict[str, SizeRule] | SizeRule | None = None,
    progress: Callable[[int, int], None] | None = None,
    actor: str = "system",
) -> dict:
    """Plan ``communities`` (default: all) into draft ``plan_id``, replacing their grids there; returns the report."""
    plan = _draft(session, plan_id)
    comm = frames.communities_frame(session, communities)
    if communities:
        missing = sorted(set(communities) - set(comm["code"]))
        if missing:
            raise LookupError(f"unknown communities: {missing}")
    if comm.empty:
        raise PlanError("there are no communities to plan: import communities first")
    rules = rules or size_rules()
    result = divide(
        comm,
        frames.buildings_frame(session, communities),
        roads=_or_none(frames.lines_frame(session, "road")),
        rivers=_or_none(frames.lines_frame(session, "river")),
        dedicated=_or_none(frames.dedicated_frame(session)),
        rules=rules,
        progress=progress,
    )
    codes = comm["code"].tolist()
    session.execute(text("DELETE FROM grids WHERE plan_id = :p AND community_code = ANY(:c)"), {"p": plan_id, "c": codes})
    write_grids(session, plan_id, result.grids, source="divide")
    published = published_plan(session)
    code_plan(session, plan_id, published.id if published else None)
    plan.report = result.report
    plan.settings = {"communities": communities, "rules": {k: asdict(v) for k, v in rules.items()} if isinstance(rules, dict) else asdict(rules)}
    _audit(session, actor, "divide", plan_id, {"communities": len(codes), "grids": len(result.grids)})
    return result.report


def _or_none(gdf):
    return None if gdf is None or gdf.empty else gdf


def merge_into_draft(
    session: Session,
    plan_id: int,
    *,
    base: str | None = None,
    sliver_area_m2: float = 50.0,
    sliver_width_m: float = 3.0,
    rule: SizeRule | None = None,
    progress: Callable[[int, int], None] | None = None,
    actor: str = "system",
) -> dict:
    """Merge the imported department layers (多网合一) into draft ``plan_id``, replacing all its grids, and
    save the crosswalk from every department grid to the unified grids; returns the conflict report."""
    from gridplanner.merging import merge_layers

    plan = _draft(session, plan_id)
    layers = frames.department_layers_frames(session)
    if len(layers) < 2:
        raise PlanError(f"merging needs at least two department layers in the store, found {len(layers)}: import them with `gridplanner import layer`")
    comm = frames.communities_frame(session)
    if comm.empty:
        raise PlanError("there are no communities: import communities first")
    result = merge_layers(
        comm,
        layers,
        base=base,
        id_field="dept_grid_id",
        sliver_area_m2=sliver_area_m2,
        sliver_width_m=sliver_width_m,
        buildings=frames.buildings_frame(session),
        rules=rule or SizeRule(),
        progress=(lambda step, done, total: progress(done, total)) if progress else None,
    )
    session.execute(text("DELETE FROM grids WHERE plan_id = :p"), {"p": plan_id})
    session.execute(text("DELETE FROM crosswalk WHERE plan_id = :p"), {"p": plan_id})
    ids = write_grids(session, plan_id, result.grids, source="merge")
    published = published_plan(session)
    code_plan(session, plan_id, published.id if published else None)
    cw = result.crosswalk
    if len(cw):
        session.execute(
            insert(m.CrosswalkEntry),
            [
                {
                    "plan_id": plan_id,
                    "department": r.department,
                    "department_grid_id": str(r.department_grid_id),
                    "grid_id": ids[int(r.grid_index)],
                    "shared_area_m2": float(r.shared_area_m2),
                    "share_of_department_grid": float(r.share_of_department_grid),
                    "share_of_unified_grid": float(r.share_of_unified_grid),
                    "shared_households": int(r.shared_households or 0),
                }
                for r in cw.itertuples()
            ],
        )
    plan.report = result.report
    plan.settings = {"merge": {"base": base, "departments": sorted(layers), "sliver_area_m2": sliver_area_m2, "sliver_width_m": sliver_width_m}}
    _audit(session, actor, "merge", plan_id, {"departments": sorted(layers), "grids": len(ids), "crosswalk_rows": len(cw)})
    return result.report


def write_grids(session: Session, plan_id: int, grids, *, source: str) -> list[int]:
    """Insert a GeoDataFrame of grids (planning or merging output) into ``plan_id``; their ids, in row order."""
    if grids.empty:
        return []
    g = grids.to_crs(m.SRID)
    rows = []
    attrs = g.drop(columns=g.geometry.name).astype(object)
    # NaN from pandas must not reach text columns as the string 'NaN'.
    attrs = attrs.where(attrs.notna(), None)
    for rec, wkb in zip(attrs.to_dict("records"), shapely.to_wkb(np.asarray(g.geometry.values))):
        rows.append(
            {
                "plan_id": plan_id,
                "code": rec.get("code"),
                "name": rec.get("name"),
                "type": rec.get("type") or "basic",
                "dedicated_kind": rec.get("dedicated_kind"),
                "community_code": rec["community_code"],
                "households": int(rec.get("households") or 0),
                "population": int(rec.get("population") or 0),
                "area_m2": float(rec.get("area_m2") or 0.0),
                "building_count": int(rec.get("buildings") or 0),
                "source": rec.get("source") or source,
                "geom": WKBElement(wkb, srid=m.SRID),
            }
        )
    ids = list(session.execute(insert(m.Grid.__table__).returning(m.Grid.id, sort_by_parameter_order=True), rows).scalars())
    maplayers.invalidate("grids", tuple(g.total_bounds), connection=session)
    return ids


def publish(session: Session, plan_id: int, *, actor: str = "system") -> m.GridPlan:
    """Make draft ``plan_id`` the published plan, archiving the previous one, in one statement sequence that
    the caller's transaction makes atomic; the row lock stops two publishes racing."""
    plan = session.execute(select(m.GridPlan).where(m.GridPlan.id == plan_id).with_for_update()).scalar_one_or_none()
    if plan is None:
        raise LookupError(f"no plan {plan_id}")
    if plan.status != "draft":
        raise PlanError(f"plan {plan_id} is {plan.status}; only a draft can be published")
    n = session.execute(select(func.count()).where(m.Grid.plan_id == plan_id)).scalar_one()
    if n == 0:
        raise PlanError(f"plan {plan_id} has no grids")
    session.execute(text("LOCK TABLE grid_plans IN SHARE ROW EXCLUSIVE MODE"))
    previous = published_plan(session)
    if previous is not None:
        session.execute(update(m.GridPlan).where(m.GridPlan.id == previous.id).values(status="archived", lock_version=m.GridPlan.lock_version + 1))
    # Codes are settled against the plan published right now, whatever was published when the draft was made.
    coding = code_plan(session, plan_id, previous.id if previous else None)
    version = (session.execute(select(func.max(m.GridPlan.version))).scalar_one() or 0) + 1
    plan.status, plan.version, plan.published_at = "published", version, func.now()
    session.flush()
    changes = record_publication(session, plan, coding)
    plan.report = {**(plan.report or {}), "code_changes": changes}
    # Which plan is published changed: every tile drawn from "the published plan" is stale.
    maplayers.invalidate("grid_plans", None, connection=session)
    # Staff and open incidents follow the new grids; what cannot move is listed in reassignment_issues.
    reassign_after_publish(session, plan)
    _audit(session, actor, "publish", plan_id, {"version": version, "previous": previous.id if previous else None, "grids": n, "code_changes": changes})
    return plan


def rename(session: Session, plan_id: int, name: str, *, actor: str = "system") -> m.GridPlan:
    """Give plan ``plan_id`` a new name (any status: a published plan is often named once it is)."""
    plan = session.get(m.GridPlan, plan_id, with_for_update=True)
    if plan is None:
        raise LookupError(f"no plan {plan_id}")
    name = name.strip()
    if not name:
        raise PlanError("a plan's name cannot be empty")
    before, plan.name = plan.name, name
    plan.lock_version += 1
    _audit(session, actor, "rename", plan_id, {"from": before, "to": name})
    return plan


def delete_draft(session: Session, plan_id: int, *, actor: str = "system") -> None:
    """Delete draft ``plan_id`` with its grids and edit history; published and archived plans are the record
    of what was in force and are never deleted."""
    plan = session.get(m.GridPlan, plan_id, with_for_update=True)
    if plan is None:
        raise LookupError(f"no plan {plan_id}")
    if plan.status != "draft":
        raise PlanError(f"plan {plan_id} is {plan.status}; only a draft can be deleted")
    box = session.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM grids WHERE plan_id = :p) q"),
                          {"p": plan_id}).one()
    _audit(session, actor, "delete", plan_id, {"name": plan.name, "created_by": plan.created_by})
    session.delete(plan)
    session.flush()
    if box[0] is not None:
        maplayers.invalidate("grids", tuple(box), connection=session)


def _audit(session: Session, actor: str, action: str, plan_id: int, detail: dict) -> None:
    record(session, actor, action, "grid_plan", plan_id, detail)
