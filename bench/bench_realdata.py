"""Real data: the division engine and the merge on data the project did not generate, with every hard rule
measured in EPSG:4490 and in the metric CRS.

    .venv/bin/python -m bench.bench_realdata [--source ../shared/realdata] [--city-communities 400] [--no-docs]

Inputs: the full extents of the real datasets (``scripts/realdata_fixtures.py --full`` from ../shared/realdata:
Shenzhen Nanshan with OSM-derived roads, Suzhou Gusu; stand-in communities and three department layers each,
see tests/data/realdata/README.md) and a generated district of ``--city-communities`` communities
(``gridplanner.sampledata.city``) with three department layers. Each run is a fresh process (peak RSS is the
process's own); *runtime* is wall clock with CPU seconds in brackets. The figures come from the project's own
checks (``gis.coverage.partition_report``, ``gridplanner.planning.quality``, ``gis.metrics``), the same for plan
and merge. The Markdown table replaces the "Real data" section of docs/benchmarks.md (unless ``--no-docs``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, replace_section

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Real data"
DEPARTMENTS = ("综治", "城管", "党建")


def _load(kind: str, where: str, n_communities: int) -> dict:
    from gis.io import read_vector

    if kind == "city":
        from gridplanner.sampledata.city import generate_city
        from gridplanner.sampledata.departments import generate_department_layers

        city = generate_city(n_communities=n_communities, n_buildings=n_communities * 300)
        layers = generate_department_layers(city["communities"], len(DEPARTMENTS), n_communities * 6, seed=11)
        return {"communities": city["communities"], "buildings": city["buildings"], "roads": city["roads"],
                "rivers": city.get("rivers"), "layers": dict(zip(DEPARTMENTS, layers.values()))}
    d = Path(where)
    data = {"communities": read_vector(d / "communities.geojson"), "buildings": read_vector(d / "buildings.geojson"),
            "layers": {n: read_vector(d / "departments" / f"{n}.geojson") for n in DEPARTMENTS}}
    if (d / "roads.geojson").exists():
        data["roads"] = read_vector(d / "roads.geojson")
    return data


def _judge(grids, communities, data: dict) -> dict:
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from gis.coverage import partition_report
    from gis.crs import projected_crs_for
    from gis.metrics import partition_quality
    from gridplanner.planning.quality import size_figures
    from gridplanner.planning.rules import size_rules

    codes = list(communities["code"].astype(str))
    region_of = np.array([codes.index(c) for c in grids["community_code"].astype(str)])
    crs = projected_crs_for(communities)
    rules = partition_report(grids.geometry.values, region_of, communities.geometry.values, crs,
                             footprints=data["buildings"].to_crs(4490).geometry.values)
    sizes = size_figures(grids, data["communities"], data["buildings"], size_rules())
    lines = [g.geometry for g in (data.get("roads"), data.get("rivers")) if g is not None and len(g)]
    line_series = gpd.GeoSeries(pd.concat([g.to_crs(4490) for g in lines], ignore_index=True), crs=4490) if lines else None
    basic = (grids["type"] == "basic").to_numpy()
    shape = partition_quality(grids.geometry, grids["households"].to_numpy(), 300, 500, lines=line_series,
                              regions=communities.geometry, tolerance_m=5.0, counted=basic)
    area = {c: max(rules[c]["worst_gap_m2"], rules[c]["worst_overlap_m2"], rules[c]["worst_outside_m2"]) for c in ("lonlat", "metric")}
    return {
        "grids": int(len(grids)), "ok": rules["ok"], "metric_crs": crs.to_string(),
        "invalid": rules["lonlat"]["invalid"] + rules["metric"]["invalid"],
        "worst_lonlat_m2": area["lonlat"], "worst_metric_m2": area["metric"],
        "cut": rules["footprints"]["cut_lonlat"] + rules["footprints"]["cut_metric"],
        "within": sizes["share_within"], "within_feasible": sizes["share_within_feasible"],
        "feasible_grids": sizes["feasible_grids"], "cv": sizes["cv"], "cv_feasible": sizes["cv_where_feasible"],
        "pp_mean": shape["polsby_popper_mean"], "pp_min": shape["polsby_popper_min"],
        "on_lines": shape["share_on_lines"] if line_series is not None else None,
    }


def _child(kind: str, where: str, method: str, n_communities: int, out) -> None:
    data = _load(kind, where, n_communities)
    from gridplanner.merging import merge_layers
    from gridplanner.planning import divide
    from gridplanner.planning.rules import size_rules

    t0, c0 = time.perf_counter(), time.process_time()
    if method == "plan":
        res = divide(data["communities"], data["buildings"], roads=data.get("roads"), rivers=data.get("rivers"), rules=size_rules())
    else:
        res = merge_layers(data["communities"], data["layers"], buildings=data["buildings"], rules=size_rules()["urban"])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"communities": int(len(res.communities)), "buildings": int(len(data["buildings"])), "wall_s": wall, "cpu_s": cpu,
           "peak_rss_mb": peak, "fallbacks": len(res.report.get("fallbacks", [])), **_judge(res.grids, res.communities, data)}
    out.put(row)


def run(kind: str, where: str, method: str, n_communities: int) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(kind, where, method, n_communities, q))
    p.start()
    row = q.get()
    p.join()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(ROOT.parent / "shared" / "realdata"))
    ap.add_argument("--city-communities", type=int, default=400)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "realdata_fixtures.py"), args.source, "--full", "--out", tmp],
                       check=True, stdout=subprocess.DEVNULL)
        inputs = [("Nanshan (full)", "real", str(Path(tmp) / "nanshan")), ("Gusu (full)", "real", str(Path(tmp) / "gusu")),
                  (f"generated district ({args.city_communities})", "city", "")]
        rows = []
        for label, kind, where in inputs:
            for method in ("plan", "merge"):
                row = run(kind, where, method, args.city_communities)
                row.update(input=label, method=method)
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False, default=float), flush=True)
    load1 = os.getloadavg()
    body = _table(rows, load0, load1)
    print(body)
    if not args.no_docs:
        replace_section(DOC, SECTION, body)


def _pct(x) -> str:
    return "–" if x is None or x != x else f"{x * 100:.1f}%"


def _table(rows: list[dict], load0, load1) -> str:
    head = (
        f"{SECTION}\n\n`.venv/bin/python -m bench.bench_realdata` — {machine()}; load average {load0[0]:.1f} at the start, "
        f"{load1[0]:.1f} at the end.\n\n"
        "Real Chinese data the engines were not tuned on (see tests/data/realdata/README.md; households estimated by the "
        "documented rule, floors from height / 3 m where only a height is given) and a generated district. Size rule "
        "300–500 households (rural 250–350). *Hard rules* are checked in EPSG:4490 and in the district's Gauss–Krüger "
        "zone on the output as written: valid single polygons, each community tiled with gap, overlap and outside area "
        "under 0.01 m² (*worst* is the largest over all communities), no footprint cut (*cut* counts both CRSes). "
        "*Within where feasible* leaves out grids holding a building above the maximum and grids in community parts "
        "whose buildings no grouping can fit within bounds even ignoring where they stand: too few households, or buildings too coarse, such as three towers of ~292 households (`gridplanner.planning.quality.groupable`, an exact search; an undecided part counts). "
        "*On roads* is the share of internal grid boundary within 5 m of a road (only where the input has roads).\n\n"
        "| input | method | communities | buildings | grids | runtime s (CPU s) | peak RSS MB | hard rules | worst gap/overlap m² (lon/lat · metric) | cut | fallbacks | within [300, 500] | within where feasible | CV (where feasible) | Polsby–Popper mean / min | on roads |\n"
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        lines.append(
            f"| {r['input']} | {r['method']} | {r['communities']:,} | {r['buildings']:,} | {r['grids']:,} | "
            f"{r['wall_s']:.1f} ({r['cpu_s']:.1f}) | {r['peak_rss_mb']:.0f} | {'hold' if r['ok'] else 'BROKEN'} | "
            f"{r['worst_lonlat_m2']:.1e} · {r['worst_metric_m2']:.1e} | {r['cut']} | {r['fallbacks']} | {_pct(r['within'])} | "
            f"{_pct(r['within_feasible'])} | {r['cv']:.2f} ({r['cv_feasible']:.2f}) | {r['pp_mean']:.2f} / {r['pp_min']:.3f} | {_pct(r['on_lines'])} |"
        )
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
