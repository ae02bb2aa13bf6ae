"""Bulk import of a hotline (12345) CSV export: checked whole in pandas, then COPY into a staging table and
one INSERT … SELECT that places every point in its grid in PostGIS. All rows or none; ids already in the store
are skipped (re-importing an export is harmless)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.incidents.catalogue import time_limits
from gridplanner.incidents.lifecycle import CLOSED_STATUSES, STATUSES
from gridplanner.incidents.locate import OPEN_SQL, community_at, fulltime_of, grid_join
from gridplanner.incidents.service import in_china, to_cgcs2000
from gridplanner.staffing.published import published_plan_id
from gridplanner.store import models as m

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


def _times(values: pd.Series) -> pd.Series:
    s = values.fillna("").astype(str).str.strip().str.replace(" ", "T", n=1, regex=False)
    naive = (s != "") & ~s.str.contains(_HAS_OFFSET)
    s = s.where(~naive, s + LOCAL_TZ)
    return pd.to_datetime(s.where(s != "", None), utc=True, format="ISO8601", errors="coerce")


def read_hotline(data: bytes, source: str, categories: set[str], *, crs: str = "wgs84") -> pd.DataFrame:
    """The export checked row by row (every problem listed by row, header = row 1) and normalised: CGCS2000
    lon/lat, UTC times. Raises IncidentImportError."""
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
    rowno = np.arange(len(out)) + 2
    bad: list[tuple[np.ndarray, str | pd.Series]] = []

    def flag(mask, message):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            msgs = message if not isinstance(message, str) else pd.Series(message, index=out.index)
            bad.append((mask, msgs))

    flag(out["id"] == "", "id is empty")
    dup = out["id"].duplicated(keep="first") & (out["id"] != "")
    flag(dup, "id " + out["id"] + " appears twice in the file")
    flag(~out["category"].isin(categories), "unknown category " + out["category"] + f" (catalogue: {', '.join(sorted(categories))})")
    flag(~out["status"].isin(STATUSES), "unknown status " + out["status"] + f" (one of {', '.join(STATUSES)})")
    reported = _times(out["reported_at"])
    flag(reported.isna(), "reported_at " + out["reported_at"] + " is not a date and time (ISO 8601)")
    dispatched, closed = _times(out["dispatched_at"]), _times(out["closed_at"])
    flag(dispatched.isna() & (out["dispatched_at"] != ""), "dispatched_at " + out["dispatched_at"] + " is not a date and time")
    flag(closed.isna() & (out["closed_at"] != ""), "closed_at " + out["closed_at"] + " is not a date and time")
    lon, lat = pd.to_numeric(out["lon"], errors="coerce").to_numpy(), pd.to_numeric(out["lat"], errors="coerce").to_numpy()
    flag(~in_china(lon, lat), "point (" + out["lon"] + ", " + out["lat"] + ") is not a lon/lat in China")
    if bad:
        problems = sorted((int(rowno[i]), str(msgs.iloc[i])) for mask, msgs in bad for i in np.flatnonzero(mask))
        raise IncidentImportError(source, problems)
    try:
        x, y = to_cgcs2000(lon, lat, crs)
    except ValueError as exc:
        raise IncidentImportError(source, [(1, str(exc))]) from None
    return pd.DataFrame({
        "external_id": out["id"], "category": out["category"], "status": out["status"],
        "description": out["description"].replace("", None), "source": out["source"].replace("", None),
        "reported_at": reported, "dispatched_at": dispatched, "closed_at": closed, "lon": x, "lat": y,
    })


STAGE_COLUMNS = ["external_id", "category", "status", "description", "source", "reported_at", "dispatched_at", "closed_at", "lon", "lat"]


def copy_rows(session: Session, frame: pd.DataFrame, table: str) -> None:
    """COPY ``frame`` (STAGE_COLUMNS) into ``table`` through the session's own psycopg connection."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(frame), COPY_CHUNK):
            part = frame.iloc[start : start + COPY_CHUNK]
            copy.write(part[STAGE_COLUMNS].to_csv(index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S%z", float_format="%.8f"))


def import_frame(session: Session, frame: pd.DataFrame, source: str, *, actor: str = "import") -> HotlineReport:
    """Write checked rows (see :func:`read_hotline`): place each in its grid, start the clock of dispatched ones,
    record the import as each incident's first event."""
    report = HotlineReport(source=source, rows=len(frame))
    frame = frame.copy()
    # Without a dispatch time, a case already past 派遣 is taken as dispatched when reported (the earliest it can have been).
    needs = frame["status"].isin(STATUSES[2:]) & frame["dispatched_at"].isna()
    if needs.any():
        frame.loc[needs, "dispatched_at"] = frame.loc[needs, "reported_at"]
        report.notes.append(f"{int(needs.sum())} incidents past 派遣 had no dispatch time: their clock starts at reported_at")
    closed_unknown = frame["status"].isin(CLOSED_STATUSES) & frame["closed_at"].isna()
    if closed_unknown.any():
        report.notes.append(f"{int(closed_unknown.sum())} closed incidents had no closing time: closed_at left empty")
    session.execute(text(
        """CREATE TEMP TABLE hotline_stage (external_id text, category text, status text, description text, source text,
           reported_at timestamptz, dispatched_at timestamptz, closed_at timestamptz, lon float8, lat float8) ON COMMIT DROP"""
    ))
    copy_rows(session, frame, "hotline_stage")
    # Spatial order lets consecutive point-in-polygon tests hit the same grid (PostGIS caches the prepared polygon).
    pt = "ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4490)"
    sql = f"""
        WITH ins AS (
            INSERT INTO incidents (external_id, category, status, description, source, reported_at, dispatched_at, due_at,
                                   closed_at, grid_code, community_code, assignee_id, geom)
            SELECT t.external_id, t.category, t.status, t.description, COALESCE(t.source, :src), t.reported_at, t.dispatched_at,
                   t.dispatched_at + c.time_limit_hours * interval '1 hour', t.closed_at,
                   g.code, COALESCE(g.community_code, {community_at(pt)}),
                   CASE WHEN t.status IN {OPEN_SQL} THEN {fulltime_of('g.code')} END,
                   {pt}
            FROM (SELECT * FROM hotline_stage ORDER BY round(lat::numeric, 3), lon) t
            JOIN incident_categories c ON c.name = t.category
            {grid_join(pt)}
            ON CONFLICT (external_id) DO NOTHING
            RETURNING id, external_id, status, grid_code
        ), ev AS (
            INSERT INTO incident_events (incident_id, from_status, to_status, actor, at, note)
            SELECT id, NULL, status, :actor, now(), :note FROM ins
        )
        SELECT count(*) AS n, count(*) FILTER (WHERE grid_code IS NULL) AS no_grid,
               (array_agg(external_id ORDER BY external_id) FILTER (WHERE grid_code IS NULL))[1:200] AS ids
        FROM ins"""
    row = session.execute(text(sql), {"plan": published_plan_id(session), "src": source, "actor": actor, "note": f"imported from {source}"}).one()
    report.inserted, report.no_grid, report.no_grid_ids = int(row.n), int(row.no_grid), list(row.ids or [])
    report.skipped_existing = report.rows - report.inserted
    session.execute(text("DROP TABLE IF EXISTS hotline_stage"))
    session.add(m.AuditEntry(actor=actor, action="import incidents", entity="incident", entity_id=None,
                             detail={"source": source, "rows": report.rows, "inserted": report.inserted, "skipped": report.skipped_existing, "no_grid": report.no_grid}))
    return report


def import_hotline(session: Session, data: bytes | Path, source: str | None = None, *, crs: str = "wgs84", actor: str = "import") -> HotlineReport:
    """Check and import a hotline CSV (bytes, or a path)."""
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise IncidentImportError(str(path), [(1, "no such file")])
        source, data = source or path.name, path.read_bytes()
    frame = read_hotline(data, source or "upload", set(time_limits(session)), crs=crs)
    return import_frame(session, frame, source or "upload", actor=actor)
