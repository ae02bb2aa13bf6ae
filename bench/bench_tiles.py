"""Vector tile benchmark: Gridplanner's tile server side by side with tipg on the same PostGIS table.

    .venv/bin/python -m bench.bench_tiles [--communities 1000] [--per-community 20] [--requests 600] [--clients 4] [--no-docs]

A generated city (``generate_city``) of ``--communities`` communities, each cut into ``--per-community`` Voronoi
cells (about 20,000 grids), is published as a plan in a database ``bench_tiles`` created next to the configured
one (``DATABASE_URL`` or the embedded cluster) and dropped at the end. Both servers run under uvicorn on
127.0.0.1 (one worker each) against it: Gridplanner's ``/api/v1/tiles/grids/{z}/{x}/{y}.pbf`` and tipg's
``/collections/public.grids/tiles/WebMercatorQuad/{z}/{x}/{y}``. After one query reading the whole table into PostgreSQL's buffers and one
request to each server, the same ``--requests`` tiles, drawn over z12–z16 inside the city, are fetched by ``--clients`` concurrent clients twice: cold (Gridplanner's cache empty, tipg
has none) and warm (every tile asked for before), with an API key of scope ``read``. Besides tiles/s and latency,
each pass reports the CPU time per tile of the server process and of the PostgreSQL backends serving it (read
from /proc: the server must be local), and the load average, since wall time on a shared machine says little.
The Markdown table replaces the "Tiles" section of docs/benchmarks.md unless ``--no-docs`` is given. Bounded: a fixed number of requests, each with a 60 s timeout; the servers are stopped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import psycopg
import shapely

from bench.common import drop_database, fresh_database, replace_section, server_url, with_database

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Tiles"
DB_NAME = "bench_tiles"
OURS_PORT, TIPG_PORT = 8731, 8732
TIPG_QUERY = "geom-column=geom&properties=id,plan_id,code,name,type,dedicated_kind,community_code,households,population,area_m2,building_count,source"


def voronoi_grids(communities: gpd.GeoDataFrame, per_community: int, seed: int = 3) -> gpd.GeoDataFrame:
    """Each community cut into about ``per_community`` Voronoi cells of random seeds inside it (largest part kept)."""
    rng = np.random.default_rng(seed)
    codes, geoms = [], []
    for code, outline in zip(communities["code"], communities.geometry):
        x0, y0, x1, y1 = outline.bounds
        pts = shapely.points(rng.uniform(x0, x1, per_community * 4), rng.uniform(y0, y1, per_community * 4))
        pts = pts[shapely.contains(outline, pts)][:per_community]
        if len(pts) < 2:
            cells = [outline]
        else:
            cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=outline))
            cells = shapely.intersection(cells, outline)
        for cell in cells:
            polys = [p for p in shapely.get_parts(cell) if p.geom_type == "Polygon" and p.area > 0]
            if polys:
                codes.append(code)
                geoms.append(max(polys, key=lambda p: p.area))
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"community_code": codes, "code": [f"{c}{i:04d}" for i, c in enumerate(codes)], "households": rng.integers(150, 650, n), "population": rng.integers(400, 1800, n)},
        geometry=geoms, crs=communities.crs,
    )


def set_up_city(n_communities: int, per_community: int, tmp: Path) -> dict:
    from sqlalchemy import text

    from gridplanner import plans
    from gridplanner.importing import import_file
    from gridplanner.sampledata.city import generate_city
    from gridplanner.store.database import session_scope
    from gridplanner.store import models as m

    comm = generate_city(n_communities=n_communities, n_buildings=1000)["communities"].to_crs(4490)
    path = tmp / "bench_communities.geojson"
    comm.to_file(path, driver="GeoJSON")
    grids = voronoi_grids(comm, per_community)
    with session_scope() as s:
        import_file(s, "communities", path)
        plan = m.GridPlan(name="bench", status="published", version=1, settings={}, report={})
        s.add(plan)
        s.flush()
        plans.write_grids(s, plan.id, grids, source="bench")
        vertices = s.execute(text("SELECT avg(ST_NPoints(geom)) FROM grids")).scalar_one()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"communities": len(comm), "grids": len(grids), "bounds": tuple(grids.total_bounds), "vertices": float(vertices)}


def tile_list(bounds, n: int, seed: int = 11) -> list[tuple[int, int, int]]:
    """``n`` distinct tiles over z12–z16 whose centres fall in the city's box, equally many per zoom."""
    from tiles.tilemath import tile_for

    rng = np.random.default_rng(seed)
    out: list[tuple[int, int, int]] = []
    per_zoom = n // 5
    for z in range(12, 17):
        a, b = tile_for(bounds[0], bounds[3], z), tile_for(bounds[2], bounds[1], z)
        every = [(z, x, y) for x in range(a.x, b.x + 1) for y in range(a.y, b.y + 1)]
        pick = rng.choice(len(every), size=min(per_zoom, len(every)), replace=False)
        out += [every[i] for i in pick]
    rng.shuffle(out)
    return out


def start_server(args: list[str], env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited: {proc.stderr.read().decode()[-2000:]}")
    proc.terminate()
    raise RuntimeError(f"server on {port} did not start in 60 s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux /proc), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(db_url: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to the database of ``db_url`` (a local server)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return {pid: c for pid in pids if (c := cpu_seconds(pid)) is not None}


def read_key() -> dict[str, str]:
    """Headers with a new API key of scope ``read``, as a map client holds one (tiles are not public)."""
    from gridplanner.auth import create_key
    from gridplanner.store.database import session_scope

    with session_scope() as session:
        return {"X-API-Key": create_key(session, "bench_tiles", ["read"])[1]}


def run_pass(url_of, tiles: list[tuple[int, int, int]], clients: int, server_pid: int | None = None, db_url: str | None = None, headers: dict | None = None) -> dict:
    """Fetch every tile once with ``clients`` threads; tiles/s, latency percentiles (ms) and, for a server
    process ``server_pid`` on a local PostgreSQL (``db_url``), CPU ms per tile of each."""
    server0 = cpu_seconds(server_pid) if server_pid else None
    pg0 = backend_cpu(db_url) if db_url else {}
    load = os.getloadavg()[0]
    latencies: list[float] = []
    sizes: list[int] = []
    errors = 0
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=clients), headers=headers) as http:
        def fetch(t):
            t0 = time.perf_counter()
            r = http.get(url_of(*t))
            return time.perf_counter() - t0, r.status_code, len(r.content)

        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for dt_, status, size in pool.map(fetch, tiles):
                latencies.append(dt_ * 1000)
                sizes.append(size)
                errors += status != 200
        wall = time.perf_counter() - start
    lat = np.array(latencies)
    out = {"rate": len(tiles) / wall, "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)), "kb": float(np.mean(sizes)) / 1024, "errors": errors,
           "load": max(load, os.getloadavg()[0]), "server_ms": None, "pg_ms": None}
    server1 = cpu_seconds(server_pid) if server_pid else None
    if server0 is not None and server1 is not None:
        out["server_ms"] = 1000 * (server1 - server0) / len(tiles)
    if db_url:
        # Backends opened during the pass count from zero; one that closed during it is missed.
        pg1 = backend_cpu(db_url)
        out["pg_ms"] = 1000 * sum(c - pg0.get(pid, 0.0) for pid, c in pg1.items()) / len(tiles)
    return out


def run_wrk_pass(port: int, paths: list[str], connections: int, duration: float, server_pid: int, db_url: str, headers: dict) -> dict:
    """The same tiles fetched for ``duration`` seconds by wrk (a load generator in C: the Python client caps
    near 1,300 tiles/s on this machine, which a cached tile no longer shows), each connection sending its
    next request as soon as the last is answered; tiles/s, latency and CPU per tile as in :func:`run_pass`."""
    from bench.bench_lookup import run_wrk

    server0, pg0, load = cpu_seconds(server_pid), backend_cpu(db_url), os.getloadavg()[0]
    r = run_wrk(port, paths, connections, duration, headers)
    server1, pg1 = cpu_seconds(server_pid), backend_cpu(db_url)
    return {"rate": r["rate"], "p50": 1000 * r["p50"], "p95": 1000 * r["p95"], "kb": float("nan"), "errors": r["errors"],
            "load": max(load, os.getloadavg()[0]), "server_ms": 1000 * (server1 - server0) / max(r["count"], 1) if server0 is not None and server1 is not None else None,
            "pg_ms": 1000 * sum(c - pg0.get(pid, 0.0) for pid, c in pg1.items()) / max(r["count"], 1)}


def _kb(v: float) -> str:
    return "–" if v != v else f"{v:.1f}"  # wrk does not report sizes


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": mem}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--communities", type=int, default=1000)
    ap.add_argument("--per-community", type=int, default=20)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--wrk-connections", type=int, default=4)
    ap.add_argument("--wrk-seconds", type=float, default=5)
    ap.add_argument("--no-doc", "--no-docs", dest="no_doc", action="store_true", help="print the table only")
    args = ap.parse_args()

    base = server_url()
    url = fresh_database(base, DB_NAME)
    servers: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            city = set_up_city(args.communities, args.per_community, Path(tmp))
            print(f"city: {city['communities']} communities, {city['grids']} grids ({city['vertices']:.0f} vertices each) in {time.perf_counter() - t0:.0f} s", flush=True)
        tiles = tile_list(city["bounds"], args.requests)
        key = read_key()
        # The per-key rate limit off, as in bench_load: it would refuse the warm pass, and measure the limiter.
        servers.append(start_server(["gridplanner.api.app:create_app", "--factory"], {"DATABASE_URL": url, "GRIDPLANNER_RATE_LIMIT_PER_SECOND": "0"}, OURS_PORT))
        servers.append(start_server(["tipg.main:app"], {"DATABASE_URL": url, "TIPG_DB_TABLES": '["public.grids"]', "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]'}, TIPG_PORT))
        ours = lambda z, x, y: f"http://127.0.0.1:{OURS_PORT}/api/v1/tiles/grids/{z}/{x}/{y}.pbf"
        # tipg draws the grids' own columns, not the stored EPSG:3857 copy and clearance kept for our tiles.
        tipg = lambda z, x, y: f"http://127.0.0.1:{TIPG_PORT}/collections/public.grids/tiles/WebMercatorQuad/{z}/{x}/{y}?{TIPG_QUERY}"
        # Same start for both: table and indexes in PostgreSQL's buffers, each server's pool open (on a tile
        # outside the list, so nothing measured is cached).
        with psycopg.connect(url) as conn:
            conn.execute("SELECT sum(ST_NPoints(geom)) FROM grids").fetchone()
        for url_of in (ours, tipg):
            httpx.get(url_of(0, 0, 0), timeout=60, headers=key)
        results = {}
        for (name, url_of), proc in zip((("Gridplanner", ours), ("tipg", tipg)), servers):
            for phase in ("cold", "warm"):
                results[(name, phase)] = r = run_pass(url_of, tiles, args.clients, proc.pid, url, key)
                print(f"{name:12s} {phase}: {r['rate']:7.1f} tiles/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  {r['kb']:.1f} KiB  errors {r['errors']}"
                      f"  CPU/tile: server {_ms(r['server_ms'])} ms, PostgreSQL {_ms(r['pg_ms'])} ms  (load {r['load']:.1f})", flush=True)
            port = OURS_PORT if name == "Gridplanner" else TIPG_PORT
            paths = [url_of(*t).split(f":{port}", 1)[1] for t in tiles]
            phase = f"warm, wrk {args.wrk_connections} connections {args.wrk_seconds:.0f} s"
            results[(name, phase)] = r = run_wrk_pass(port, paths, args.wrk_connections, args.wrk_seconds, proc.pid, url, key)
            print(f"{name:12s} {phase}: {r['rate']:7.1f} tiles/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  errors {r['errors']}"
                  f"  CPU/tile: server {_ms(r['server_ms'])} ms, PostgreSQL {_ms(r['pg_ms'])} ms  (load {r['load']:.1f})", flush=True)
    finally:
        for proc in servers:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(base, DB_NAME)

    mach = machine()
    with psycopg.connect(with_database(base, "postgres")) as conn:
        pg, postgis = conn.execute("SELECT current_setting('server_version'), (SELECT default_version FROM pg_available_extensions WHERE name = 'postgis')").fetchone()
    import tipg

    rows = "\n".join(
        f"| {name} | {phase} | {r['rate']:,.0f} | {r['p50']:.1f} | {r['p95']:.1f} | {_ms(r['server_ms'])} | {_ms(r['pg_ms'])} | {_kb(r['kb'])} | {r['errors']} | {r['load']:.1f} |"
        for (name, phase), r in results.items()
    )
    body = f"""{SECTION}

`.venv/bin/python -m bench.bench_tiles` — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {mach['cpu']}, {mach['cores']} cores, {mach['ram']} GiB RAM; PostgreSQL {pg}, PostGIS {postgis}; tipg {tipg.__version__}.

Generated city: {city['communities']:,} communities cut into {city['grids']:,} grids (Voronoi cells, {city['vertices']:.0f} vertices on average), one published plan. {len(tiles)} distinct tiles over z12–z16 (equal shares per zoom) inside the city, fetched by {args.clients} concurrent clients over HTTP on 127.0.0.1, each server one uvicorn worker on the same PostGIS.

| server | pass | tiles/s | p50 (ms) | p95 (ms) | server CPU (ms/tile) | PostgreSQL CPU (ms/tile) | mean tile (KiB) | errors | load avg |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

Gridplanner: `/api/v1/tiles/grids/{{z}}/{{x}}/{{y}}.pbf` (the grids layer with size status from the plan's rule, per-vertex snapping to the tile grid, in-process cache with ETags; cold = empty cache; every request carries an API key of scope `read`, which tipg is sent too and ignores; the per-key rate limit off). tipg: `/collections/public.grids/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}?{TIPG_QUERY}` on the same table (the geometry and columns it drew before the table gained `geom_3857` and `clearance_3857`; ST_AsMVTGeom, no tile cache: its warm pass only has PostgreSQL's buffers warm). *warm, wrk*: the same tiles again for a fixed time from wrk (C), since the Python client of the other passes caps near 1,300 tiles/s here and a cached tile costs less than the client. Target (issue 17): warm ≥ 10× tipg and cold ≥ 2× tipg in the same run, a cache hit under 0.2 ms of server CPU. CPU per tile: the server process and the PostgreSQL backends serving it (from /proc), which the load of other processes inflates less than wall time; load avg: the 1-minute load average, the highest seen at the start or end of the pass.
"""
    print(body)
    if not args.no_doc:
        replace_section(DOC, SECTION, body)


if __name__ == "__main__":
    main()
