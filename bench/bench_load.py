"""Bounded load test of the authenticated API on loopback: grid lookups and vector tiles, with wrk.

One command, from the project root (the embedded cluster is started if needed)::

    .venv/bin/python -m bench.bench_load                 # ~5,000 grids, 10 s per run, writes docs/benchmarks.md
    .venv/bin/python -m bench.bench_load --duration 3 --no-docs

It needs ``wrk`` (Debian: ``apt-get install -y wrk``). What it does:

1. builds a published city of ``--grids`` grids with staff in its own database ``gridplanner_bench_load``
   (dropped and re-created each run; the city builder of bench/bench_lookup.py);
2. creates two API keys as other systems would hold them: scope ``lookup`` and scope ``read``;
3. starts ``uvicorn`` on 127.0.0.1 at a free port (the per-key rate limit off: it would measure the limiter);
4. runs wrk for ``--duration`` seconds at each of ``--connections`` clients: single point lookups (points that
   are all inside a grid, so every answer should be 200), vector tiles of the grids layer at z14-z16 over the
   city (cold cache on the first pass, then warm), and a mix of both;
5. checks that a request with no key is refused (401) and one with the lookup key on a tile is refused (403),
   so the figures are those of the authenticated path; stops the server and writes the "Load" section of
   docs/benchmarks.md: errors (goal 0) and latency percentiles.

Everything runs on loopback, bounded in time (wrk -d, timeouts on every step) and stops by itself.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from datetime import datetime, timezone

import httpx

from bench import bench_lookup as bl

bl.BENCH_DB = "gridplanner_bench_load"
bl.SECTION = "## Load"


def tile_paths(bounds, zooms=(14, 15, 16), limit: int = 3000) -> list[str]:
    """Every tile of the grids layer over ``bounds`` (lon/lat) at ``zooms``, at most ``limit``."""
    minx, miny, maxx, maxy = bounds
    out = []
    for z in zooms:
        n = 2**z

        def tx(lon):
            return int((lon + 180) / 360 * n)

        def ty(lat):
            r = math.radians(lat)
            return int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)

        for x in range(tx(minx), tx(maxx) + 1):
            for y in range(ty(maxy), ty(miny) + 1):
                out.append(f"/api/v1/tiles/grids/{z}/{x}/{y}.pbf")
    return out[:limit]


def keys() -> dict[str, dict[str, str]]:
    from gridplanner.auth import create_key
    from gridplanner.store.database import session_scope

    with session_scope() as session:
        return {scope: {"X-API-Key": create_key(session, f"bench_load_{scope}", [scope])[1]} for scope in ("lookup", "read")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", type=int, default=5000)
    ap.add_argument("--connections", default="8,32", help="concurrent clients, one wrk run per value")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--no-docs", action="store_true", help="print the table only")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed for the HTTP load: apt-get install -y wrk", file=sys.stderr)
        return 2
    levels = [int(c) for c in args.connections.split(",")]

    url = bl.bench_database()
    t = time.perf_counter()
    grids, _ = bl.build_city(args.grids)
    print(f"city of {len(grids)} grids built in {time.perf_counter() - t:.0f} s", flush=True)
    lon, lat, _ = bl.sample_points(grids, 5000, outside_share=0.0)
    lookups = [f"/api/v1/grids/lookup?lon={x:.7f}&lat={y:.7f}&crs=cgcs2000" for x, y in zip(lon, lat)]
    tiles = tile_paths(grids.total_bounds)
    mixed = [p for pair in zip(lookups, tiles * (len(lookups) // max(1, len(tiles)) + 1)) for p in pair]
    key = keys()

    port = bl.free_port()
    server = bl.start_server(url, port, args.workers)
    rows = []
    try:
        base = f"http://127.0.0.1:{port}"
        refused = (httpx.get(base + lookups[0], timeout=10).status_code, httpx.get(base + tiles[0], headers=key["lookup"], timeout=10).status_code)
        assert refused == (401, 403), f"authentication is not in the path: {refused}"
        bl.run_wrk(port, lookups, levels[0], 2, key["lookup"])  # warm-up of connections and plans
        for c in levels:
            rows.append((f"point lookup (key scope lookup)", f"{c} clients", bl.run_wrk(port, lookups, c, args.duration, key["lookup"]) | {"unit": "req"}))
        rows.append((f"tiles z14–16, first pass ({len(tiles)} tiles)", f"{levels[0]} clients", bl.run_wrk(port, tiles, levels[0], args.duration, key["read"]) | {"unit": "req"}))
        for c in levels:
            rows.append(("tiles z14–16, warm", f"{c} clients", bl.run_wrk(port, tiles, c, args.duration, key["read"]) | {"unit": "req"}))
            rows.append(("mixed lookups + tiles", f"{c} clients", bl.run_wrk(port, mixed, c, args.duration, key["read"]) | {"unit": "req"}))
    finally:
        server.terminate()
        server.wait(timeout=30)

    out = [
        "| workload | load | throughput | p50 ms | p95 ms | p99 ms | max ms | requests | errors (non-2xx + socket) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, load, r in rows:
        out.append(f"| {name} | {load} | {r['rate']:,.0f} req/s | {bl.ms(r['p50'])} | {bl.ms(r['p95'])} | {bl.ms(r['p99'])} | {bl.ms(r['max'])} | {r['count']:,} | {r['errors']} |")
    body = "\n".join(
        [
            "## Load",
            "",
            f"`bench/bench_load.py` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {bl.machine()}): the authenticated API on 127.0.0.1, "
            f"uvicorn with {args.workers} workers, wrk for {args.duration:g} s per row, a published city of {len(grids):,} grids. "
            "Every request carries an API key (scope `lookup` for lookups, `read` for tiles) and goes through the access "
            "policy (key lookup by its sha256, scope check); the per-key rate limit is off for the run (`GRIDPLANNER_RATE_LIMIT_PER_SECOND=0`), "
            "a request without a key got 401 and a lookup key on a tile 403 before the runs. Lookup points all fall inside a grid, so an "
            "error is any answer but 2xx. The machine is shared with the other engineers' work, so absolute figures are a lower bound.",
            "",
            *out,
        ]
    )
    print(body)
    if not args.no_docs:
        bl.write_section(body)
    errors = sum(r["errors"] for _, _, r in rows)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
