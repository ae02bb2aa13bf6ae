"""``gridplanner plan``: divide communities into grids, from files to files, no database needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.errors import Problem, VectorInputError
from gis.io import DRIVERS, read_vector, write_vector
from gis.validate import LINE, POLYGON, POLYGON_OR_POINT, check_features
from gridplanner.cli import app
from gridplanner.cli.compute import runner_for
from gridplanner.cli.failures import EXIT_INPUT, EXIT_PARTIAL, attach_log, guarded, internal_error
from gridplanner.coding import DEFAULT_RULE, assign_codes
from gridplanner.planning import divide
from gridplanner.planning.rules import size_rules

out = Console()
err = Console(stderr=True, soft_wrap=True)

PathOpt = Optional[Path]


def _read(path: Path | None, kind: str, crs: str | None, id_field: str | None = None):
    if path is None:
        return None
    gdf = read_vector(path, crs=crs)
    checked = check_features(gdf, str(path), kind, id_field=id_field)
    for rep in checked.repairs:
        err.print(f"[yellow]repaired:[/] {path}: {rep.describe()}")
    return checked.data


def _codes_fit(comm, code_field: str, source: Path) -> None:
    """Grid codes are the 12-digit community code and a sequence: refuse up front what cannot be coded."""
    bad = [Problem(f"code {c!r} is not a 12-digit 统计用区划代码, so its grids cannot be coded (--no-codes skips coding)", i, str(c))
           for i, c in enumerate(comm[code_field].astype(str).tolist()) if not (len(c) == 12 and c.isdigit())]
    if bad:
        raise VectorInputError(source, bad)


@app.command()
def plan(
    communities: Annotated[Path, typer.Option(help="Community boundaries (polygons with a code field).", show_default=False)],
    out_path: Annotated[Path, typer.Option("--out", help="Output grids: .gpkg, .geojson, .shp or .fgb (EPSG:4490).", show_default=False)],
    buildings: Annotated[PathOpt, typer.Option(help="Buildings (footprints or points; households, population, floors, height).")] = None,
    roads: Annotated[PathOpt, typer.Option(help="Road centre lines; grid boundaries follow them.")] = None,
    rivers: Annotated[PathOpt, typer.Option(help="Rivers and canals (lines); grid boundaries follow them.")] = None,
    dedicated: Annotated[PathOpt, typer.Option(help="Dedicated areas (schools, hospitals, parks, ...; polygons, field kind).")] = None,
    min_households: Annotated[int, typer.Option(help="Fewest households per grid (urban and unclassed communities).")] = 300,
    max_households: Annotated[int, typer.Option(help="Most households per grid (urban and unclassed communities).")] = 500,
    target_households: Annotated[Optional[int], typer.Option(help="Households aimed at (default: midpoint).")] = None,
    rural_min: Annotated[Optional[int], typer.Option(help="Fewest households for communities of class 'rural' (default 250).")] = None,
    rural_max: Annotated[Optional[int], typer.Option(help="Most households for communities of class 'rural' (default 350).")] = None,
    code_field: Annotated[str, typer.Option(help="Community code field.")] = "code",
    name_field: Annotated[str, typer.Option(help="Community name field (named in messages).")] = "name",
    class_field: Annotated[str, typer.Option(help="Community class field (urban/rural) picking the size rule.")] = "class",
    dissolve_duplicate_codes: Annotated[bool, typer.Option("--dissolve-duplicate-codes", help="Join features sharing a community code into one community (one community drawn as several features).")] = False,
    codes: Annotated[bool, typer.Option("--codes/--no-codes", help="Give every grid its code by the default rule (12-digit community code + 3-digit sequence).")] = True,
    crs: Annotated[Optional[str], typer.Option(help="CRS of inputs that name none (CSV: WGS84), or gcj02 / bd09 for lon/lat taken from a web map (converted to WGS84).")] = None,
    report: Annotated[PathOpt, typer.Option(help="Write the JSON report here.")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Plan on a dask.distributed LocalCluster of this many worker processes (started and stopped here). Default: in this process.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Plan on a running dask.distributed scheduler at this address (tcp://host:8786).")] = None,
) -> None:
    """Divide communities into grids of moderate size (网格划分) that follow roads and never cut a building.

    Exit status: 0 done; 2 bad input (nothing written); 3 written, but some communities could not be divided
    and got a fallback plan that keeps every hard rule (listed in the report's fallbacks); 70 internal error
    (nothing written; the traceback is in the log file named).
    """
    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers or --scheduler, not both")
    try:
        rules = size_rules(min_households, max_households, rural_min, rural_max, target_households)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if buildings is None:
        err.print("[red]error:[/] no buildings file: give --buildings (footprints or points with households)")
        raise typer.Exit(EXIT_INPUT)
    if out_path.suffix.lower() not in DRIVERS:
        raise typer.BadParameter(f"--out {out_path}: use one of {sorted(DRIVERS)}")
    log = attach_log()
    sources = {"communities": communities, "buildings": buildings, "roads": roads, "rivers": rivers, "dedicated": dedicated}
    with guarded("plan", sources=sources):
        comm = _read(communities, POLYGON, crs, code_field)
        if code_field not in comm:
            raise VectorInputError(communities, f"has no {code_field!r} field (fields: {[c for c in comm.columns if c != comm.geometry.name]}); name it with --code-field")
        if codes:
            _codes_fit(comm, code_field, communities)
        bld = _read(buildings, POLYGON_OR_POINT, crs)
        road = _read(roads, LINE, crs)
        river = _read(rivers, LINE, crs)
        ded = _read(dedicated, POLYGON, crs)
        with runner_for(workers, scheduler) as runner, \
                Progress(TextColumn("planning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
            task = bar.add_task("communities", total=len(comm))
            result = divide(comm, bld, roads=road, rivers=river, dedicated=ded, rules=rules, code_field=code_field,
                            class_field=class_field, name_field=name_field, dissolve_duplicate_codes=dissolve_duplicate_codes,
                            sources={k: str(v) for k, v in sources.items() if v is not None},
                            progress=lambda done, total: bar.update(task, completed=done), runner=runner)
        if not result.report["self_check"]["ok"]:
            # Every community either passes or gets a fallback that does: a failure here is ours.
            raise RuntimeError(f"self-check failed on {len(result.report['self_check']['failed'])} communities after their fallbacks: {result.report['self_check']['failed'][:3]}")
        grids = result.grids
        if codes:
            grids = assign_codes(grids, DEFAULT_RULE).grids
            grids.insert(0, "code", grids.pop("code"))
    try:
        # In a GeoPackage, the communities as planned (on the precision model) go beside the grids: the
        # outlines the grids tile exactly, to check them against.
        more = {"communities": result.communities} if out_path.suffix.lower() == ".gpkg" else None
        write_vector(grids, out_path, more=more)
        if report is not None:
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps(result.report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/] cannot write the output: {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    except Exception as exc:  # a fault of ours while writing
        internal_error(exc, "plan")

    s = result.report["summary"]
    out.print(f"[green]✓[/] {s['grids']} grids ({s['dedicated_grids']} dedicated) for {s['communities']} communities → {out_path}")
    out.print(f"  basic grids within bounds: {s['basic_within_bounds']} of {s['basic_grids']}")
    if codes:
        out.print("  codes: 12-digit community code + 3-digit sequence (DB11/T 2157-2023), north to south, west to east")
    for what, key in (("outside the size rule", "out_of_bounds"), ("buildings in no community", "unplaced"),
                      ("buildings crossing a community boundary (clipped)", "crossing_community_boundary"),
                      ("communities planned here after failing twice on the cluster", "retried_here")):
        if result.report[key]:
            out.print(f"  [yellow]{len(result.report[key])} {what}[/] (listed in the report)")
    changed = result.report["precision"]["communities"]
    if changed["snapped"]:
        out.print(f"  {changed['snapped']} community outlines snapped to the 1e-7° precision grid (largest change {changed['largest_area_moved_m2']:.3g} m²; see the report's precision)")
    if s["blocks_only"]:
        out.print(f"  [yellow]{s['blocks_only']} communities divided by road blocks only[/] (the engine's plan failed a check; see the report's fallbacks)")
    if s["not_divided"]:
        err.print(f"[yellow]{s['not_divided']} communities not divided (see report)[/]: each is one grid per part; the log {log} has the engine's errors")
        raise typer.Exit(EXIT_PARTIAL)
