"""Bulk import of a hotline (12345) CSV export: checked whole in pandas, then COPY into a staging table and
one INSERT … SELECT that places every point in its grid in PostGIS. All rows or none; ids already in the store
are skipped (re-importing an export is harmless)."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.incidents.catalogue import time_limits
from gridplanner.incidents.lifecycle import CLOSED_STATUSES, STATUSES
from gridplanner.incidents.locate import OPEN_SQL, community_at, fulltime_of
from gridplanner.incidents.service import in_china, to_cgcs2000
from gridplanner.store.published import published_plan_id

COLUMNS = {
    "id": ("id", "external_id", "工单编号", "工单号", "案卷号", "编号"),
    "category": ("category", "类别", "事件类别", "事件类型", "问题类别"),
    "status": ("status", "状态", "办理状态"),
    "reported_at": ("reported_at", "上报时间", "来电时间", "登记时间"),
    "lon": ("lon", "lng", "经度"),
    "lat": ("lat", "纬度"),
    "description": ("description", "描述", "诉求内容", "问题描述"),
    "source": ("source", "来源"),
    "dispatched_at": ("dispatched_at", "派遣时间"),
    "closed_at": ("closed_at", "结案时间"),
}
REQUIRED = ("id", "category", "status", "reported_at", "lon", "lat")
MAX_LISTED = 50
LOCAL_TZ = "+08:00"  # times without an offset are Beijing time
COPY_CHUNK = 200_000
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


class IncidentImportError(ValueError):
    def __init__(self, source: str, problems: list[tuple[int, str]]):
        self.source, self.problems = source, problems
        lines = [f"{source}: {len(problems)} problem(s), nothing was imported"] + [f"  row {r}: {p}" for r, p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"  … and {len(problems) - MAX_LISTED} more")
        super().__init__("\n".join(lines))


@dataclass
class HotlineReport:
    source: str
    rows: int = 0
    inserted: int = 0
    skipped_existing: int = 0
    no_grid: int = 0
    #: External ids of (up to 200) imported incidents in no grid: kept, flagged 无网格.
    no_grid_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _normalise_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(ISO 8601 strings with an offset — Beijing time when none was given —, their parsed UTC values)."""
    filled = values != ""
    if not filled.any():
        return values, pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    naive = filled & ~values.str.contains(_HAS_OFFSET)
    if naive.any():
        values = values.where(~naive, values + LOCAL_TZ)
    return values, pd.to_datetime(values.where(filled, None), utc=True, format="ISO8601", errors="coerce")


def read_hotline(data: bytes, source: str, categories: set[str], *, crs: str = "wgs84") -> pd.DataFrame:
    """The export checked row by row (every problem listed by row, header = row 1) and normalised for COPY:
    text columns, times as ISO 8601 with an offset, CGCS2000 lon/lat. Raises IncidentImportError."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise IncidentImportError(source, [(1, "the file is empty")]) from None
    else:
        raise IncidentImportError(source, [(1, "not UTF-8 or GB18030 text")])
    lower = {c.strip().lower(): c for c in df.columns}
    cols = {}
    for ours, names in COLUMNS.items():
        for n in names:
            if n.lower() in lower:
                cols[ours] = lower[n.lower()]
                break
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise IncidentImportError(source, [(1, f"missing column(s) {', '.join(missing)} (header: {', '.join(df.columns)})")])
    out = pd.DataFrame({k: df[v].str.strip() for k, v in cols.items()})
    for opt in ("description", "source", "dispatched_at", "closed_at"):
        if opt not in out:
            out[opt] = ""
    problems: list[tuple[int, str]] = []

    def flag(mask, message):
        # Messages are built for the bad rows only: a million good rows cost nothing here.
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            problems.append((int(i) + 2, message(out.iloc[i])))

    flag(out["id"] == "", lambda r: "id is empty")
    flag(out["id"].duplicated(keep="first") & (out["id"] != ""), lambda r: f"id {r['id']} appears twice in the file")
    cats = ", ".join(sorted(categories))
    flag(~out["category"].isin(categories), lambda r: f"unknown category {r['category']} (catalogue: {cats})")
    flag(~out["status"].isin(STATUSES), lambda r: f"unknown status {r['status']} (one of {', '.join(STATUSES)})")
    out["reported_at"], reported = _normalise_times(out["reported_at"])
    flag(reported.isna(), lambda r: f"reported_at {r['reported_at']} is not a date and time (ISO 8601)")
    for col in ("dispatched_at", "closed_at"):
        out[col], parsed = _normalise_times(out[col])
        flag(parsed.isna() & (out[col] != ""), lambda r, col=col: f"{col} {r[col]} is not a date and time")
    lon, lat = pd.to_numeric(out["lon"], errors="coerce").to_numpy(), pd.to_numeric(out["lat"], errors="coerce").to_numpy()
    flag(~in_china(lon, lat), lambda r: f"point ({r['lon']}, {r['lat']}) is not a lon/lat in China")
    if problems:
        raise IncidentImportError(source, sorted(problems))
    try:
        x, y = to_cgcs2000(lon, lat, crs)
    except ValueError as exc:
        raise IncidentImportError(source, [(1, str(exc))]) from None
    if x is not lon:  # shifted from GCJ-02 / BD-09: new text; WGS84/CGCS2000 text goes through as written
        out["lon"], out["lat"] = np.char.mod("%.8f", x), np.char.mod("%.8f", y)
    return out.rename(columns={"id": "external_id"})


STAGE_COLUMNS = ["external_id", "category", "status", "description", "source", "reported_at", "dispatched_at", "closed_at", "lon", "lat"]


def copy_rows(session: Session, frame: pd.DataFrame, table: str) -> None:
    """COPY ``frame`` (STAGE_COLUMNS, text; empty = NULL) into ``table`` through the session's psycopg connection."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(frame), COPY_CHUNK):
            copy.write(frame.iloc[start : start + COPY_CHUNK][STAGE_COLUMNS].to_csv(index=False, header=False))


def import_frame(session: Session, frame: pd.DataFrame, source: str, *, actor: str = "import") -> HotlineReport:
    """Write checked rows (see :func:`read_hotline`): place each in its grid with the grid's 专职网格员 and
    start the clock of dispatched ones. The import itself is one audit entry (the file's own history of each
    case is not in the export); lifecycle steps taken here afterwards are recorded as events."""
    report = HotlineReport(source=source, rows=len(frame))
    frame = frame.copy()
    # Without a dispatch time, a case already past 派遣 is taken as dispatched when reported (the earliest it can have been).
    needs = frame["status"].isin(STATUSES[2:]) & (frame["dispatched_at"] == "")
    if needs.any():
        frame.loc[needs, "dispatched_at"] = frame.loc[needs, "reported_at"]
        report.notes.append(f"{int(needs.sum())} incidents past 派遣 had no dispatch time: their clock starts at reported_at")
    closed_unknown = frame["status"].isin(CLOSED_STATUSES) & (frame["closed_at"] == "")
    if closed_unknown.any():
        report.notes.append(f"{int(closed_unknown.sum())} closed incidents had no closing time: closed_at left empty")
    stage_rows(session, frame)
    row = insert_staged(session, source, len(frame))
    report.inserted, report.no_grid, report.no_grid_ids = int(row.n), int(row.no_grid), list(row.ids or [])
    report.skipped_existing = report.rows - report.inserted
    record(session, actor, "import incidents", "incident", None,
           {"source": source, "rows": report.rows, "inserted": report.inserted, "skipped": report.skipped_existing, "no_grid": report.no_grid})
    return report


def stage_rows(session: Session, frame: pd.DataFrame) -> None:
    """COPY checked rows into the temporary table ``hotline_stage`` (dropped at commit)."""
    session.execute(text(
        """CREATE TEMP TABLE hotline_stage (external_id text, category text, status text, description text, source text,
           reported_at timestamptz, dispatched_at timestamptz, closed_at timestamptz, lon float8, lat float8) ON COMMIT DROP"""
    ))
    copy_rows(session, frame, "hotline_stage")


def insert_staged(session: Session, source: str, n_rows: int, timings: dict | None = None):
    """Insert the staged rows into incidents, placed in grids; returns (n, no_grid, ids of up to 200 无网格).
    ``timings``, when given, receives the seconds of each step (for the benchmark)."""
    clock, timings = time.perf_counter(), timings if timings is not None else {}
    # Point-in-polygon against grids cut into pieces of at most 64 vertices: each test is small and the GiST
    # boxes are tight (the usual PostGIS way to join many points to detailed polygons). Each piece carries
    # its grid's 专职网格员, so no per-row look-up of staff is needed.
    session.execute(text(
        f"""CREATE TEMP TABLE grid_pieces ON COMMIT DROP AS
            SELECT g.code, g.community_code, {fulltime_of('g.code')} AS fulltime, ST_Subdivide(g.geom, 64) AS geom
            FROM grids g WHERE g.plan_id = :plan"""
    ), {"plan": published_plan_id(session)})
    session.execute(text("CREATE INDEX ON grid_pieces USING gist (geom)"))
    session.execute(text("ANALYZE grid_pieces"))
    timings["pieces"], clock = time.perf_counter() - clock, time.perf_counter()
    pt = "ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4490)"
    sql = f"""
        WITH ins AS (
            INSERT INTO incidents (external_id, category, status, description, source, reported_at, dispatched_at, due_at,
                                   closed_at, grid_code, community_code, assignee_id, geom)
            SELECT t.external_id, t.category, t.status, t.description, COALESCE(t.source, :src), t.reported_at, t.dispatched_at,
                   t.dispatched_at + c.time_limit_hours * interval '1 hour', t.closed_at,
                   g.code, COALESCE(g.community_code, {community_at(pt)}),
                   CASE WHEN t.status IN {OPEN_SQL} THEN g.fulltime END,
                   {pt}
            -- Spatial order: consecutive tests hit the same pieces, and the GiST index of incidents grows locally.
            FROM (SELECT * FROM hotline_stage ORDER BY floor(lat * 1000), lon) t
            JOIN incident_categories c ON c.name = t.category
            LEFT JOIN LATERAL (SELECT p.code, p.community_code, p.fulltime FROM grid_pieces p
                               WHERE ST_Intersects(p.geom, {pt}) ORDER BY p.code LIMIT 1) g ON true
            ON CONFLICT (external_id) DO NOTHING
            RETURNING external_id, grid_code
        )
        SELECT count(*) AS n, count(*) FILTER (WHERE grid_code IS NULL) AS no_grid,
               (array_agg(external_id ORDER BY external_id) FILTER (WHERE grid_code IS NULL))[1:200] AS ids
        FROM ins"""
    session.execute(text("SET LOCAL work_mem = '256MB'"))
    rebuild = _drop_secondary_indexes(session, n_rows)
    row = session.execute(text(sql), {"src": source}).one()
    timings["insert"], clock = time.perf_counter() - clock, time.perf_counter()
    for ddl in rebuild:
        session.execute(text(ddl))
    timings["indexes"] = time.perf_counter() - clock
    session.execute(text("DROP TABLE IF EXISTS hotline_stage, grid_pieces"))
    return row


#: From this many rows on, an import that at least doubles the table drops the secondary indexes and the
#: foreign key of incidents and builds them again afterwards: one sorted index build and one validating join
#: beat a million single index inserts and a million row locks on staff.
REBUILD_MIN_ROWS = 100_000


def _drop_secondary_indexes(session: Session, n_rows: int) -> list[str]:
    """Drop the non-unique indexes and the foreign keys of incidents for a big import; returns the statements
    that recreate them (re-adding a foreign key checks every row again). The drop takes an exclusive lock on
    incidents until the import commits: readers wait, nothing is lost."""
    if n_rows < REBUILD_MIN_ROWS:
        return []
    existing = session.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass")).scalar_one()
    if existing > n_rows:
        return []
    indexes = session.execute(text(
        """SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           WHERE x.indrelid = 'incidents'::regclass AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname"""
    )).all()
    fkeys = session.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'incidents'::regclass AND contype = 'f' ORDER BY conname"
    )).all()
    session.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    for name, _ in fkeys:
        session.execute(text(f'ALTER TABLE incidents DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    return [ddl for _, ddl in indexes] + [f'ALTER TABLE incidents ADD CONSTRAINT "{name}" {ddl}' for name, ddl in fkeys]


def import_hotline(session: Session, data: bytes | Path, source: str | None = None, *, crs: str = "wgs84", actor: str = "import") -> HotlineReport:
    """Check and import a hotline CSV (bytes, or a path)."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise IncidentImportError(str(path), [(1, "no such file")])
        source, data = source or path.name, path.read_bytes()
    frame = read_hotline(data, source or "upload", set(time_limits(session)), crs=crs)
    return import_frame(session, frame, source or "upload", actor=actor)
