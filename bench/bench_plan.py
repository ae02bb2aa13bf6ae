"""Benchmark of grid division: this engine vs PySAL spopt MaxPHeuristic vs a square grid, side by side.

One command: ``.venv/bin/python -m bench.bench_plan`` (``--quick`` for a short run). Each run happens in a
subprocess of its own, so its peak memory (max RSS: interpreter, libraries and inputs included) is its own and
a time cap can stop it. Results go into the "Grid division" section of docs/benchmarks.md.

Inputs: the sample district (gridplanner.sampledata.district.generate_district) and the generated city
(gridplanner.sampledata.city.generate_city, 1,000 communities, 300,000 buildings), plus subsets of the city
(its first N communities by code, with their buildings) where MaxP cannot do the whole.

Methods, all on the same inputs and judged by the same code (gis.metrics):
- engine: ``gridplanner.planning.divide`` with roads, rivers and dedicated areas.
- maxp: spopt's MaxPHeuristic on building-level units (Voronoi cells of the buildings within each community,
  rook contiguity from shared edges), threshold = min households, run community by community.
- square: a regular square grid clipped to each community, cells sized for the target households at the
  community's average density.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.common import machine

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
CACHE = Path(os.environ.get("GRIDPLANNER_BENCH_CACHE", "/tmp/gridplanner-bench"))
START, END = "<!-- grid-division:start -->", "<!-- grid-division:end -->"
MIN_HH, MAX_HH = 300, 500
TARGET = (MIN_HH + MAX_HH) // 2
ROAD_TOLERANCE_M = 5.0
LOAD_AT_START = "?"


# --- inputs -----------------------------------------------------------------------------------------

def _dataset_path(name: str) -> Path:
    return CACHE / f"{name}.pickle"


def prepare(name: str) -> Path:
    """Generate a dataset once and cache it (pickle: no extra dependency)."""
    path = _dataset_path(name)
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    if name == "district":
        from gridplanner.sampledata.district import generate_district

        data = generate_district()
    elif name == "city":
        from gridplanner.sampledata.city import generate_city

        data = generate_city()
    else:
        raise ValueError(name)
    keep = {k: data[k] for k in ("communities", "buildings", "roads", "rivers", "dedicated") if k in data}
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(keep))
    tmp.rename(path)
    return path


def load(name: str, communities: int | None = None) -> dict:
    data = pickle.loads(_dataset_path(name).read_bytes())
    if communities is None:
        return data
    comm = data["communities"].sort_values("code", kind="stable").head(communities).reset_index(drop=True)
    area = shapely.union_all(comm.geometry.values)
    out = {"communities": comm}
    for key in ("buildings", "roads", "rivers", "dedicated"):
        gdf = data.get(key)
        if gdf is not None:
            hit = gdf.geometry.intersects(area)
            if key == "buildings":
                hit = gdf.geometry.representative_point().intersects(area)
            out[key] = gdf[hit.to_numpy()].reset_index(drop=True)
    return out


# --- methods ----------------------------------------------------------------------------------------

def run_engine(data: dict) -> gpd.GeoDataFrame:
    from gridplanner.planning import SizeRule, divide

    res = divide(data["communities"], data["buildings"], roads=data.get("roads"), rivers=data.get("rivers"),
                 dedicated=data.get("dedicated"), rules=SizeRule(MIN_HH, MAX_HH))
    return res.grids[["community_code", "households", "type", "geometry"]]


def _households(data: dict) -> tuple[np.ndarray, np.ndarray]:
    from gridplanner.planning import estimate_households

    hh, _, _ = estimate_households(data["buildings"])
    return hh, shapely.point_on_surface(data["buildings"].geometry.values)


def _owner(points, communities: gpd.GeoDataFrame) -> np.ndarray:
    owner = np.full(len(points), -1)
    b, c = shapely.STRtree(communities.geometry.values).query(points, predicate="within")
    owner[b] = c
    return owner


def run_square(data: dict) -> gpd.GeoDataFrame:
    """Square cells sized for the target households at each community's density, clipped to it."""
    from gis.crs import projected_crs_for

    comm = data["communities"]
    crs = projected_crs_for(comm)
    hh, points = _households(data)
    owner = _owner(points, comm)
    per_comm = np.bincount(owner[owner >= 0], weights=hh[owner >= 0], minlength=len(comm))
    geoms = comm.to_crs(crs).geometry.values
    pts = gpd.GeoSeries(points, crs=comm.crs).to_crs(crs).values
    rows, out = [], []
    for ci, region in enumerate(geoms):
        density = per_comm[ci] / region.area if region.area else 0
        side = np.sqrt(TARGET / density) if density > 0 else np.sqrt(region.area)
        x0, y0, x1, y1 = region.bounds
        xs, ys = np.arange(x0, x1, side), np.arange(y0, y1, side)
        gx, gy = np.meshgrid(xs, ys)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + side, gy.ravel() + side)
        cells = shapely.intersection(boxes, region)
        cells = shapely.get_parts(cells[~shapely.is_empty(cells)])
        cells = cells[shapely.get_type_id(cells) == 3]
        mine = np.flatnonzero(owner == ci)
        where = np.full(len(mine), -1)
        if len(mine):
            b, c = shapely.STRtree(cells).query(pts[mine], predicate="intersects")
            where[b] = c
        cell_hh = np.bincount(where[where >= 0], weights=hh[mine][where >= 0], minlength=len(cells))
        for g, h in zip(cells, cell_hh):
            rows.append({"community_code": str(comm["code"].iat[ci]), "households": int(h), "type": "basic"})
            out.append(g)
    grids = gpd.GeoDataFrame(rows, geometry=out, crs=crs).to_crs(comm.crs)
    return grids


def run_maxp(data: dict) -> gpd.GeoDataFrame:
    """spopt MaxPHeuristic per community on building Voronoi cells (threshold = min households)."""
    import warnings

    from libpysal.weights import W
    from spopt.region import MaxPHeuristic

    from gis.coverage import shared_edges
    from gis.crs import projected_crs_for

    comm = data["communities"]
    crs = projected_crs_for(comm)
    hh, points = _households(data)
    owner = _owner(points, comm)
    geoms = comm.to_crs(crs).geometry.values
    pts = gpd.GeoSeries(points, crs=comm.crs).to_crs(crs).values
    rows, out = [], []
    for ci, region in enumerate(geoms):
        code = str(comm["code"].iat[ci])
        mine = np.flatnonzero(owner == ci)
        if len(mine) < 2 or hh[mine].sum() < MIN_HH:
            rows.append({"community_code": code, "households": int(hh[mine].sum()), "type": "basic"})
            out.append(region)
            continue
        cells = shapely.voronoi_polygons(shapely.MultiPoint(pts[mine].tolist()), extend_to=region, ordered=True)
        cells = shapely.intersection(shapely.get_parts(cells), region)
        units = gpd.GeoDataFrame({"households": hh[mine].astype(float)}, geometry=cells, crs=crs)
        i, j, _ = shared_edges(units.geometry.values)
        neighbours = {k: [] for k in range(len(units))}
        for a, b in zip(i.tolist(), j.tolist()):
            neighbours[a].append(b)
            neighbours[b].append(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = W(neighbours, silence_warnings=True)
            model = MaxPHeuristic(units, w, ["households"], "households", MIN_HH, top_n=2)
            model.solve()
        labels = np.asarray(model.labels_)
        units["region"] = labels
        for lab, part in units.groupby("region", sort=True):
            geom = shapely.union_all(part.geometry.values)
            rows.append({"community_code": code, "households": int(part["households"].sum()), "type": "basic"})
            out.append(geom)
    return gpd.GeoDataFrame(rows, geometry=out, crs=crs).to_crs(comm.crs)


METHODS = {"engine": run_engine, "maxp": run_maxp, "square": run_square}


# --- judging ----------------------------------------------------------------------------------------

def buildings_cut(grids: gpd.GeoDataFrame, data: dict) -> int:
    """Buildings whose footprint (within its community) is split between two or more grids."""
    comm = data["communities"]
    fp = np.asarray(data["buildings"].geometry.values, dtype=object)
    fp = fp[np.isin(shapely.get_type_id(fp), (3, 6))]
    b, g = shapely.STRtree(grids.geometry.values).query(fp, predicate="intersects")
    if len(b) == 0:
        return 0
    inter = shapely.area(shapely.intersection(fp[b], grids.geometry.values[g]))
    real = inter > 1e-6 * shapely.area(fp[b])
    counts = np.bincount(b[real], minlength=len(fp))
    # A building crossing a community boundary is cut by the community, not by the method.
    inside_b, _ = shapely.STRtree(comm.geometry.values).query(fp, predicate="covered_by")
    inside_one = np.zeros(len(fp), dtype=bool)
    inside_one[inside_b] = True
    multi = (counts > 1) & inside_one
    return int(multi.sum())


def feasible(households, lower: int = MIN_HH, upper: int = MAX_HH) -> np.ndarray:
    """Whether ``households`` can be divided into grids all within [lower, upper]: some k >= 1 with
    k * lower <= households <= k * upper."""
    h = np.asarray(households, dtype=float)
    return (h >= lower) & (np.ceil(h / upper) <= np.floor(h / lower))


def infeasible_grids(grids: gpd.GeoDataFrame, data: dict) -> np.ndarray:
    """Grids lying only in community parts where the bounds cannot be met.

    A part is a connected piece (polygon) of a community; its households are those of the buildings whose
    representative point lies in it. A grid is excluded when every part it overlaps is infeasible (see
    :func:`feasible`), so a MaxP region joining a detached part to a feasible one still counts.
    """
    comm = data["communities"]
    hh, points = _households(data)
    owner = _owner(points, comm)
    parts, part_comm = [], []
    for ci, region in enumerate(comm.geometry.values):
        for part in shapely.get_parts(region):
            parts.append(part)
            part_comm.append(ci)
    parts = np.asarray(parts, dtype=object)
    part_hh = np.zeros(len(parts))
    placed = np.flatnonzero(owner >= 0)
    if len(placed):
        b, p = shapely.STRtree(parts).query(points[placed], predicate="intersects")
        ok = np.asarray(part_comm)[p] == owner[placed[b]]
        b, p = b[ok], p[ok]
        first = np.unique(b, return_index=True)[1]  # a point on the edge of two parts counts once
        np.add.at(part_hh, p[first], hh[placed[b[first]]])
    part_ok = feasible(part_hh)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    g, p = shapely.STRtree(parts).query(geoms, predicate="intersects")
    share = shapely.area(shapely.intersection(geoms[g], parts[p])) / np.maximum(shapely.area(geoms[g]), 1e-300)
    real = share > 1e-6  # touching along an outline is not lying in a part
    any_feasible = np.zeros(len(geoms), dtype=bool)
    any_feasible[g[real & part_ok[p]]] = True
    return ~any_feasible


def judge(grids: gpd.GeoDataFrame, data: dict) -> dict:
    from gis.metrics import partition_quality

    lines = [g.geometry for g in (data.get("roads"), data.get("rivers")) if g is not None and len(g)]
    line_series = gpd.GeoSeries(pd.concat(lines, ignore_index=True), crs=grids.crs) if lines else None
    basic = (grids["type"] == "basic").to_numpy()
    q = partition_quality(grids.geometry, grids["households"].to_numpy(), MIN_HH, MAX_HH, lines=line_series,
                          regions=data["communities"].geometry, tolerance_m=ROAD_TOLERANCE_M, counted=basic)
    counted = basic & ~infeasible_grids(grids, data)
    sizes = grids["households"].to_numpy()[counted]
    q["share_within_feasible"] = float(((sizes >= MIN_HH) & (sizes <= MAX_HH)).mean()) if len(sizes) else float("nan")
    q["basic_grids_feasible"] = int(counted.sum())
    q["grids"] = int(len(grids))
    q["basic_grids"] = int(basic.sum())
    q["buildings_cut"] = buildings_cut(grids, data)
    q["multipart"] = int((shapely.get_type_id(grids.geometry.values) != 3).sum())
    return q


def _cpu_seconds() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def job(method: str, dataset: str, communities: int | None) -> dict:
    """One run in this process: load, time the method alone, judge."""
    data = load(dataset, communities)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu0 = time.perf_counter(), _cpu_seconds()
    grids = METHODS[method](data)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"method": method, "dataset": dataset, "communities": int(len(data["communities"])),
           "buildings": int(len(data["buildings"])), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak),
           "inputs_rss_mb": round(base_rss), "finished": True}
    out.update(judge(grids, data))
    return out


def run_job(method: str, dataset: str, communities: int | None, cap: float) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_plan", "--job", method, dataset]
    if communities:
        cmd += ["--communities", str(communities)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return {"method": method, "dataset": dataset, "communities": communities, "finished": False,
                "seconds": round(time.perf_counter() - started), "note": f"not finished within {cap:.0f} s"}
    if proc.returncode != 0:
        return {"method": method, "dataset": dataset, "communities": communities, "finished": False,
                "note": "failed: " + proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- report -----------------------------------------------------------------------------------------

def _fmt(v, digits=2):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _pct(v) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v * 100:.1f}%"


def table(rows: list[dict]) -> str:
    head = ("| input | method | communities | buildings | grids | runtime s (CPU s) | peak RSS MB | within [300, 500] | "
            "within where feasible | CV | Polsby–Popper mean / min | internal boundary on roads/rivers | buildings cut | "
            "multipart grids | note |")
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        label = r["dataset"] + (f" (first {r['communities']})" if r.get("subset") else "")
        if not r.get("finished"):
            lines.append(f"| {label} | {r['method']} | {_fmt(r.get('communities'))} | | | | | | | | | | | | {r.get('note', '')} |")
            continue
        lines.append(
            f"| {label} | {r['method']} | {r['communities']} | {r['buildings']:,} | {r['grids']:,} | {r['seconds']:.1f} ({r['cpu_seconds']:.1f}) | "
            f"{r['peak_rss_mb']:,} | {r['share_within'] * 100:.1f}% | {_pct(r.get('share_within_feasible'))} | {_fmt(r['cv'])} | "
            f"{_fmt(r['polsby_popper_mean'])} / {_fmt(r['polsby_popper_min'], 3)} | {r['share_on_lines'] * 100:.1f}% | "
            f"{r['buildings_cut']:,} | {r.get('multipart', 0):,} | {r.get('note', '')} |"
        )
    return "\n".join(lines)


def speedups(rows: list[dict]) -> list[str]:
    out = []
    by = {(r["dataset"], r.get("communities") if r.get("subset") else None, r["method"]): r for r in rows}
    for (dataset, n, method), r in by.items():
        if method != "maxp" or not r.get("finished"):
            continue
        e = by.get((dataset, n, "engine"))
        if e and e.get("finished") and e["seconds"] > 0:
            label = dataset + (f" (first {n})" if n else "")
            out.append(f"- {label}: engine {e['seconds']:.1f} s vs MaxP {r['seconds']:.1f} s — "
                       f"{r['seconds'] / e['seconds']:.0f}× faster (CPU time {r['cpu_seconds'] / max(e['cpu_seconds'], 1e-3):.0f}×); within bounds {e['share_within'] * 100:.1f}% vs "
                       f"{r['share_within'] * 100:.1f}%, where feasible {_pct(e.get('share_within_feasible'))} vs {_pct(r.get('share_within_feasible'))}.")
    return out


def write_section(rows: list[dict], note: str) -> None:
    body = "\n".join([
        START,
        "## Grid division",
        "",
        f"`.venv/bin/python -m bench.bench_plan` — {machine()}; load average at start {LOAD_AT_START}.",
        "",
        "Size rule 300–500 households (target 400). Each run is a fresh process; *runtime* times the method alone",
        "(wall clock; CPU seconds in brackets, less sensitive to other work on a shared machine),",
        "*peak RSS* is the process's maximum resident memory (interpreter, libraries and inputs included). Quality",
        "figures are computed by the same code (`gis.metrics`) for every method: *within* and *CV* over basic",
        "grids (dedicated grids are exempt from the size rule), Polsby–Popper 4πA/P² over all grids, *on",
        f"roads/rivers* = share of internal grid boundary (community outlines excluded) within {ROAD_TOLERANCE_M:g} m of a",
        "road or river centre line, *buildings cut* = footprints split between two or more grids (footprints",
        "crossing a community boundary are not counted). MaxP runs community by community on Voronoi cells of",
        "the buildings (its regions can therefore cut footprints, and it joins a detached part of a community to",
        "a region elsewhere, making *multipart grids*); the square grid uses cells sized for 400 households at",
        "each community's average density. *Within where feasible* leaves out, for every method alike, the",
        "basic grids lying only in community parts (connected pieces of a community, households counted from",
        "the buildings' representative points) whose households h no grid count k meets (k·300 ≤ h ≤ k·500",
        "for no k ≥ 1: a detached part under 300 households, a community of 523); a grid overlapping any",
        "feasible part still counts, so a MaxP region that joins a detached part to a feasible one is judged.",
        "",
        table(rows),
        "",
        *speedups(rows),
        *([""] + [note] if note else []),
        END,
    ])
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\nMeasured figures, one section per benchmark; each section is written by its script.\n"
    if START in text and END in text:
        text = text[: text.index(START)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job", nargs=2, metavar=("METHOD", "DATASET"), help=argparse.SUPPRESS)
    ap.add_argument("--communities", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="small subsets only (a few minutes)")
    ap.add_argument("--maxp-cap", type=float, default=600.0, help="seconds MaxP may run per input (default 600)")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not touch docs/benchmarks.md")
    ap.add_argument("--from-log", type=Path, help="re-render the table from the JSON lines a run printed")
    ap.add_argument("--load", help="with --from-log: the load average the run started under")
    args = ap.parse_args(argv)
    if args.from_log:
        global LOAD_AT_START
        LOAD_AT_START = args.load or "not recorded"
        rows = [json.loads(ln) for ln in args.from_log.read_text().splitlines() if ln.startswith("{")]
        if not args.no_write:
            write_section(rows, "")
        print(table(rows))
        return
    if args.job:
        print(json.dumps(job(args.job[0], args.job[1], args.communities)))
        return

    LOAD_AT_START = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {LOAD_AT_START}", flush=True)
    prepare("district")
    prepare("city")
    engines = ("engine", "maxp", "square")
    cap = {"engine": 600.0, "square": 600.0, "maxp": args.maxp_cap}
    # MaxP takes tens of seconds per community: it gets small subsets side by side, and the whole district
    # under a time cap.
    plan = [("district", 3, m) for m in engines] + [("city", 3, m) for m in engines]
    if not args.quick:
        plan += [("district", 10, m) for m in engines] + [("district", None, m) for m in engines] + [("city", None, "engine"), ("city", None, "square")]
    plan = [(d, n, m, cap[m]) for d, n, m in plan]
    rows = []
    for dataset, n, method, cap in plan:
        r = run_job(method, dataset, n, cap)
        r["subset"] = n is not None
        if n is not None:
            r["communities"] = n if not r.get("finished") else r["communities"]
        rows.append(r)
        print(json.dumps(r), flush=True)
    note = "" if not args.quick else "(quick run: subsets only)"
    if not args.no_write:
        write_section(rows, note)
    print(table(rows))
    print("\n".join(speedups(rows)))


if __name__ == "__main__":
    main()
