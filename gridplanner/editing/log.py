"""The store side of undo and redo: snapshots of grid rows, writing a snapshot back, and the edit log.

Each hand edit stores the rows it replaced (``before``) and the rows it wrote (``after``), ids included, so undo
puts the very same grids back (the web client's ids stay valid) and redo re-applies them. The log of a plan is
a stack: undo marks the newest done entry undone, redo re-applies the oldest undone one, and a new edit drops
every undone entry.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.planning.households import estimate_households
from gridplanner.store import models as m
from gridplanner.store.frames import read_frame

COLUMNS = ("code", "name", "type", "dedicated_kind", "community_code", "households", "population", "area_m2", "building_count", "source")


def snapshot(session: Session, ids: Iterable[int]) -> list[dict]:
    """The rows of grids ``ids`` as JSON-ready dicts (geometry as hex WKB), by id."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return []
    rows = session.execute(
        text(f"SELECT id, {', '.join(COLUMNS)}, encode(ST_AsBinary(geom), 'hex') AS wkb FROM grids WHERE id = ANY(:ids) ORDER BY id"), {"ids": ids}
    ).mappings()
    return [dict(r) for r in rows]


def write_rows(session: Session, plan_id: int, remove: list[dict], add: list[dict]) -> list[int]:
    """Replace grids ``remove`` of ``plan_id`` by ``add``: rows of both keep their id and are updated in place,
    rows only in ``remove`` are deleted, rows of ``add`` with an id are inserted under it, without one under a
    new id. Returns the ids of ``add`` in order.

    A code that ``add`` brings back but another grid of the draft now holds (re-planning may recode grids) is
    taken from that grid; draft codes are settled again at publication anyway.
    """
    add_ids = [int(r["id"]) for r in add if r.get("id") is not None]
    gone = sorted({int(r["id"]) for r in remove} - set(add_ids))
    if gone:
        session.execute(text("DELETE FROM grids WHERE plan_id = :p AND id = ANY(:ids)"), {"p": plan_id, "ids": gone})
    codes = [r["code"] for r in add if r.get("code")]
    if codes or add_ids:
        # Null first: two grids swapping codes would trip the (plan_id, code) unique constraint midway.
        session.execute(
            text("UPDATE grids SET code = NULL WHERE plan_id = :p AND (code = ANY(:codes) OR id = ANY(:ids))"), {"p": plan_id, "codes": codes, "ids": add_ids}
        )
    out = []
    cols = ", ".join(COLUMNS)
    values = ", ".join(f":{c}" for c in COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS)
    for r in add:
        params = {c: r.get(c) for c in COLUMNS} | {"p": plan_id, "wkb": r["wkb"]}
        if r.get("id") is None:
            sql = f"INSERT INTO grids (plan_id, {cols}, geom) VALUES (:p, {values}, ST_GeomFromWKB(decode(:wkb, 'hex'), {m.SRID})) RETURNING id"
        else:
            params["id"] = int(r["id"])
            sql = f"""INSERT INTO grids (id, plan_id, {cols}, geom) VALUES (:id, :p, {values}, ST_GeomFromWKB(decode(:wkb, 'hex'), {m.SRID}))
                      ON CONFLICT (id) DO UPDATE SET {updates}, geom = EXCLUDED.geom RETURNING id"""
        out.append(session.execute(text(sql), params).scalar_one())
    return out


def recompute_figures(session: Session, ids: list[int]) -> None:
    """Area (m², on the ellipsoid), households, population and building count of grids ``ids``: a building
    counts for the grid holding more than half of its footprint (a point building: the grid covering it).

    Households and population go through the planning engine's own estimate
    (:func:`~gridplanner.planning.households.estimate_households`), so a hand-edited grid and a planned one
    count a building without households the same way."""
    if not ids:
        return
    held = read_frame(
        session,
        """SELECT g.id AS grid_id, b.households, b.population, b.floors, b.use, b.geom
           FROM grids g JOIN buildings b ON ST_Intersects(b.geom, g.geom) AND CASE
                WHEN ST_Dimension(b.geom) = 2 THEN ST_Area(ST_Intersection(b.geom, g.geom)) > 0.5 * ST_Area(b.geom)
                ELSE ST_Covers(g.geom, ST_PointOnSurface(b.geom)) END
           WHERE g.id = ANY(:ids)""",
        {"ids": list(ids)},
    )
    households, population, _ = estimate_households(held)
    sums = (
        pd.DataFrame({"grid_id": held["grid_id"].to_numpy(dtype="int64"), "hh": households, "pop": population})
        .groupby("grid_id")
        .agg(hh=("hh", "sum"), pop=("pop", "sum"), n=("hh", "size"))
    )
    ids = [int(i) for i in ids]
    session.execute(
        text(
            """UPDATE grids g SET area_m2 = ST_Area(g.geom::geography), households = s.hh, population = s.pop, building_count = s.n
               FROM unnest(CAST(:ids AS bigint[]), CAST(:hh AS int[]), CAST(:pop AS int[]), CAST(:n AS int[])) AS s(id, hh, pop, n)
               WHERE g.id = s.id"""
        ),
        {
            "ids": ids,
            "hh": [int(sums.hh.get(i, 0)) for i in ids],
            "pop": [int(sums["pop"].get(i, 0)) for i in ids],
            "n": [int(sums.n.get(i, 0)) for i in ids],
        },
    )


def record(session: Session, plan_id: int, action: str, actor: str, params: dict, before: list[dict], after: list[dict]) -> m.EditLogEntry:
    """Log a new edit; the redo stack (undone entries) is dropped, as in any editor."""
    session.execute(text("DELETE FROM edit_log WHERE plan_id = :p AND undone"), {"p": plan_id})
    entry = m.EditLogEntry(plan_id=plan_id, action=action, actor=actor, params=params, before=before, after=after, undone=False)
    session.add(entry)
    session.flush()
    return entry


def last_done(session: Session, plan_id: int) -> m.EditLogEntry | None:
    eid = session.execute(text("SELECT max(id) FROM edit_log WHERE plan_id = :p AND NOT undone"), {"p": plan_id}).scalar_one()
    return session.get(m.EditLogEntry, eid) if eid is not None else None


def first_undone(session: Session, plan_id: int) -> m.EditLogEntry | None:
    eid = session.execute(text("SELECT min(id) FROM edit_log WHERE plan_id = :p AND undone"), {"p": plan_id}).scalar_one()
    return session.get(m.EditLogEntry, eid) if eid is not None else None


def matches(session: Session, rows: list[dict]) -> bool:
    """Whether the grids of ``rows`` are in the store exactly as recorded (nothing changed them since)."""
    current = {r["id"]: r["wkb"] for r in snapshot(session, [r["id"] for r in rows])}
    return len(current) == len(rows) and all(current.get(r["id"]) == r["wkb"] for r in rows)
