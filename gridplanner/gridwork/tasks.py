"""Tasks sent by area (按区域下发任务): one task per grid of the published plan in a drawn area (or in the streets,
communities or grids picked), for an admitted grid item, with a deadline; the grids' staff acknowledge and
complete them; the sender follows each grid.

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

#: The grids of the published plan a selection picks: ``{where}`` is one of :data:`_PICKED`.
_SELECTED = """FROM grids g WHERE g.plan_id = :plan AND g.code IS NOT NULL AND {where}"""
_PICKED = {
    # Interior overlap: a grid the area only touches along an edge is not in it.
    "area": "ST_Intersects(g.geom, ST_GeomFromText(:a, 4490)) AND NOT ST_Touches(g.geom, ST_GeomFromText(:a, 4490))",
    # A community code is its street's 9-digit code and 3 digits more.
    "street_codes": "left(g.community_code, 9) = ANY(CAST(:codes AS text[]))",
    "community_codes": "g.community_code = ANY(CAST(:codes AS text[]))",
    "grid_codes": "g.code = ANY(CAST(:codes AS text[]))",
}
MAX_LISTED = 20


def _now(session: Session) -> datetime:
    return session.execute(text("SELECT now()")).scalar_one()


def _listed(codes: list[str]) -> str:
    return ", ".join(codes[:MAX_LISTED]) + (" …" if len(codes) > MAX_LISTED else "")


def send_tasks(
    session: Session, *, item_code: str, due_at: datetime, area: dict | None = None, street_codes: list[str] | None = None,
    community_codes: list[str] | None = None, grid_codes: list[str] | None = None, instructions: str | None = None,
    actor: str, districts: tuple[str, ...] | None = None,
) -> dict:
    """Send one task per grid of the published plan in a drawn ``area`` or in the streets, communities or grids
    picked (exactly one of them), for the admitted item ``item_code``. ``districts``: those the sender may send
    to (a planner's); None for an admin. Returns the batch's summary."""
    item = assignable_item(session, item_code)  # ItemNotFound, ItemNotAssignable: the reason goes back
    kind, value = rules.check_selection(area, street_codes=street_codes, community_codes=community_codes, grid_codes=grid_codes)
    rules.check_due(due_at, _now(session))
    instructions = (instructions or "").strip() or None
    if instructions and len(instructions) > rules.MAX_NOTE:
        raise TaskRuleError(f"任务说明最多 {rules.MAX_NOTE} 个字符", f"instructions: at most {rules.MAX_NOTE} characters")
    plan = published_plan_id(session)
    if plan is None:
        raise TaskRuleError("尚无已发布的网格方案，无法下发任务", "no plan is published yet: there are no grids to send tasks to")
    p = {"plan": plan, "a": value.wkt if kind == "area" else None, "codes": value if kind != "area" else None, "d": list(districts or ())}
    selected = _SELECTED.format(where=_PICKED[kind])
    found = session.execute(
        text(f"""SELECT count(*) AS grids, array_agg(g.code ORDER BY g.code) AS codes, array_agg(DISTINCT g.community_code) AS communities,
                        array_agg(g.code ORDER BY g.code) FILTER (WHERE CAST(:d AS text[]) <> '{{}}' AND left(g.community_code, 6) <> ALL(CAST(:d AS text[]))) AS outside
                 {selected}"""),
        p,
    ).one()
    if kind != "area":
        # Every code picked must reach a grid: a typo is not silently a smaller batch.
        reached = set(found.codes or ()) if kind == "grid_codes" else {c[:9] if kind == "street_codes" else c for c in found.communities or ()}
        missing = [c for c in value if c not in reached]
        if missing:
            zh = rules.PICKS[kind][1]
            raise TaskRuleError(f"已发布方案中没有这些{zh}的网格：{_listed(missing)}", f"{kind}: no grid of the published plan for {_listed(missing)}")
    if found.grids == 0:
        raise TaskRuleError("所画区域内没有已发布方案的网格", "the area holds no grid of the published plan")
    if districts is not None and found.outside:
        raise TaskForbidden(
            f"有 {len(found.outside)} 个网格不在您负责的区县（{'、'.join(districts)}）：{_listed(found.outside)}",
            f"{len(found.outside)} grid(s) selected lie outside your districts ({', '.join(districts)}): {_listed(found.outside)}",
        )
    batch = m.TaskBatch(
        item_code=item.code, instructions=instructions, due_at=due_at, sent_by=actor,
        area=f"SRID=4490;{value.wkt}" if kind == "area" else None, selection={} if kind == "area" else {kind: value},
    )
    session.add(batch)
    session.flush()
    sent = session.execute(
        text(f"""INSERT INTO grid_tasks (batch_id, grid_code, community_code, staff_id, status)
                 SELECT :b, g.code, g.community_code, {fulltime_of('g.code')}, 'sent' {selected}
                 RETURNING staff_id"""),
        {**p, "b": batch.id},
    ).all()
    no_worker = sum(1 for r in sent if r.staff_id is None)
    record(session, actor, "send tasks", "task_batch", batch.id, {"item": item.code, "by": kind, "grids": len(sent), "due_at": due_at.isoformat()})
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


def _own_task(session: Session, task_id: int, staff: m.Staff, *, lock: bool = False) -> m.GridTask:
    """The task, when it belongs to the grid the worker works in (TaskNotFound, TaskForbidden else)."""
    q = select(m.GridTask).where(m.GridTask.id == task_id)
    task = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if task is None:
        raise TaskNotFound(f"没有任务 {task_id}", f"no task {task_id}")
    if staff.grid_code != task.grid_code:
        raise TaskForbidden(f"任务 {task_id} 属于网格 {task.grid_code}，不是您的网格", f"task {task_id} belongs to grid {task.grid_code}, not yours")
    return task


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
    task = _own_task(session, task_id, staff, lock=True)
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


def attach_photo(session: Session, task_id: int, data: bytes, *, staff_id: int | None, actor: str, max_bytes: int) -> dict:
    """Attach (or replace) the photo of a task of the worker's own grid, once acknowledged."""
    staff = _staff(session, staff_id)
    task = _own_task(session, task_id, staff, lock=True)
    if task.status == rules.SENT:
        raise rules.TaskStepError(f"任务 {task_id} 为已下发，须先签收再上传照片", f"task {task_id} is sent: acknowledge it before attaching a photo")
    media = rules.photo_type(data, max_bytes)
    photo = session.get(m.TaskPhoto, task_id)
    if photo is None:
        photo = m.TaskPhoto(task_id=task_id, media_type=media, content=data, uploaded_by=actor)
        session.add(photo)
    else:
        photo.media_type, photo.content, photo.uploaded_by, photo.uploaded_at = media, data, actor, _now(session)
    session.flush()
    record(session, actor, "attach task photo", "grid_task", task_id, {"bytes": len(data), "media_type": media})
    return {"task_id": task_id, "media_type": media, "bytes": len(data)}


def task_photo(session: Session, task_id: int) -> m.TaskPhoto:
    photo = session.get(m.TaskPhoto, task_id)
    if photo is None:
        raise TaskNotFound(f"任务 {task_id} 没有照片", f"task {task_id} has no photo")
    return photo


def check_own_task(session: Session, task_id: int, staff_id: int | None) -> None:
    """A staff account reads only the tasks of the grid it works in."""
    _own_task(session, task_id, _staff(session, staff_id))
