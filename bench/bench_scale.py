"""Scale: division and merge of a simulated province in-process and on a dask.distributed LocalCluster of 1 and
2 workers, side by side in one run.

    .venv/bin/python -m bench.bench_scale [--counties 5] [--communities-per-county 200] [--no-docs]

The province (:mod:`gridplanner.sampledata.province`: generated cities as counties, ~300 buildings a
community, three department layers) is written once; each run is a fresh process. *wall* is the clock, *CPU*
the driver's plus the workers' CPU seconds, *peak RSS* the driver's and the largest worker's. The runs must
give the same grids: the bench compares each run's grids with the in-process ones and says so. On this
2-core machine two workers share the cores with the driver, which assembles the results; the speed-up is
what two cores give, not what two machines would. The table replaces the "Scale" section of
docs/benchmarks.md (unless ``--no-docs``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

from bench.common import machine, replace_section

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Scale"
DEPARTMENTS = ("综治", "城管", "党建")


def _worker_usage() -> tuple[float, float]:
    return time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(grids) -> str:
    h = hashlib.sha256()
    h.update(grids.drop(columns="geometry").to_csv(index=False).encode())
    for g in grids.geometry.values:
        h.update(g.wkb)
    return h.hexdigest()[:16]


def _child(where: str, method: str, workers: int, out) -> None:
    from gis.io import read_vector
    from gridplanner.compute.dask_cluster import DaskRunner
    from gridplanner.merging import merge_layers
    from gridplanner.planning import divide
    from gridplanner.planning.rules import size_rules

    d = Path(where)
    comm = read_vector(d / "communities.gpkg")
    bld = read_vector(d / "buildings.gpkg")
    roads = read_vector(d / "roads.gpkg")
    layers = {n: read_vector(d / f"{n}.gpkg") for n in DEPARTMENTS} if method == "merge" else None
    runner = DaskRunner(workers=workers) if workers else None
    if runner is not None:
        runner.__enter__()
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "plan":
        res = divide(comm, bld, roads=roads, rules=size_rules(), runner=runner)
    else:
        res = merge_layers(comm, layers, buildings=bld, rules=size_rules()["urban"], runner=runner)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    worker_cpu, worker_rss = 0.0, 0.0
    if runner is not None:
        usage = runner._client.run(_worker_usage)
        worker_cpu = sum(u[0] for u in usage.values())
        worker_rss = max(u[1] for u in usage.values())
        runner.__exit__(None, None, None)
    out.put({"wall_s": wall, "cpu_s": cpu + worker_cpu, "driver_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             "worker_rss_mb": worker_rss, "grids": int(len(res.grids)), "digest": _digest(res.grids),
             "communities": int(len(comm)), "buildings": int(len(bld))})


def run(where: str, method: str, workers: int) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(where, method, workers, q))
    p.start()
    row = q.get()
    p.join()
    return row


def _write(where: Path, counties: int, per_county: int) -> None:
    import pyogrio

    from gis.io import read_vector
    from gridplanner.sampledata.departments import generate_department_layers
    from gridplanner.sampledata.province import write_province

    write_province(where, counties=counties, communities_per_county=per_county)
    comm = read_vector(where / "communities.gpkg")
    layers = generate_department_layers(comm, len(DEPARTMENTS), len(comm) * 6, seed=11)
    for name, gdf in zip(DEPARTMENTS, layers.values()):
        pyogrio.write_dataframe(gdf, where / f"{name}.gpkg", layer=name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counties", type=int, default=5)
    ap.add_argument("--communities-per-county", type=int, default=200)
    ap.add_argument("--methods", default="plan,merge")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    load0 = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        _write(where, args.counties, args.communities_per_county)
        for method in args.methods.split(","):
            base = None
            for workers in (0, 1, 2):
                row = run(str(where), method, workers)
                base = base or row
                row.update(method=method, workers=workers, same=row["digest"] == base["digest"], speedup=base["wall_s"] / row["wall_s"])
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    load1 = os.getloadavg()
    body = _table(rows, load0, load1, args)
    print(body)
    if not args.no_docs:
        replace_section(DOC, SECTION, body)


def _table(rows, load0, load1, args) -> str:
    r0 = rows[0]
    head = (
        f"{SECTION}\n\n`.venv/bin/python -m bench.bench_scale --counties {args.counties} --communities-per-county "
        f"{args.communities_per_county}` — {machine()}; load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end.\n\n"
        f"A simulated province of {r0['communities']:,} communities and {r0['buildings']:,} buildings "
        f"({args.counties} generated cities as counties, `gridplanner.sampledata.province`), planned and merged in-process "
        "and on a dask.distributed LocalCluster of 1 and 2 worker processes (`--workers`). *CPU* is the driver's "
        "and the workers' together; *same* says whether the grids are identical to the in-process run's (a hash "
        "of every field and vertex). This machine has 2 cores: with 2 workers the driver, which prepares the "
        "tasks and assembles the results, shares them too, so the speed-up is a floor for what two machines give.\n\n"
        "| method | where | wall s | CPU s | speed-up | peak RSS MB (driver / worker) | grids | same |\n"
        "|---|---|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        where = "in-process" if r["workers"] == 0 else f"LocalCluster, {r['workers']} worker{'s' if r['workers'] > 1 else ''}"
        rss = f"{r['driver_rss_mb']:.0f} / {r['worker_rss_mb']:.0f}" if r["workers"] else f"{r['driver_rss_mb']:.0f}"
        lines.append(f"| {r['method']} | {where} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['speedup']:.2f}× | {rss} | "
                     f"{r['grids']:,} | {'yes' if r['same'] else 'NO'} |")
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
