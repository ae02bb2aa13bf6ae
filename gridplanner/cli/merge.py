"""``gridplanner merge``: 多网合一 on files — department layers in; unified grids, crosswalk and report out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gis.errors import VectorInputError
from gis.io import DRIVERS, read_vector, write_vector
from gridplanner.cli import app
from gridplanner.cli.compute import runner_for
from gridplanner.cli.failures import EXIT_PARTIAL, attach_log, guarded
from gridplanner.merging import merge_layers
from gridplanner.planning import SizeRule

out = Console()
err = Console(stderr=True)


def parse_layer(text: str) -> tuple[str, Path]:
    """``综治=a.gpkg`` -> ("综治", Path("a.gpkg")); a bare path is named after its file stem."""
    name, sep, path = text.partition("=")
    if not sep:
        return Path(text).stem, Path(text)
    if not name.strip() or not path.strip():
        raise typer.BadParameter(f"--layer {text!r}: expected NAME=FILE, e.g. 综治=zz.gpkg")
    return name.strip(), Path(path.strip())


@app.command()
def merge(
    communities: Annotated[Path, typer.Option(help="Community boundaries (polygons with a code field).", show_default=False)],
    layer: Annotated[list[str], typer.Option("--layer", help="A department layer as NAME=FILE, e.g. 综治=zz.gpkg. Two or more.", show_default=False)],
    out_path: Annotated[Path, typer.Option("--out", help="Unified grids (.gpkg, .geojson, .shp, .fgb).", show_default=False)],
    crosswalk: Annotated[Path, typer.Option(help="Crosswalk CSV: department grid -> unified grid (community_code + grid_index).", show_default=False)],
    report: Annotated[Optional[Path], typer.Option(help="Conflict report (JSON).")] = None,
    base: Annotated[Optional[str], typer.Option(help="Department whose edges win (default: the one agreeing most with the others).")] = None,
    buildings: Annotated[Optional[Path], typer.Option(help="Buildings (households, population, floors, use): enables the size rule.")] = None,
    id_field: Annotated[Optional[str], typer.Option(help="Field holding each department grid's id (default: dept_id, id or code).")] = None,
    code_field: Annotated[str, typer.Option(help="Community code field.")] = "code",
    sliver_area: Annotated[float, typer.Option(help="Pieces smaller than this (m²) are slivers.")] = 50.0,
    sliver_width: Annotated[float, typer.Option(help="Pieces thinner than this (m) are slivers.")] = 3.0,
    min_households: Annotated[int, typer.Option(help="Size rule: fewest households per grid.")] = 300,
    max_households: Annotated[int, typer.Option(help="Size rule: most households per grid.")] = 500,
    crs: Annotated[Optional[str], typer.Option(help="CRS of inputs that name none (CSV: WGS84), or gcj02 / bd09 for lon/lat taken from a web map (converted to WGS84).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Split and rebalance on a dask.distributed LocalCluster of this many worker processes (started and stopped here). Default: in this process.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Split and rebalance on a running dask.distributed scheduler at this address (tcp://host:8786).")] = None,
) -> None:
    """Merge departments' overlapping grid layers into one grid set per community (多网合一)."""
    if out_path.suffix.lower() not in DRIVERS:
        raise typer.BadParameter(f"--out {out_path}: use one of {sorted(DRIVERS)}")
    if workers is not None and scheduler is not None:
        raise typer.BadParameter("give --workers or --scheduler, not both")
    named = [parse_layer(t) for t in layer]
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise typer.BadParameter(f"--layer names repeat: {names}")
    attach_log()
    # The engine names its inputs ("layer 综治", "communities", "buildings"): errors say which file that was.
    files = {f"layer {n}": p for n, p in named} | {"communities": communities, "buildings": buildings}
    with guarded("merge", sources=files):
        comm = read_vector(communities, crs=crs)
        layers = {}
        for name, path in named:
            gdf = read_vector(path, crs=crs)
            if len(gdf) == 0:
                raise VectorInputError(path, f"layer {name} contains no features")
            layers[name] = gdf
        bld = read_vector(buildings, crs=crs) if buildings else None
        with runner_for(workers, scheduler) as runner, \
                Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
            tasks: dict[str, int] = {}

            def progress(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total)
                bar.update(tasks[step], completed=done, total=total)

            result = merge_layers(
                comm, layers, base=base, id_field=id_field, sliver_area_m2=sliver_area, sliver_width_m=sliver_width,
                buildings=bld, rules=SizeRule(min_households, max_households), code_field=code_field, progress=progress,
                runner=runner,
            )

    # In a GeoPackage, the communities as merged into (on the precision model) go beside the grids.
    more = {"communities": result.communities} if out_path.suffix.lower() == ".gpkg" else None
    write_vector(result.grids, out_path, more=more)
    crosswalk.parent.mkdir(parents=True, exist_ok=True)
    # In the file a unified grid is named as in --out: community_code + grid_index (its number in the community).
    rows = result.crosswalk["grid_index"].to_numpy()
    table = result.crosswalk.copy()
    table.insert(2, "community_code", result.grids["community_code"].to_numpy()[rows])
    table["grid_index"] = result.grids["grid_index"].to_numpy()[rows]
    # BOM so that Excel opens the Chinese department names correctly.
    table.to_csv(crosswalk, index=False, encoding="utf-8-sig")
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result.report, ensure_ascii=False, indent=1), encoding="utf-8")
    s = result.report["summary"]
    out.print(f"[green]✓[/] {s['grids']} unified grids in {s['communities']} communities → {out_path} (base: {result.report['base']['department']})")
    out.print(f"  crosswalk: {len(result.crosswalk)} rows → {crosswalk}")
    size = result.report["size_rule"]
    if size["applied"]:
        out.print(f"  size rule {size['min_households']}–{size['max_households']} households: {size['grids_within_bounds']} of {size['grids']} grids within")
    out.print(
        f"  conflicts: {s['overlaps_within_departments']} overlaps inside departments, {s['uncovered_areas']} uncovered areas, "
        f"{s['department_grids_crossing_community_lines']} grids crossing community lines, {s['slivers_absorbed']} slivers absorbed, "
        f"{s['department_grids_mapped_to_several']} department grids mapped to several, {s['repairs']} repairs"
    )
    if not s["coverage_valid"] or s["slivers_left"]:
        err.print(f"[yellow]warning:[/] coverage valid: {s['coverage_valid']}, slivers left: {s['slivers_left']}")
    if result.report.get("fallbacks"):
        err.print(f"[yellow]{len(result.report['fallbacks'])} communities not merged (see report)[/]: each is one grid per part")
        raise typer.Exit(EXIT_PARTIAL)
