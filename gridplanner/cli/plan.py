"""``gridplanner plan``: divide communities into grids, from files to files, no database needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.errors import VectorInputError
from gis.io import read_vector, write_vector
from gis.validate import LINE, POLYGON, POLYGON_OR_POINT, check_features
from gridplanner.cli import app
from gridplanner.planning import SizeRule, divide

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


def _rules(min_h: int, max_h: int, target: int | None, rural_min: int | None, rural_max: int | None):
    urban = SizeRule(min_h, max_h, target)
    if rural_min is None and rural_max is None:
        return urban
    rural = SizeRule(rural_min if rural_min is not None else min_h, rural_max if rural_max is not None else max_h)
    return {"default": urban, "urban": urban, "rural": rural}


@app.command()
def plan(
    communities: Annotated[Path, typer.Option(help="Community boundaries (polygons with a code field).", show_default=False)],
    out_path: Annotated[Path, typer.Option("--out", help="Output grids: .gpkg, .geojson, .shp or .fgb (EPSG:4490).", show_default=False)],
    buildings: Annotated[PathOpt, typer.Option(help="Buildings (footprints or points; households, population, floors).")] = None,
    roads: Annotated[PathOpt, typer.Option(help="Road centre lines; grid boundaries follow them.")] = None,
    rivers: Annotated[PathOpt, typer.Option(help="Rivers and canals (lines); grid boundaries follow them.")] = None,
    dedicated: Annotated[PathOpt, typer.Option(help="Dedicated areas (schools, hospitals, parks, ...; polygons, field kind).")] = None,
    min_households: Annotated[int, typer.Option(help="Fewest households per grid.")] = 300,
    max_households: Annotated[int, typer.Option(help="Most households per grid.")] = 500,
    target_households: Annotated[Optional[int], typer.Option(help="Households aimed at (default: midpoint).")] = None,
    rural_min: Annotated[Optional[int], typer.Option(help="Fewest households for communities of class 'rural'.")] = None,
    rural_max: Annotated[Optional[int], typer.Option(help="Most households for communities of class 'rural'.")] = None,
    code_field: Annotated[str, typer.Option(help="Community code field.")] = "code",
    class_field: Annotated[str, typer.Option(help="Community class field (urban/rural) picking the size rule.")] = "class",
    crs: Annotated[Optional[str], typer.Option(help="CRS of inputs that name none (CSV defaults to WGS84).")] = None,
    report: Annotated[PathOpt, typer.Option(help="Write the JSON report here.")] = None,
) -> None:
    """Divide communities into grids of moderate size (网格划分) that follow roads and never cut a building."""
    try:
        rules = _rules(min_households, max_households, target_households, rural_min, rural_max)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if buildings is None:
        err.print("[red]error:[/] no buildings file: give --buildings (footprints or points with households)")
        raise typer.Exit(2)
    try:
        comm = _read(communities, POLYGON, crs, code_field)
        if code_field not in comm:
            raise VectorInputError(communities, f"has no {code_field!r} field (fields: {[c for c in comm.columns if c != comm.geometry.name]}); name it with --code-field")
        bld = _read(buildings, POLYGON_OR_POINT, crs)
        road = _read(roads, LINE, crs)
        river = _read(rivers, LINE, crs)
        ded = _read(dedicated, POLYGON, crs)
    except VectorInputError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None

    with Progress(TextColumn("planning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("communities", total=len(comm))
        try:
            result = divide(comm, bld, roads=road, rivers=river, dedicated=ded, rules=rules, code_field=code_field,
                            class_field=class_field, progress=lambda done, total: bar.update(task, completed=done))
        except ValueError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    try:
        write_vector(result.grids, out_path)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result.report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")

    s = result.report["summary"]
    out.print(f"[green]✓[/] {s['grids']} grids ({s['dedicated_grids']} dedicated) for {s['communities']} communities → {out_path}")
    out.print(f"  basic grids within bounds: {s['basic_within_bounds']} of {s['basic_grids']}")
    for what, key in (("outside the size rule", "out_of_bounds"), ("buildings in no community", "unplaced"),
                      ("buildings crossing a community boundary (clipped)", "crossing_community_boundary")):
        if result.report[key]:
            out.print(f"  [yellow]{len(result.report[key])} {what}[/] (listed in the report)")
    if not result.report["self_check"]["ok"]:
        err.print("[red]self-check failed:[/] see self_check in the report")
        raise typer.Exit(1)
