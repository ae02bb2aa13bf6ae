"""Finding places by what people call them: a grid by its code, a community or street by name or code, a
building by its id or name. One UNION in PostgreSQL; each hit carries the box to zoom to (EPSG:4490)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

#: The kinds of place searched, in the order hits are listed.
KINDS = ("grid", "community", "street", "building")


def _pattern(q: str) -> str:
    # LIKE's own wildcards in what was typed are taken literally.
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Session, q: str, *, plan_id: int | None = None, limit: int = 10) -> list[dict]:
    """Up to ``limit`` hits of each kind for ``q``: codes match from their start, names anywhere in them
    (case-insensitive); exact matches first, then the shortest. Grids are those of ``plan_id`` (default: the
    published plan). Each hit: ``kind``, ``code`` (a building: its id), ``name``, ``detail`` (where it is)
    and ``bbox`` [west, south, east, north]."""
    q = q.strip()
    if not q:
        return []
    params = {"q": q, "prefix": q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", "like": _pattern(q),
              "plan": plan_id, "limit": limit}
    box = "ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)]"
    sql = f"""
    WITH plan AS (SELECT COALESCE(CAST(:plan AS integer), (SELECT id FROM grid_plans WHERE status = 'published')) AS id),
    grid AS (
        SELECT 'grid' AS kind, g.code, COALESCE(g.name, g.code) AS name, c.name AS detail, ST_Envelope(g.geom) AS b,
               (g.code = :q) AS exact, length(g.code) AS len
        FROM grids g JOIN plan ON g.plan_id = plan.id LEFT JOIN communities c ON c.code = g.community_code
        WHERE g.code LIKE :prefix OR g.name ILIKE :like
        ORDER BY 6 DESC, 7, 2 LIMIT :limit),
    community AS (
        SELECT 'community', c.code, c.name, s.name, ST_Envelope(c.geom), (c.name = :q OR c.code = :q), length(c.name)
        FROM communities c JOIN streets s ON s.code = c.street_code
        WHERE c.code LIKE :prefix OR c.name ILIKE :like
        ORDER BY 6 DESC, 7, 2 LIMIT :limit),
    street AS (
        SELECT 'street', s.code, s.name, NULL::text, ST_Envelope(ST_Collect(c.geom)), (s.name = :q OR s.code = :q), length(s.name)
        FROM streets s JOIN communities c ON c.street_code = s.code
        WHERE s.code LIKE :prefix OR s.name ILIKE :like
        GROUP BY s.code, s.name
        ORDER BY 6 DESC, 7, 2 LIMIT :limit),
    building AS (
        SELECT 'building', b.id::text, COALESCE(b.name, b.source_id, b.id::text), c.name, ST_Envelope(b.geom),
               (b.source_id = :q OR b.id::text = :q), length(COALESCE(b.name, b.source_id, ''))
        FROM buildings b LEFT JOIN communities c ON c.code = b.community_code
        WHERE b.source_id = :q OR b.id::text = :q OR b.name ILIKE :like
        ORDER BY 6 DESC, 7, 2 LIMIT :limit)
    SELECT kind, code, name, detail, {box} AS bbox FROM (
        SELECT * FROM grid UNION ALL SELECT * FROM community UNION ALL SELECT * FROM street UNION ALL SELECT * FROM building
    ) hits(kind, code, name, detail, b, exact, len)"""
    rows = session.execute(text(sql), params).mappings().all()
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(({**r, "bbox": [float(v) for v in r["bbox"]]} for r in rows), key=lambda r: order[r["kind"]])
