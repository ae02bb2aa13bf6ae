"""``gridplanner import``: load files into the store, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.importing import ImportReport, import_file
from gridplanner.importing.fields import parse_mapping

import_app = typer.Typer(help="Import GeoJSON, GeoPackage, Shapefile (GBK too), FlatGeobuf or CSV lon/lat into the store.", no_args_is_help=True)
app.add_typer(import_app, name="import")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

FileArg = Annotated[Path, typer.Argument(help="The file to import.", show_default=False)]
LayerOpt = Annotated[Optional[str], typer.Option(help="Layer of a multi-layer file (GeoPackage).")]
CrsOpt = Annotated[Optional[str], typer.Option(help="CRS of a file that names none (CSV: WGS84), or gcj02 / bd09 for lon/lat taken from a web map (converted to WGS84).")]
EncodingOpt = Annotated[Optional[str], typer.Option(help="Attribute encoding, e.g. GBK (default: .cpg, else detected).")]
FieldOpt = Annotated[Optional[list[str]], typer.Option("--field", help="Map a field: ours=theirs, e.g. --field households=户数. Repeatable.")]
LonOpt = Annotated[Optional[str], typer.Option(help="CSV longitude column.")]
LatOpt = Annotated[Optional[str], typer.Option(help="CSV latitude column.")]
ReplaceOpt = Annotated[bool, typer.Option("--replace", help="Delete what the store holds of this kind first.")]


def print_report(report: ImportReport) -> None:
    parts = [f"{report.inserted} inserted"] + ([f"{report.updated} updated"] if report.updated else []) + ([f"{report.replaced} replaced"] if report.replaced else [])
    out.print(f"[green]✓[/] {report.kind} from {escape(report.source)}: {', '.join(parts)}")
    for note in report.notes:
        out.print(f"  [dim]note:[/] {escape(note)}")
    for rep in report.repairs:
        out.print(f"  [yellow]repaired:[/] {escape(rep)}")
    for item in report.unplaced:
        out.print(f"  [yellow]unplaced:[/] {escape(item)}")


def import_transaction():
    """A store session for an import: bad input exits 2 with every problem listed and nothing imported."""
    return store_transaction("imported")


def run_import(kind: str, path: Path, *, replace: bool = False, **options) -> ImportReport:
    with import_transaction() as session:
        report = import_file(session, kind, path, replace=replace, **options)
    print_report(report)
    return report


def _options(layer, crs, encoding, field, lon, lat) -> dict:
    try:
        fields = parse_mapping(field)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return {"layer": layer, "crs": crs, "encoding": encoding, "fields": fields, "lon": lon, "lat": lat}


def _make(kind: str, doc: str):
    def command(
        file: FileArg,
        layer: LayerOpt = None,
        crs: CrsOpt = None,
        encoding: EncodingOpt = None,
        field: FieldOpt = None,
        lon: LonOpt = None,
        lat: LatOpt = None,
        replace: ReplaceOpt = False,
    ) -> None:
        run_import(kind, file, replace=replace, **_options(layer, crs, encoding, field, lon, lat))

    command.__doc__ = doc
    import_app.command(kind)(command)


_make("communities", "Communities (社区/村): polygons with a 12-digit code; existing codes are updated.")
_make("buildings", "Buildings (楼栋): footprints or points with households, population, floors.")
_make("roads", "Roads: lines grid boundaries should follow.")
_make("rivers", "Rivers: lines grid boundaries should follow.")
_make("walls", "Walls and other barriers grid boundaries should follow.")
_make("dedicated", "Dedicated areas (专属网格): schools, hospitals, parks, industrial parks, markets.")


@import_app.command("layer")
def import_layer(
    file: FileArg,
    department: Annotated[str, typer.Option(help="The department that drew this layer, e.g. 综治.")],
    id_field: Annotated[Optional[str], typer.Option(help="Field holding each grid's own id (default: dept_id, id or code).")] = None,
    layer: LayerOpt = None,
    crs: CrsOpt = None,
    encoding: EncodingOpt = None,
    field: FieldOpt = None,
) -> None:
    """A department's grid layer (for 多网合一); replaces that department's earlier layer."""
    run_import("layer", file, department=department, id_field=id_field, **_options(layer, crs, encoding, field, None, None))


@import_app.command("sample")
def import_sample(directory: Annotated[Optional[Path], typer.Argument(help="Default: data/boundaries.")] = None) -> None:
    """The whole sample district: communities, buildings, roads, rivers, dedicated areas, department layers."""
    from gridplanner.importing.sample import load_sample
    from gridplanner.settings import get_settings

    with import_transaction() as session:
        reports = load_sample(session, directory or get_settings().sample_dir)
    for report in reports:
        print_report(report)
