"""Hand edits of a draft in the store: each checks the plan version the editor read (optimistic locking), makes
one pure geometry edit, writes the grids, logs before/after for undo and redo, audits, bumps the plan's
``lock_version`` and answers with the ids it touched and a validation of the communities concerned.

Failures write nothing: every check (plan state, version, the edit's geometry) runs before the first write.
Tolerances are given in metres and turned into degrees of latitude here, the unit of the stored geometry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.coverage import followed_footprints, settle
from gridplanner.auth.audit import record
from gridplanner import maplayers

from gridplanner import plans
from gridplanner.coding import assign_codes
from gridplanner.editing import geometry, log
from gridplanner.editing.diff import change_counts, diff_grids
from gridplanner.editing.geometry import EditError
from gridplanner.editing.validation import validate_grids
from gridplanner.plans.codes import active_rule
from gridplanner.planning import SizeRule
from gridplanner.planning.rules import size_rules
from gridplanner.staffing.rules import CHIEF, FULLTIME
from gridplanner.store import frames
from gridplanner.store import models as m

METRES_PER_DEGREE = 111_320.0


class StaleEdit(Exception):
    """The editor read an older version of the plan than the store holds: someone else edited it since."""

    def __init__(self, plan_id: int, expected: int, current: int):
        super().__init__(f"plan {plan_id} was changed by someone else since you loaded it (you edited version {expected}, it is now version {current}); reload the plan and redo your edit")
        self.expected, self.current = expected, current


class NothingToDo(Exception):
    """Undo with no edit to undo, redo with none undone, or a logged edit the grids no longer match."""


@dataclass
class EditOutcome:
    lock_version: int
    changed: list[int]
    removed: list[int]
    validation: dict
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"lock_version": self.lock_version, "changed": self.changed, "removed": self.removed, "validation": self.validation, **self.extra}


def _degrees(metres: float) -> float:
    return metres / METRES_PER_DEGREE


def _begin(session: Session, plan_id: int, lock_version: int) -> None:
    """Lock the plan row for this transaction and check it is a draft at the version the editor read."""
    row = session.execute(text("SELECT status, lock_version FROM grid_plans WHERE id = :p FOR UPDATE"), {"p": plan_id}).first()
    if row is None:
        raise LookupError(f"no plan {plan_id}")
    if row.status != "draft":
        raise plans.PlanError(f"plan {plan_id} is {row.status}; only drafts can be edited: create a draft from it first")
    if row.lock_version != lock_version:
        raise StaleEdit(plan_id, lock_version, row.lock_version)


def _bump(session: Session, plan_id: int) -> int:
    session.flush()
    version = session.execute(text("UPDATE grid_plans SET lock_version = lock_version + 1 WHERE id = :p RETURNING lock_version"), {"p": plan_id}).scalar_one()
    # The ORM keeps lock_version as its version counter: a loaded plan must re-read it before its next flush.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, m.GridPlan) and obj.id == plan_id:
            session.expire(obj)
    return version


def _grids(session: Session, plan_id: int, ids: list[int]) -> dict[int, dict]:
    rows = session.execute(
        text("SELECT id, community_code, type, dedicated_kind, code, ST_AsBinary(geom) AS wkb FROM grids WHERE plan_id = :p AND id = ANY(:ids)"), {"p": plan_id, "ids": ids}
    ).mappings()
    found = {r["id"]: dict(r) | {"geom": shapely.from_wkb(bytes(r["wkb"]))} for r in rows}
    missing = sorted(set(ids) - set(found))
    if missing:
        raise LookupError(f"plan {plan_id} has no grid {', '.join(map(str, missing))}")
    return found


def _buildings(session: Session, area, *, ids: list[int] | None = None) -> tuple[list[int], list]:
    """Buildings meeting ``area`` (or those of ``ids``): their ids and footprints."""
    if ids is not None:
        rows = session.execute(text("SELECT id, ST_AsBinary(geom) FROM buildings WHERE id = ANY(:ids) ORDER BY id"), {"ids": ids}).all()
    else:
        rows = session.execute(
            text(f"SELECT id, ST_AsBinary(geom) FROM buildings WHERE ST_Intersects(geom, ST_GeomFromWKB(:g, {m.SRID})) ORDER BY id"), {"g": shapely.to_wkb(area)}
        ).all()
    return [r[0] for r in rows], [shapely.from_wkb(bytes(r[1])) for r in rows]


def _row(geom, grid: dict, *, keep_id: bool, keep_code: bool, source: str = "edit") -> dict:
    return {
        "id": grid["id"] if keep_id else None, "code": grid["code"] if keep_code else None, "name": None, "type": grid["type"], "dedicated_kind": grid["dedicated_kind"],
        "community_code": grid["community_code"], "households": 0, "population": 0, "area_m2": 0.0, "building_count": 0, "source": source,
        "wkb": shapely.to_wkb(geom, hex=True),
    }  # fmt: skip


def _settled(new: list, old: list, footprints: list) -> list:
    """The edited grids on the precision model (:func:`gis.coverage.settle`), tiling exactly what the grids
    they replace covered: an edit moves ground between the grids it touches, never beyond them, so their
    neighbours keep matching edge for edge."""
    region = shapely.union_all([g for g in old])
    if shapely.get_type_id(region) == 6 and shapely.get_num_geometries(region) == 1:
        region = shapely.get_geometry(region, 0)
    fp = np.array(footprints, dtype=object) if len(footprints) else np.zeros(0, dtype=object)
    result = settle(np.array(new, dtype=object), region, fixed=followed_footprints(fp, np.array(new, dtype=object)))
    if result.lost:
        raise EditError("the edit would leave a grid thinner than a centimetre: draw it wider")
    out = list(result.polygons)
    for geom in out:
        if shapely.get_type_id(geom) != 3:
            raise EditError("the edit would leave a grid in pieces; a grid must be one polygon")
    return out


def _outside_community_m2(session: Session, geom, community_code: str) -> float:
    return session.execute(
        text(f"SELECT COALESCE(ST_Area(ST_Difference(ST_GeomFromWKB(:g, {m.SRID}), c.geom)::geography), 0) FROM communities c WHERE c.code = :c"),
        {"g": shapely.to_wkb(geom), "c": community_code},
    ).scalar_one_or_none() or 0.0


def _finish(session: Session, plan_id: int, action: str, actor: str, params: dict, before: list[dict], after_ids: list[int], extra: dict | None = None) -> EditOutcome:
    """Figures, log, audit, version bump, tile invalidation and validation of an edit whose grids are written."""
    log.recompute_figures(session, after_ids)
    after = log.snapshot(session, after_ids)
    log.record(session, plan_id, action, actor, params, before, after)
    return _close(session, plan_id, action, actor, params, before, after, extra)


def _close(session: Session, plan_id: int, action: str, actor: str, params: dict, before: list[dict], after: list[dict], extra: dict | None = None) -> EditOutcome:
    after_ids = [r["id"] for r in after]
    removed = sorted({r["id"] for r in before} - set(after_ids))
    record(session, actor, f"edit: {action}", "grid_plan", plan_id, {**params, "changed": after_ids, "removed": removed, **(extra or {})})
    version = _bump(session, plan_id)
    touched = [shapely.from_wkb(r["wkb"]) for r in before + after]
    if touched:
        maplayers.invalidate("grids", tuple(shapely.total_bounds(touched)), connection=session)
    communities = sorted({r["community_code"] for r in before + after})
    return EditOutcome(version, after_ids, removed, validate_plan(session, plan_id, communities), extra or {})


def split(session: Session, plan_id: int, lock_version: int, grid_id: int, line, *, actor: str = "api", tolerance_m: float = 2.0) -> EditOutcome:
    """Split grid ``grid_id`` along ``line`` (lon/lat); the larger part keeps the grid's id, both parts lose the
    code (publication codes them; the diff shows how)."""
    _begin(session, plan_id, lock_version)
    grid = _grids(session, plan_id, [grid_id])[grid_id]
    _, footprints = _buildings(session, grid["geom"])
    a, b = geometry.split_polygon_by_line(grid["geom"], line, footprints, tolerance=_degrees(tolerance_m))
    a, b = _settled([a, b], [grid["geom"]], footprints)
    big, small = (a, b) if a.area >= b.area else (b, a)
    before = log.snapshot(session, [grid_id])
    ids = log.write_rows(session, plan_id, before, [_row(big, grid, keep_id=True, keep_code=False), _row(small, grid, keep_id=False, keep_code=False)])
    return _finish(session, plan_id, "split", actor, {"grid_id": grid_id, "line": shapely.geometry.mapping(line)}, before, ids)


def merge(session: Session, plan_id: int, lock_version: int, grid_ids: list[int], *, actor: str = "api") -> EditOutcome:
    """Merge adjacent grids of one community into the one with the smallest id."""
    ids = sorted(set(grid_ids))
    if len(ids) < 2:
        raise EditError("merging needs at least two different grids")
    _begin(session, plan_id, lock_version)
    grids = _grids(session, plan_id, ids)
    communities = sorted({g["community_code"] for g in grids.values()})
    if len(communities) > 1:
        raise EditError(f"the grids belong to different communities ({', '.join(communities)}); a grid stays inside one community")
    try:
        merged = geometry.merge_polygons([grids[i]["geom"] for i in ids])
    except EditError as exc:
        raise EditError(f"{exc} (grid ids in order: {ids})") from None
    merged = _settled([merged], [grids[i]["geom"] for i in ids], [])[0]
    kinds = {(g["type"], g["dedicated_kind"]) for g in grids.values()}
    keeper = dict(grids[ids[0]])
    if len(kinds) > 1:  # a dedicated grid merged with others is no longer self-contained
        keeper["type"], keeper["dedicated_kind"] = "basic", None
    before = log.snapshot(session, ids)
    new_ids = log.write_rows(session, plan_id, before, [_row(merged, keeper, keep_id=True, keep_code=False)])
    return _finish(session, plan_id, "merge", actor, {"grid_ids": ids}, before, new_ids)


def reshape(session: Session, plan_id: int, lock_version: int, grid_id: int, neighbour_id: int, boundary, *, actor: str = "api", tolerance_m: float = 2.0) -> EditOutcome:
    """Replace the boundary shared by ``grid_id`` and ``neighbour_id`` with ``boundary``: both move together."""
    if grid_id == neighbour_id:
        raise EditError("a grid is not its own neighbour: name two different grids")
    _begin(session, plan_id, lock_version)
    grids = _grids(session, plan_id, [grid_id, neighbour_id])
    a, b = grids[grid_id], grids[neighbour_id]
    union = shapely.union_all([a["geom"], b["geom"]])
    bids, footprints = _buildings(session, union)
    try:
        new_a, new_b = geometry.reshape_shared_boundary(a["geom"], b["geom"], boundary, footprints, tolerance=_degrees(tolerance_m))
    except EditError as exc:
        msg = str(exc)
        if "cut through buildings" in msg:  # name buildings by their ids, not by position
            positions = json.loads(msg.split("buildings ", 1)[1].split("]", 1)[0] + "]")
            msg = msg.replace(str(positions), str([bids[i] for i in positions]))
        raise EditError(msg) from None
    for grid, new in ((a, new_a), (b, new_b)):
        outside = _outside_community_m2(session, new, grid["community_code"])
        if outside >= 1.0:
            raise EditError(f"grid {grid['id']} would reach {outside:.0f} m² outside its community {grid['community_code']}; keep the boundary inside the community")
    new_a, new_b = _settled([new_a, new_b], [a["geom"], b["geom"]], footprints)
    before = log.snapshot(session, [grid_id, neighbour_id])
    ids = log.write_rows(session, plan_id, before, [_row(new_a, a, keep_id=True, keep_code=True), _row(new_b, b, keep_id=True, keep_code=True)])
    return _finish(session, plan_id, "reshape", actor, {"grid_id": grid_id, "neighbour_id": neighbour_id, "boundary": shapely.geometry.mapping(boundary)}, before, ids)


def move_buildings(session: Session, plan_id: int, lock_version: int, building_ids: list[int], to_grid_id: int, *, actor: str = "api", reach_m: float = 5.0) -> EditOutcome:
    """Move buildings into neighbouring grid ``to_grid_id`` by handing over the ground around them; buildings
    in the way are carried along (listed in ``carried_buildings``)."""
    wanted = sorted(set(building_ids))
    if not wanted:
        raise EditError("name at least one building to move")
    _begin(session, plan_id, lock_version)
    target = _grids(session, plan_id, [to_grid_id])[to_grid_id]
    found, footprints = _buildings(session, None, ids=wanted)
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise EditError(f"no building {', '.join(map(str, missing))}")
    near = session.execute(
        text(f"SELECT id FROM grids WHERE plan_id = :p AND ST_Intersects(geom, ST_GeomFromWKB(:g, {m.SRID}))"), {"p": plan_id, "g": shapely.to_wkb(shapely.union_all(footprints))}
    ).scalars().all()
    grids = _grids(session, plan_id, sorted(set(near) | {to_grid_id}))
    grid_ids = sorted(grids)
    holder = geometry.assign_to_parts([grids[i]["geom"] for i in grid_ids], footprints)
    by_source: dict[int, list[int]] = {}
    for bid, k in zip(found, holder):
        if k < 0:
            raise EditError(f"building {bid} lies in no single grid of plan {plan_id} (no grid holds most of it)")
        if grid_ids[k] != to_grid_id:
            by_source.setdefault(grid_ids[k], []).append(bid)
    if not by_source:
        raise EditError(f"the buildings are already in grid {to_grid_id}")
    new_geoms: dict[int, object] = {to_grid_id: target["geom"]}
    carried_all: list[int] = []
    for sid, bids in by_source.items():
        source = grids[sid]
        if source["community_code"] != target["community_code"]:
            raise EditError(f"building(s) {bids} are in community {source['community_code']}, grid {to_grid_id} in {target['community_code']}; a grid stays inside one community")
        others_ids, others = _buildings(session, source["geom"])
        keep = [i for i, b in enumerate(others_ids) if b not in found]
        try:
            new_source, new_target, carried = geometry.move_buildings(
                source["geom"], new_geoms[to_grid_id], [footprints[found.index(b)] for b in bids], [others[i] for i in keep], reach=_degrees(reach_m)
            )
        except EditError as exc:
            raise EditError(f"moving {bids} from grid {sid}: {exc}") from None
        new_geoms[sid], new_geoms[to_grid_id] = new_source, new_target
        carried_all += [others_ids[keep[i]] for i in carried]
    touched = sorted(new_geoms)
    _, nearby = _buildings(session, shapely.union_all([grids[i]["geom"] for i in touched]))
    settled = _settled([new_geoms[i] for i in touched], [grids[i]["geom"] for i in touched], nearby)
    new_geoms = dict(zip(touched, settled))
    before = log.snapshot(session, touched)
    ids = log.write_rows(session, plan_id, before, [_row(new_geoms[i], grids[i], keep_id=True, keep_code=True) for i in touched])
    params = {"building_ids": wanted, "to_grid_id": to_grid_id}
    return _finish(session, plan_id, "move buildings", actor, params, before, ids, {"carried_buildings": sorted(carried_all)})


def replan(session: Session, plan_id: int, lock_version: int, community_code: str, *, min_households: int | None = None, max_households: int | None = None, actor: str = "api") -> EditOutcome:
    """Re-run the automatic plan for one community; the plan's report and settings keep what they had, with
    this community's report under ``replanned``."""
    _begin(session, plan_id, lock_version)
    if session.execute(text("SELECT 1 FROM communities WHERE code = :c"), {"c": community_code}).first() is None:
        raise LookupError(f"no community {community_code}")
    plan = session.get(m.GridPlan, plan_id)
    report, settings = dict(plan.report or {}), dict(plan.settings or {})
    rules = plan_rules(settings)
    if min_households is not None or max_households is not None:
        urban = rules["urban"]
        rules = {**rules, "urban": SizeRule(min_households or urban.min_households, max_households or urban.max_households)}
    before_ids = session.execute(text("SELECT id FROM grids WHERE plan_id = :p AND community_code = :c"), {"p": plan_id, "c": community_code}).scalars().all()
    before = log.snapshot(session, before_ids)
    try:
        new_report = plans.divide_into_draft(session, plan_id, communities=[community_code], rules=rules, actor=actor)
    except plans.PlanError as exc:
        raise EditError(str(exc)) from None
    used = {k: {"min_households": v.min_households, "max_households": v.max_households} for k, v in rules.items()}
    plan.report = report | {"replanned": {**report.get("replanned", {}), community_code: new_report}}
    plan.settings = settings | {"replanned": {**settings.get("replanned", {}), community_code: used}}
    after_ids = session.execute(text("SELECT id FROM grids WHERE plan_id = :p AND community_code = :c ORDER BY id"), {"p": plan_id, "c": community_code}).scalars().all()
    summary = {"grids": len(after_ids), "out_of_bounds": len([o for o in new_report.get("out_of_bounds", [])])}
    after = log.snapshot(session, after_ids)
    log.record(session, plan_id, "replan", actor, {"community_code": community_code, "rules": used}, before, after)
    return _close(session, plan_id, "replan", actor, {"community_code": community_code, "rules": used}, before, after, {"replan": summary})


def undo(session: Session, plan_id: int, lock_version: int, *, actor: str = "api") -> EditOutcome:
    """Put back the grids the plan's newest edit replaced."""
    _begin(session, plan_id, lock_version)
    entry = log.last_done(session, plan_id)
    if entry is None:
        raise NothingToDo(f"plan {plan_id} has no edit to undo")
    return _replay(session, plan_id, entry, entry.after, entry.before, "undo", actor, undone=True)


def redo(session: Session, plan_id: int, lock_version: int, *, actor: str = "api") -> EditOutcome:
    """Re-apply the edit undone last."""
    _begin(session, plan_id, lock_version)
    entry = log.first_undone(session, plan_id)
    if entry is None:
        raise NothingToDo(f"plan {plan_id} has no undone edit to redo")
    return _replay(session, plan_id, entry, entry.before, entry.after, "redo", actor, undone=False)


def _replay(session: Session, plan_id: int, entry: m.EditLogEntry, current: list[dict], wanted: list[dict], what: str, actor: str, *, undone: bool) -> EditOutcome:
    if not log.matches(session, current):
        raise NothingToDo(f"cannot {what} the {entry.action} of edit {entry.id}: its grids were changed since outside the editor (re-planned or merged as a whole)")
    log.write_rows(session, plan_id, current, wanted)
    entry.undone = undone
    return _close(session, plan_id, what, actor, {"edit": entry.id, "action": entry.action}, current, wanted)


def history(session: Session, plan_id: int) -> dict:
    """What undo and redo would do next."""
    done = log.last_done(session, plan_id)
    undone = log.first_undone(session, plan_id)
    return {"undo": {"edit": done.id, "action": done.action} if done else None, "redo": {"edit": undone.id, "action": undone.action} if undone else None}


def plan_rules(settings: dict) -> dict[str, SizeRule]:
    """The size rules the plan was made with (urban and rural), else the defaults."""
    saved = settings.get("rules") if isinstance(settings, dict) else None
    rules = size_rules()
    if isinstance(saved, dict):
        for cls in ("urban", "rural"):
            r = saved.get(cls)
            if isinstance(r, dict) and "min_households" in r:
                rules[cls] = SizeRule(int(r["min_households"]), int(r["max_households"]))
    return rules


def validate_plan(session: Session, plan_id: int, communities: list[str] | None = None, rules: dict[str, SizeRule] | None = None) -> dict:
    """Validation of the plan's grids (of ``communities`` only, when given)."""
    plan = session.get(m.GridPlan, plan_id)
    if plan is None:
        raise LookupError(f"no plan {plan_id}")
    grids = frames.read_frame(
        session,
        """SELECT id, code, community_code, type, households, geom FROM grids
           WHERE plan_id = :p AND (CAST(:c AS text[]) IS NULL OR community_code = ANY(CAST(:c AS text[]))) ORDER BY id""",
        {"p": plan_id, "c": communities},
    )
    codes = communities if communities is not None else sorted(set(grids["community_code"]))
    comm = frames.communities_frame(session, codes) if codes else frames.communities_frame(session, ["-"])
    result = validate_grids(grids, comm, rules or plan_rules(plan.settings or {}))
    # Grids no active 网格长 or 专职网格员 is assigned to (by code: a new grid has none until published).
    result["unstaffed"] = [dict(r) for r in session.execute(text(
        """SELECT g.id AS grid_id, g.code, g.community_code,
                  count(s.id) FILTER (WHERE s.role = :chief)::int AS leaders, count(s.id) FILTER (WHERE s.role = :full)::int AS full_time
           FROM grids g LEFT JOIN staff s ON s.grid_code = g.code AND s.active
           WHERE g.plan_id = :p AND (CAST(:c AS text[]) IS NULL OR g.community_code = ANY(CAST(:c AS text[])))
           GROUP BY g.id, g.code, g.community_code
           HAVING count(s.id) FILTER (WHERE s.role = :chief) = 0 OR count(s.id) FILTER (WHERE s.role = :full) = 0
           ORDER BY g.id"""), {"p": plan_id, "c": communities, "chief": CHIEF, "full": FULLTIME}).mappings()]
    result.setdefault("summary", {})["unstaffed"] = len(result["unstaffed"])
    return {"plan_id": plan_id, "communities_checked": len(comm), **result}


def plan_diff(session: Session, plan_id: int) -> dict:
    """The plan against the published one: grids added / removed / changed / unchanged as a FeatureCollection
    (``change`` property), counts, and the codes publishing now would keep, issue and retire (nothing written)."""
    plan = session.get(m.GridPlan, plan_id)
    if plan is None:
        raise LookupError(f"no plan {plan_id}")
    published = plans.published_plan(session)
    cols = "id, code, type, community_code, households, population, building_count, geom"
    draft = frames.read_frame(session, f"SELECT {cols} FROM grids WHERE plan_id = :p ORDER BY id", {"p": plan_id})
    previous = None
    if published is not None and published.id != plan_id:
        previous = frames.read_frame(session, f"SELECT {cols} FROM grids WHERE plan_id = :p ORDER BY id", {"p": published.id})
    diff = diff_grids(draft, previous)
    codes = _code_changes(session, draft, previous)
    diff["code_if_published"] = diff["id"].map(codes.pop("by_grid")) if len(diff) else None
    diff = diff.astype({c: object for c in ("id", "published_id", "code", "code_if_published")})
    diff = diff.where(diff.notna(), None)
    features = json.loads(gpd.GeoDataFrame(diff, geometry="geom", crs=m.SRID).to_json(drop_id=True)) if len(diff) else {"type": "FeatureCollection", "features": []}
    return {
        "plan_id": plan_id,
        "published_plan_id": published.id if published else None,
        "summary": change_counts(diff) if len(diff) else dict.fromkeys(("added", "removed", "changed", "unchanged"), 0),
        "codes": codes,
        **features,
    }


def _code_changes(session: Session, draft: gpd.GeoDataFrame, previous: gpd.GeoDataFrame | None) -> dict:
    """What :func:`gridplanner.plans.codes.code_plan` would do at publication, without writing it."""
    if draft.empty:
        return {"events": {}, "kept": [], "new": [], "retired": sorted(previous["code"].dropna()) if previous is not None else [], "by_grid": {}}
    prev = previous[previous["code"].notna()][["code", "community_code", "type", "geom"]] if previous is not None else None
    in_use = set(prev["code"]) if prev is not None else set()
    ever = session.execute(select(m.GridCode.code)).scalars().all()
    result = assign_codes(draft[["id", "community_code", "type", "geom"]], active_rule(), previous=prev, retired=[c for c in ever if c not in in_use], source="draft", previous_source="published plan")
    by_grid = {int(i): c for i, c in zip(result.grids["id"], result.grids["code"])}
    given = sorted(by_grid.values())
    return {
        "events": result.counts(),
        "kept": [c for c in given if c in in_use],
        "new": [c for c in given if c not in in_use],
        "retired": sorted(result.retired),
        "by_grid": by_grid,
    }
