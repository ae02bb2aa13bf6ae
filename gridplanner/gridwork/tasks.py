"""Tasks sent by area (按区域下发任务): one task per grid of the published plan in a drawn area, for an admitted
grid item, with a deadline; the grids' staff acknowledge and complete them; the sender follows each grid.

Which grids are in the area is PostGIS's answer: the grids whose interiors the area overlaps (a grid the area
only touches along an edge is not in it). The whole batch is one INSERT … SELECT in the caller's transaction, so
5,000 grids cost one statement and a failure leaves nothing. Rules are in :mod:`gridplanner.gridwork.task_rules`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.gridwork import task_rules as rules
from gridplanner.gridwork.catalogue import assignable_item
from gridplanner.gridwork.task_rules import TaskForbidden, TaskNotFound, TaskRuleError
from gridplanner.incidents.locate import fulltime_of
from gridplanner.store import models as m
from gridplanner.store.published import published_plan_id

#: The grids of the published plan in the area (:a, WKT in EPSG:4490), by interior overlap.
_IN_AREA = """FROM grids g
    WHERE g.plan_id = :plan AND g.code IS NOT NULL
      AND ST_Intersects(g.geom, ST_GeomFromText(:a, 4490)) AND NOT ST_Touches(g.geom, ST_GeomFromText(:a, 4490))"""
MAX_LISTED = 20


def _now(session: Session) -> datetime:
    return session.execute(text("SELECT now()")).scalar_one()


def send_by_area(session: Session, *, item_code: str, area: dict, due_at: datetime, instructions: str | None = None, actor: str, districts: tuple[str, ...] | None = None) -> dict:
    """Send one task per grid in ``area`` for the admitted item ``item_code``. ``districts``: the districts the
    sender may send to (a planner's); None for an admin. Returns the batch's summary."""
    item = assignable_item(session, item_code)  # ItemNotFound, ItemNotAssignable: the reason goes back
    shape = rules.check_area(area)
    rules.check_due(due_at, _now(session))
    instructions = (instructions or "").strip() or None
    if instructions and len(instructions) > rules.MAX_NOTE:
        raise TaskRuleError(f"任务说明最多 {rules.MAX_NOTE} 个字符", f"instructions: at most {rules.MAX_NOTE} characters")
    plan = published_plan_id(session)
    if plan is None:
        raise TaskRuleError("尚无已发布的网格方案，无法下发任务", "no plan is published yet: there are no grids to send tasks to")
    p = {"plan": plan, "a": shape.wkt, "d": list(districts or ())}
    found = session.execute(
        text(f"""SELECT count(*) AS grids,
                        array_agg(g.code ORDER BY g.code) FILTER (WHERE CAST(:d AS text[]) <> '{{}}' AND left(g.community_code, 6) <> ALL(CAST(:d AS text[]))) AS outside
                 {_IN_AREA}"""),
        p if districts is not None else {**p, "d": []},
    ).one()
    if found.grids == 0:
        raise TaskRuleError("所画区域内没有已发布方案的网格", "the area holds no grid of the published plan")
    if districts is not None and found.outside:
        shown = ", ".join(found.outside[:MAX_LISTED]) + (" …" if len(found.outside) > MAX_LISTED else "")
        raise TaskForbidden(
            f"区域内有 {len(found.outside)} 个网格不在您负责的区县（{'、'.join(districts)}）：{shown}",
            f"{len(found.outside)} grid(s) of the area lie outside your districts ({', '.join(districts)}): {shown}",
        )
    batch = m.TaskBatch(item_code=item.code, instructions=instructions, due_at=due_at, area=f"SRID=4490;{shape.wkt}", sent_by=actor)
    session.add(batch)
    session.flush()
    sent = session.execute(
        text(f"""INSERT INTO grid_tasks (batch_id, grid_code, community_code, staff_id, status)
                 SELECT :b, g.code, g.community_code, {fulltime_of('g.code')}, 'sent' {_IN_AREA}
                 RETURNING staff_id"""),
        {**p, "b": batch.id},
    ).all()
    no_worker = sum(1 for r in sent if r.staff_id is None)
    record(session, actor, "send tasks by area", "task_batch", batch.id, {"item": item.code, "grids": len(sent), "due_at": due_at.isoformat()})
    return {"batch_id": batch.id, "item_code": item.code, "item_name": item.name, "due_at": due_at, "grids": len(sent), "grids_without_worker": no_worker}


_TASK_COLUMNS = """t.id AS task_id, t.batch_id, t.grid_code, t.community_code, t.staff_id, s.name AS staff_name, t.status,
    t.acknowledged_at, t.acknowledged_by, t.completed_at, t.completed_by, t.note, b.due_at, b.item_code, gi.name AS item_name,
    b.instructions, b.sent_by, b.sent_at, (t.status <> 'completed' AND b.due_at < CAST(:now AS timestamptz)) AS overdue"""
_TASK_FROM = """FROM grid_tasks t JOIN task_batches b ON b.id = t.batch_id JOIN grid_items gi ON gi.code = b.item_code
    LEFT JOIN staff s ON s.id = t.staff_id"""


def batch_view(session: Session, batch_id: int, *, now: datetime | None = None) -> dict:
    """What the sender sees: the batch, each grid's task (acknowledged, completed, overdue) and the counts."""
    batch = session.get(m.TaskBatch, batch_id)
    if batch is None:
        raise TaskNotFound(f"没有任务批次 {batch_id}", f"no task batch {batch_id}")
    rows = session.execute(text(f"SELECT {_TASK_COLUMNS} {_TASK_FROM} WHERE t.batch_id = :b ORDER BY t.grid_code"), {"b": batch_id, "now": now or _now(session)}).mappings().all()
    tasks = [dict(r) for r in rows]
    counts = {s: sum(1 for t in tasks if t["status"] == s) for s in rules.TASK_STATUSES}
    counts["overdue"] = sum(1 for t in tasks if t["overdue"])
    return {
        "batch_id": batch.id, "item_code": batch.item_code, "instructions": batch.instructions, "due_at": batch.due_at,
        "sent_by": batch.sent_by, "sent_at": batch.sent_at, "counts": counts, "tasks": tasks,
    }


def batch_map(session: Session, batch_id: int, *, now: datetime | None = None) -> dict:
    """The batch's grids as a GeoJSON FeatureCollection (EPSG:4490 lon/lat), each with its task's status: the map
    beside the list. PostGIS writes the GeoJSON."""
    if session.get(m.TaskBatch, batch_id) is None:
        raise TaskNotFound(f"没有任务批次 {batch_id}", f"no task batch {batch_id}")
    fc = session.execute(
        text(
            """SELECT json_build_object('type', 'FeatureCollection', 'features', COALESCE(json_agg(json_build_object(
                   'type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(g.geom, 7)::json,
                   'properties', json_build_object('task_id', t.id, 'grid_code', t.grid_code, 'status', t.status,
                       'overdue', t.status <> 'completed' AND b.due_at < CAST(:now AS timestamptz))) ORDER BY t.grid_code), '[]'::json))
               FROM grid_tasks t JOIN task_batches b ON b.id = t.batch_id
               JOIN grids g ON g.code = t.grid_code AND g.plan_id = (SELECT id FROM grid_plans WHERE status = 'published')
               WHERE t.batch_id = :b"""
        ),
        {"b": batch_id, "now": now or _now(session)},
    ).scalar_one()
    return fc


def _staff(session: Session, staff_id: int | None) -> m.Staff:
    staff = session.get(m.Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        raise TaskForbidden("此账号未关联在岗的网格员", "this account is linked to no active grid worker")
    return staff


def my_tasks(session: Session, staff_id: int | None, *, open_only: bool = False, now: datetime | None = None) -> list[dict]:
    """The tasks of the worker's own grid (the grid they work in now), newest first."""
    staff = _staff(session, staff_id)
    if staff.grid_code is None:
        return []
    extra = " AND t.status <> 'completed'" if open_only else ""
    rows = session.execute(
        text(f"SELECT {_TASK_COLUMNS} {_TASK_FROM} WHERE t.grid_code = :g{extra} ORDER BY b.sent_at DESC, t.id DESC"),
        {"g": staff.grid_code, "now": now or _now(session)},
    ).mappings().all()
    return [dict(r) for r in rows]


def act(session: Session, task_id: int, to: str, *, staff_id: int | None, actor: str, note: str | None = None) -> dict:
    """Acknowledge (签收) or complete (完成, with a note) a task of the worker's own grid."""
    staff = _staff(session, staff_id)
    task = session.execute(select(m.GridTask).where(m.GridTask.id == task_id).with_for_update()).scalar_one_or_none()
    if task is None:
        raise TaskNotFound(f"没有任务 {task_id}", f"no task {task_id}")
    if staff.grid_code != task.grid_code:
        raise TaskForbidden(f"任务 {task_id} 属于网格 {task.grid_code}，不是您的网格", f"task {task_id} belongs to grid {task.grid_code}, not yours")
    rules.check_task_step(task_id, task.status, to)
    now = _now(session)
    if to == rules.ACKNOWLEDGED:
        task.acknowledged_at, task.acknowledged_by = now, actor
    else:
        task.note = rules.check_note(note)
        task.completed_at, task.completed_by = now, actor
    task.status = to
    session.flush()
    record(session, actor, f"{'acknowledge' if to == rules.ACKNOWLEDGED else 'complete'} task", "grid_task", task_id, {"staff_id": staff.id, "note": task.note if to == rules.COMPLETED else None})
    row = session.execute(text(f"SELECT {_TASK_COLUMNS} {_TASK_FROM} WHERE t.id = :t"), {"t": task_id, "now": now}).mappings().one()
    return dict(row)
