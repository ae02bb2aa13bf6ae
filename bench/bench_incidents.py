"""Incidents benchmark: import 1,000,000 hotline incidents and recompute per-grid open/overdue counts.

    .venv/bin/python -m bench.bench_incidents [--incidents 1000000] [--communities 1000] [--baseline 20000]

A generated city (``generate_city``) of ``--communities`` communities, each cut into four grids (its bounding
box's quadrants), is published as a plan with one 专职网格员 per grid. ``--incidents`` rows are generated as a
hotline CSV (2% outside every grid) and imported the way ``gridplanner incidents import`` does it: pandas
checks, COPY into a staging table, one INSERT … SELECT placing every point in its grid in PostGIS (GiST),
with its 专职网格员, due time and first event. Counts are one SQL GROUP BY.

No peer tool is named in the issue; the comparison is with the obvious in-project alternatives, run in the
same command: row-by-row INSERT (SQLAlchemy executemany of the same placement SQL) on ``--baseline`` rows,
extrapolated; and counts done in pandas after reading the table. The database: ``DATABASE_URL`` if set, else
the embedded cluster; a database ``bench_incidents`` is created there for the run and dropped at the end.
The Markdown table replaces the "Incidents" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from bench.common import drop_database, fresh_database, replace_section, server_url

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Incidents"
DB_NAME = "bench_incidents"
LOAD_AT_START = 0.0
CATEGORIES = ["市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "其他", "矛盾纠纷", "安全隐患", "民生服务"]
STATUSES = ["上报", "受理", "派遣", "处置", "核查", "结案", "评价"]


def quadrants(communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each community cut by its bounding box's quadrants: four grids that tile it (largest part kept)."""
    rows, geoms = [], []
    for code, geom in zip(communities["code"], communities.geometry):
        x0, y0, x1, y1 = geom.bounds
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        for box in ((x0, ym, xm, y1), (xm, ym, x1, y1), (x0, y0, xm, ym), (xm, y0, x1, ym)):
            part = shapely.clip_by_rect(geom, *box)
            polys = [p for p in getattr(part, "geoms", [part]) if p.geom_type == "Polygon" and p.area > 0]
            if polys:
                rows.append(code)
                geoms.append(max(polys, key=lambda p: p.area))
    return gpd.GeoDataFrame({"community_code": rows, "households": 400, "population": 1100}, geometry=geoms, crs=communities.crs)


def set_up_city(n_communities: int, tmp: Path) -> dict:
    from gridplanner import plans
    from gridplanner.importing import import_file
    from gridplanner.sampledata.city import generate_city
    from gridplanner.store.database import session_scope
    from sqlalchemy import text

    comm = generate_city(n_communities=n_communities, n_buildings=1000)["communities"].to_crs(4490)
    path = tmp / "bench_communities.geojson"
    comm.to_file(path, driver="GeoJSON")
    grids = quadrants(comm)
    with session_scope() as s:
        import_file(s, "communities", path)
        plan = plans.create_draft(s, "bench", from_published=False)
        plans.write_grids(s, plan.id, grids, source="bench")
        plans.publish(s, plan.id)
        # One 专职网格员 per grid, so placement also names the worker.
        s.execute(text("""INSERT INTO staff (name, phone, role, grid_code, active)
                          SELECT '员' || code, '138' || lpad(row_number() OVER (ORDER BY code)::text, 8, '0'), '专职网格员', code, true
                          FROM grids WHERE plan_id = :p"""), {"p": plan.id})
    return {"communities": len(comm), "grids": len(grids), "bounds": comm.total_bounds, "outline": shapely.union_all(comm.geometry.values)}


def hotline_csv(n: int, bounds, outline, seed: int = 1) -> bytes:
    """``n`` incidents: 98% uniformly inside the city, 2% beyond its bounding box (no grid), as a hotline CSV."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bounds
    n_out = n // 50
    shapely.prepare(outline)
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < n - n_out:
        x, y = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        keep = shapely.contains_xy(outline, x, y)
        lon, lat = np.concatenate([lon, x[keep]]), np.concatenate([lat, y[keep]])
    lon, lat = lon[: n - n_out], lat[: n - n_out]
    lon = np.concatenate([lon, rng.uniform(x1 + 0.05, x1 + 0.2, n_out)])
    lat = np.concatenate([lat, rng.uniform(y0, y1, n_out)])
    order = rng.permutation(n)
    lon, lat = lon[order], lat[order]
    start = pd.Timestamp("2026-09-01T00:00:00+08:00")
    when = start + pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s")
    frame = pd.DataFrame({
        "id": [f"BJ{i:08d}" for i in range(n)],
        "category": rng.choice(CATEGORIES, n),
        "status": rng.choice(STATUSES, n, p=[0.1, 0.1, 0.15, 0.15, 0.1, 0.2, 0.2]),
        "reported_at": when.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "description": "路面垃圾",
    })
    return frame.to_csv(index=False).encode("utf-8")


def backend_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by the PostgreSQL backend ``pid``; 0 when it is not local."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, TypeError):
        return 0.0


class Steps:
    """Wall-clock and CPU seconds (this process + its database backend) of consecutive steps. On a shared
    machine the wall clock includes waiting for a core; CPU seconds are what the work itself took."""

    def __init__(self, pid: int | None):
        self.pid, self.wall, self.cpu = pid, {}, {}
        self._mark()

    def _mark(self):
        self._w, self._c = time.perf_counter(), time.process_time() + backend_cpu(self.pid)

    def done(self, name: str) -> None:
        self.wall[name] = time.perf_counter() - self._w
        self.cpu[name] = time.process_time() + backend_cpu(self.pid) - self._c
        self._mark()


def run_copy(data: bytes) -> dict:
    from sqlalchemy import text

    from gridplanner.incidents import hotline
    from gridplanner.incidents.catalogue import time_limits
    from gridplanner.incidents.service import grid_counts
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        steps = Steps(s.execute(text("SELECT pg_backend_pid()")).scalar_one())
        frame = hotline.read_hotline(data, "bench.csv", set(time_limits(s)))
        steps.done("check")
        hotline.stage_rows(s, frame)
        steps.done("copy")
        inner: dict = {}
        row = hotline.insert_staged(s, "bench.csv", len(frame), timings=inner)
        # insert_staged times its own steps (wall); split the CPU of the call in the same proportions.
        steps.done("insert_staged")
    steps.done("commit")
    with session_scope() as s:
        steps.pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
        steps._mark()
        counts = grid_counts(s)
        steps.done("counts")
    wall, cpu = steps.wall, steps.cpu
    share = {k: v / max(sum(inner.values()), 1e-9) for k, v in inner.items()}
    for k in ("pieces", "insert", "indexes"):
        wall[k], cpu[k] = inner[k], cpu["insert_staged"] * share[k]
    del wall["insert_staged"], cpu["insert_staged"]
    wall["total"], cpu["total"] = sum(wall.values()), sum(cpu.values())
    return {"times": wall, "cpu": cpu, "inserted": int(row.n), "no_grid": int(row.no_grid), "counts": counts}


def run_rowwise(data: bytes, n: int) -> float:
    """Seconds for ``n`` rows inserted one statement per row (executemany) with the same placement SQL."""
    from sqlalchemy import text

    from gridplanner.incidents.locate import OPEN_SQL, community_at, fulltime_of, grid_join
    from gridplanner.store.published import published_plan_id
    from gridplanner.store.database import session_scope

    frame = pd.read_csv(pd.io.common.BytesIO(data), nrows=n, dtype={"id": str})
    pt = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4490)"
    sql = text(f"""INSERT INTO incidents (external_id, category, status, description, reported_at, grid_code, community_code, assignee_id, geom)
                   SELECT 'ROW' || CAST(:id AS text), CAST(:category AS text), CAST(:status AS text), CAST(:description AS text), CAST(:reported_at AS timestamptz), g.code,
                          COALESCE(g.community_code, {community_at(pt)}), CASE WHEN CAST(:status AS text) IN {OPEN_SQL} THEN {fulltime_of('g.code')} END, {pt}
                   FROM (SELECT 1) one {grid_join(pt)}""")
    with session_scope() as s:
        plan = published_plan_id(s)
        rows = [{**r, "plan": plan} for r in frame.to_dict("records")]
        t0 = time.perf_counter()
        s.execute(sql, rows)
        s.rollback()
        return time.perf_counter() - t0


def pandas_counts() -> float:
    from gridplanner.store.database import get_engine

    t0 = time.perf_counter()
    with get_engine().connect() as conn:
        df = pd.read_sql("SELECT grid_code, status, due_at FROM incidents", conn)
    open_ = df["status"].isin(STATUSES[:5])
    now = pd.Timestamp.now(tz="UTC")
    df = df[open_]
    df.assign(overdue=df["due_at"] < now).groupby("grid_code", dropna=False).agg(open=("status", "size"), overdue=("overdue", "sum"))
    return time.perf_counter() - t0


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), platform.processor())
    mem = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")), 0)
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        pg = conn.execute("SELECT current_setting('server_version'), postgis_lib_version()").fetchone()
    return {"load": (LOAD_AT_START, os.getloadavg()[0]), "nproc": os.cpu_count(), "cpu": cpu, "ram_gb": mem / 1024**2, "pg": f"PostgreSQL {pg[0]}, PostGIS {pg[1]}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=1_000_000)
    ap.add_argument("--communities", type=int, default=1000)
    ap.add_argument("--baseline", type=int, default=20_000, help="rows for the row-by-row INSERT comparison")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]
    url = server_url()
    fresh_database(url, DB_NAME)
    try:
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        t0 = time.perf_counter()
        city = set_up_city(args.communities, tmp)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        data = hotline_csv(args.incidents, city["bounds"], city["outline"])
        gen = time.perf_counter() - t0
        print(f"set-up {setup:.1f} s ({city['communities']} communities, {city['grids']} grids); CSV {len(data) / 1e6:.0f} MB generated in {gen:.1f} s", flush=True)
        res = run_copy(data)
        t, c = res["times"], res["cpu"]
        print(f"COPY path: wall {t}\n  cpu {c}", flush=True)
        n_open = sum(c["open"] for c in res["counts"])
        row_s = run_rowwise(data, args.baseline)
        projected = row_s / args.baseline * args.incidents
        pd_s = pandas_counts()
        info = machine()
    finally:
        drop_database(url, DB_NAME)
    lines = [
        SECTION,
        "",
        f"`python -m bench.bench_incidents --incidents {args.incidents} --communities {args.communities}` on {dt.date.today().isoformat()}: "
        f"{info['nproc']} cores ({info['cpu']}), {info['ram_gb']:.0f} GB RAM, {info['pg']}; "
        f"load average {info['load'][0]:.1f} / {info['load'][1]:.1f} (start / end: the machine is shared).",
        f"A generated city of {city['communities']} communities cut into {city['grids']} grids (published, one 专职网格员 each); "
        f"{args.incidents:,} generated hotline rows ({len(data) / 1e6:.0f} MB CSV), {res['no_grid']:,} of them outside every grid (kept, 无网格). "
        "Target: import and counts under 60 s on 2 cores. No peer tool is named in issue 6: the comparison is with the "
        "obvious alternatives, run in the same command.",
        "",
        "| step | wall | CPU | notes |",
        "| --- | ---: | ---: | --- |",
        f"| read and check the CSV (pandas: columns, ids, categories, statuses, times, coordinates) | {t['check']:.1f} s | {c['check']:.1f} s | {args.incidents:,} rows |",
        f"| COPY into the staging table | {t['copy']:.1f} s | {c['copy']:.1f} s | |",
        f"| grids cut with ST_Subdivide (≤ 64 vertices), GiST | {t['pieces']:.1f} s | {c['pieces']:.1f} s | |",
        f"| one INSERT … SELECT: point-in-polygon (GiST), 专职网格员, due times | {t['insert']:.1f} s | {c['insert']:.1f} s | {res['inserted']:,} inserted |",
        f"| rebuild the secondary indexes and the foreign key of incidents | {t['indexes']:.1f} s | {c['indexes']:.1f} s | |",
        f"| commit | {t['commit']:.1f} s | {c['commit']:.1f} s | |",
        f"| per-grid open/overdue counts (SQL GROUP BY) | {t['counts']:.2f} s | {c['counts']:.2f} s | {len(res['counts']):,} rows, {n_open:,} open |",
        f"| **total (import + counts)** | **{t['total']:.1f} s** | **{c['total']:.1f} s** | target 60 s: {'met' if t['total'] < 60 else 'missed'} on the wall clock, {'met' if c['total'] < 60 else 'missed'} in CPU time |",
        f"| row-by-row INSERT (executemany, same placement SQL), {args.baseline:,} rows | {row_s:.1f} s | | ≈ {projected:.0f} s wall projected for {args.incidents:,} |",
        f"| counts in pandas after reading the table | {pd_s:.1f} s | | vs {t['counts']:.2f} s in SQL |",
        "",
    ]
    if t["total"] > 1.5 * c["total"]:
        lines += [
            f"The wall clock ran {t['total'] / c['total']:.1f}× the CPU time: with a load average of "
            f"{max(info['load']):.0f} on {info['nproc']} cores, most of the wall time was spent waiting for a core. CPU "
            "seconds (this process plus its PostgreSQL backend) are what the work itself costs; they do not count "
            "waiting for the disk (WAL of a million rows), so the 60 s target is met in CPU time but was not shown "
            "on the wall clock of this shared machine.",
            "",
        ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        replace_section(DOC, SECTION, body)


if __name__ == "__main__":
    main()
