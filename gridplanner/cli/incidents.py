"""``gridplanner incidents``: import a hotline export, per-grid counts, the catalogue, lifecycle steps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.cli.staff import err, out

incidents_app = typer.Typer(help="Incidents (事件): hotline import, open/overdue counts per grid, the category catalogue, lifecycle steps.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")


@incidents_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Hotline CSV: id, category, status, reported_at, lon, lat, description.", show_default=False)],
    crs: Annotated[str, typer.Option(help="Coordinate system of lon/lat: wgs84, cgcs2000, gcj02, bd09.")] = "wgs84",
) -> None:
    """Import a hotline export, all or nothing: points placed in grids, 无网格 ones kept and listed."""
    from gridplanner.incidents.hotline import import_hotline

    if not file.is_file():
        err.print(f"[red]error:[/] no such file {escape(str(file))}")
        raise typer.Exit(2)
    with store_transaction() as session:
        report = import_hotline(session, file, crs=crs, actor="cli")
    out.print(f"[green]✓[/] incidents from {escape(report.source)}: {report.inserted} inserted, {report.skipped_existing} already present, {report.no_grid} in no grid (无网格)")
    for note in report.notes:
        out.print(f"  [dim]note:[/] {escape(note)}")
    if report.no_grid_ids:
        out.print(f"  [yellow]无网格:[/] {', '.join(report.no_grid_ids[:20])}{' …' if report.no_grid > 20 else ''}")


@incidents_app.command("counts")
def counts_cmd(by: Annotated[str, typer.Option(help="grid or community")] = "grid") -> None:
    """Open and overdue incidents per grid (or community) of the published plan."""
    from gridplanner.incidents.service import grid_counts

    with store_transaction() as session:
        rows = grid_counts(session, by=by)
    table = Table(by, "open", "overdue")
    for r in rows:
        table.add_row(r["code"] or "无网格", str(r["open"]), str(r["overdue"]))
    out.print(table)
    out.print(f"open {sum(r['open'] for r in rows)}, overdue {sum(r['overdue'] for r in rows)}")


@incidents_app.command("categories")
def categories_cmd() -> None:
    """The category catalogue with time limits (hours from dispatch)."""
    from gridplanner.incidents.catalogue import catalogue

    with store_transaction() as session:
        cats = catalogue(session, include_inactive=True)
    table = Table("category", "kind", "hours", "active")
    for c in cats:
        table.add_row(c.name, c.kind or "", f"{c.time_limit_hours:g}", "yes" if c.active else "no")
    out.print(table)


@incidents_app.command("set-category")
def set_category_cmd(
    name: Annotated[str, typer.Argument(help="Category name, e.g. 市容环境.")],
    hours: Annotated[float, typer.Option("--hours", help="Time limit in hours from dispatch.")],
    kind: Annotated[str, typer.Option(help="Group, e.g. 数字城管事件 or 社会治理事件.")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Retire the category (new reports refuse it).")] = False,
) -> None:
    """Add a category or change its time limit."""
    from gridplanner.incidents.catalogue import set_category

    with store_transaction() as session:
        c = set_category(session, name, time_limit_hours=hours, kind=kind, active=not inactive, actor="cli")
    out.print(f"[green]✓[/] {escape(c.name)}: {c.time_limit_hours:g} h{'' if c.active else ' (inactive)'}")


@incidents_app.command("advance")
def advance_cmd(
    incident_id: Annotated[int, typer.Argument(help="Incident id.")],
    to: Annotated[str, typer.Argument(help="Next status: 受理, 派遣, 处置, 核查, 结案 or 评价.")],
    actor: Annotated[str, typer.Option(help="Who makes the step.")],
    note: Annotated[str, typer.Option(help="A remark kept with the step.")] = None,
) -> None:
    """Move an incident one step of its lifecycle (recorded with actor and time)."""
    from gridplanner.incidents.lifecycle import advance

    with store_transaction() as session:
        inc = advance(session, incident_id, to, actor=actor, note=note)
        due = inc.due_at
    out.print(f"[green]✓[/] incident {incident_id}: {to}" + (f", due {due:%Y-%m-%d %H:%M %Z}" if due else ""))
