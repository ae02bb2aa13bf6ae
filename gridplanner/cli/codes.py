"""``gridplanner codes``: assign stable grid codes, check codes, Beidou grid location codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from gis import beidou
from gis.errors import VectorInputError
from gis.io import read_vector, write_vector
from gis.validate import POLYGON, check_features
from gis.webcoords import transform
from gridplanner.cli import app
from gridplanner.coding import CodeError, TemplateError, assign_codes, check_code_table, check_grid_codes, decode_code, rule_from_spec

codes_app = typer.Typer(help="Grid codes: assign stable codes, check codes, decode, Beidou grid location codes.", no_args_is_help=True)
app.add_typer(codes_app, name="codes")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

RuleOpt = Annotated[str, typer.Option("--rule", help="default (15-digit DB11/T 2157), cjt349 (20-digit CJ/T 349, needs --set object=NNNNNN) or a template such as '{community}{type:1}{seq:03}'.")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="A template constant, name=value, e.g. --set object=010100. Repeatable.")]


def _constants(pairs: list[str] | None) -> dict[str, str]:
    out_: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--set takes name=value, got {pair!r}")
        out_[name.strip()] = value.strip()
    return out_


def _rule(spec: str, pairs: list[str] | None):
    try:
        return rule_from_spec(spec, _constants(pairs))
    except (TemplateError, ValueError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/] {escape(str(exc))}\n[red]nothing was written.[/]")
    raise typer.Exit(2) from None


@codes_app.command("assign")
def assign(
    grids: Annotated[Path, typer.Option("--grids", help="Grids to code: polygons with community_code (and type: basic/dedicated).")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file (.gpkg, .geojson, .shp, .fgb) with a 'code' field.")],
    previous: Annotated[Optional[Path], typer.Option("--previous", help="Grids in use with their 'code' field: matching grids keep their code.")] = None,
    retired: Annotated[Optional[Path], typer.Option("--retired", help="Text file of retired codes, one a line: never issued again.")] = None,
    rule: RuleOpt = "default",
    set_: SetOpt = None,
    iou: Annotated[float, typer.Option(help="IoU at or above which a grid keeps a previous grid's code.")] = 0.9,
    community_field: Annotated[str, typer.Option(help="Field holding the grid's 12-digit community code.")] = "community_code",
    lineage: Annotated[Optional[Path], typer.Option(help="Write the lineage events here as CSV (kind, from_code, to_code).")] = None,
) -> None:
    """Give every grid a code by the rule; with --previous, matching grids keep theirs and changes are listed."""
    coding_rule = _rule(rule, set_)
    try:
        checked = check_features(read_vector(grids), str(grids), POLYGON)
        data = checked.data
        prev = check_features(read_vector(previous), str(previous), POLYGON).data if previous else None
        retired_codes = _read_retired(retired) if retired else []
        result = assign_codes(data, coding_rule, previous=prev, retired=retired_codes, iou=iou, community_field=community_field,
                              source=str(grids), previous_source=str(previous))  # fmt: skip
    except (VectorInputError, CodeError, ValueError) as exc:
        _fail(exc)
    write_vector(result.grids, out_path)  # EPSG:4490: check_features returned the grids in storage CRS
    if lineage:
        lineage.parent.mkdir(parents=True, exist_ok=True)
        result.events_frame().to_csv(lineage, index=False)
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts().items() if n)
    out.print(f"[green]✓[/] {len(result.grids)} grids coded by rule {coding_rule.name} → {escape(str(out_path))} ({counts})")
    if result.retired:
        out.print(f"  retired: {', '.join(result.retired)}")
    for warning in result.warnings:
        out.print(f"  [yellow]warning:[/] {escape(warning)}")
    for rep in checked.repairs:
        out.print(f"  [yellow]repaired:[/] {escape(rep.describe())}")


def _read_retired(path: Path) -> list[str]:
    if not path.exists():
        raise VectorInputError(path, "file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


@codes_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="A vector file or CSV with a code column.", show_default=False)],
    field: Annotated[str, typer.Option("--field", help="The column holding the codes.")] = "code",
    kind: Annotated[str, typer.Option(help="grid (by --rule), community (12 digits), township (9) or county (6).")] = "grid",
    parent_field: Annotated[Optional[str], typer.Option(help="Column with each row's parent code: the street (9 digits) of a community, or the community of a grid.")] = None,
    rule: RuleOpt = "default",
    set_: SetOpt = None,
) -> None:
    """Check codes: structure (county, township 街道/镇/乡, community 居委会/村委会), duplicates, parents."""
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False) if file.suffix.lower() == ".csv" else read_vector(file)
    except (VectorInputError, OSError, ValueError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    for column in [field] + ([parent_field] if parent_field else []):
        if column not in table:
            err.print(f"[red]error:[/] {escape(str(file))}: no column {column!r} (columns: {', '.join(map(str, table.columns))})")
            raise typer.Exit(2)
    codes = table[field].tolist()
    parents = table[parent_field].tolist() if parent_field else None
    if kind == "grid":
        problems = check_grid_codes(codes, _rule(rule, set_), communities=parents)
    elif kind in ("community", "township", "county"):
        problems = check_code_table(codes, length={"community": 12, "township": 9, "county": 6}[kind], parents=parents)
    else:
        raise typer.BadParameter(f"--kind must be grid, community, township or county, not {kind!r}")
    if problems:
        err.print(f"[red]{escape(str(file))}: {len(problems)} problem(s) in {len(codes)} codes[/]")
        for p in problems:
            err.print(f"  {escape(p.describe())}")
        raise typer.Exit(1)
    out.print(f"[green]✓[/] {escape(str(file))}: {len(codes)} {kind} codes, all valid")


@codes_app.command("decode")
def decode(
    code: Annotated[str, typer.Argument(help="A grid code, a 6/9/12-digit division code, or a Beidou grid location code.", show_default=False)],
    rule: RuleOpt = "default",
    set_: SetOpt = None,
) -> None:
    """Split a code into its parts (as JSON)."""
    try:
        if code[:1].upper() in ("N", "S"):
            cell = beidou.decode(code)
            info = {"code": cell.code, "level": cell.level, "bounds": list(cell.bounds), "centre": list(cell.centre)}
        else:
            info = decode_code(code, _rule(rule, set_)).as_dict()
    except (CodeError, ValueError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(info, ensure_ascii=False, indent=2))


@codes_app.command("beidou")
def beidou_code(
    lon: Annotated[float, typer.Argument(help="Longitude.", show_default=False)],
    lat: Annotated[float, typer.Argument(help="Latitude.", show_default=False)],
    level: Annotated[int, typer.Option(min=1, max=10, help="Level 1–10 (7 ≈ 1/4″ ≈ 7 m cells).")] = 7,
    crs: Annotated[str, typer.Option(help="Coordinates given in: wgs84, cgcs2000, gcj02 or bd09.")] = "cgcs2000",
) -> None:
    """The GB/T 39409 Beidou grid location code of a point, and its cell."""
    try:
        x, y = transform(lon, lat, crs, "cgcs2000")
        code = beidou.encode(float(x), float(y), level)
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    cell = beidou.decode(code)
    typer.echo(code)
    err.print(f"[dim]level {cell.level} cell: lon {cell.west:.9f}–{cell.east:.9f}, lat {cell.south:.9f}–{cell.north:.9f}[/]")
