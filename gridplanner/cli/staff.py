"""``gridplanner staff``: import the roster, list it, check staffing compliance, export roster and compliance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction

staff_app = typer.Typer(help="Grid staff (网格长, 专职网格员, 兼职网格员): roster import, compliance with the staffing rules, exports.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def rules_options(
    max_households: int = 500, chiefs: int = 1, fulltime: int = 1, min_parttime: int = 1, per_10k: float = 18.0, rural_ratio: bool = False
):
    from gridplanner.staffing.rules import StaffingRules

    try:
        return StaffingRules(chiefs, fulltime, min_parttime, max_households, per_10k, rural_ratio)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


MaxHh = Annotated[int, typer.Option("--max-households", help="At most this many households per 专职网格员.")]
Chiefs = Annotated[int, typer.Option("--chiefs", help="网格长 per grid.")]
Fulltime = Annotated[int, typer.Option("--fulltime", help="专职网格员 per grid.")]
MinPart = Annotated[int, typer.Option("--min-parttime", help="At least this many 兼职网格员 per grid.")]
Per10k = Annotated[float, typer.Option("--per-10k", help="Community workers per 10,000 residents (urban communities).")]
RuralRatio = Annotated[bool, typer.Option("--rural-ratio", help="Hold villages (村) to the ratio too.")]


@staff_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="Roster CSV or XLSX: name, phone, role, grid_code, id_number (or 姓名, 电话, 角色, 网格编码, 身份证号).", show_default=False)],
    unassign_unknown: Annotated[bool, typer.Option("--unassign-unknown", help="Import rows whose grid code the published plan lacks without a grid (listed) instead of refusing the file.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Deactivate active workers the file does not list.")] = False,
) -> None:
    """Import a roster, all or nothing; ID numbers are checked and stored masked."""
    from gridplanner.staffing.roster import import_roster

    if not file.is_file():
        err.print(f"[red]error:[/] no such file {escape(str(file))}")
        raise typer.Exit(2)
    with store_transaction() as session:
        report = import_roster(session, file.read_bytes(), file.name, unknown_grid="unassign" if unassign_unknown else "error", replace=replace, actor="cli")
    out.print(f"[green]✓[/] roster from {escape(file.name)}: {report.inserted} inserted, {report.updated} updated" + (f", {report.deactivated} deactivated" if report.deactivated else ""))
    for note in report.unassigned:
        out.print(f"  [yellow]unassigned:[/] {escape(note)}")


@staff_app.command("compliance")
def compliance_cmd(
    level: Annotated[str, typer.Option(help="grid or community")] = "community",
    out_path: Annotated[Optional[Path], typer.Option("--out", help="Write to .xlsx (both levels) or .csv (this level) instead of printing.")] = None,
    max_households: MaxHh = 500, chiefs: Chiefs = 1, fulltime: Fulltime = 1, min_parttime: MinPart = 1, per_10k: Per10k = 18.0, rural_ratio: RuralRatio = False,
) -> None:
    """Status of each grid or community of the published plan: 配齐 / 缺员 / 超负荷, with the reasons."""
    from gridplanner.staffing import compliance as comp

    if level not in ("grid", "community"):
        raise typer.BadParameter("--level is grid or community")
    rules = rules_options(max_households, chiefs, fulltime, min_parttime, per_10k, rural_ratio)
    with store_transaction() as session:
        if out_path is not None:
            fmt = _format(out_path)
            out_path.write_bytes(comp.compliance_export(session, fmt, rules, level=level))
            out.print(f"[green]✓[/] wrote {escape(str(out_path))}")
            return
        grids, comms = comp.compliance(session, rules)
    frame = grids if level == "grid" else comms
    if frame.empty:
        out.print("no published plan, or it has no grids")
        return
    cols = ["code", "community_code", "households", "网格长", "专职网格员", "兼职网格员", "status", "reasons"] if level == "grid" else ["community_code", "name", "grids", "population", "workers", "workers_required", "status", "reasons"]
    table = Table(*cols)
    for r in frame[cols].itertuples(index=False):
        table.add_row(*[escape(str(v)) for v in r])
    out.print(table)
    out.print(" ".join(f"{k}: {v}" for k, v in frame["status"].value_counts().items()))


def _format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise typer.BadParameter(f"--out must end in .csv or .xlsx, got {path.name}")
    return fmt


@staff_app.command("export")
def export_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="roster.xlsx or roster.csv")],
    include_inactive: Annotated[bool, typer.Option("--all", help="Include inactive workers.")] = False,
) -> None:
    """Export the roster (ID numbers masked); the file can be imported again."""
    from gridplanner.staffing.compliance import roster_export

    fmt = _format(out_path)
    with store_transaction() as session:
        data = roster_export(session, fmt, include_inactive=include_inactive)
    out_path.write_bytes(data)
    out.print(f"[green]✓[/] wrote {escape(str(out_path))}")


@staff_app.command("unsettled")
def unsettled_cmd() -> None:
    """Workers and incidents a plan publication could not move by itself, for a person to settle."""
    from sqlalchemy import text

    with store_transaction() as session:
        rows = session.execute(text("SELECT entity, entity_id, plan_version, from_code, reason FROM reassignment_issues WHERE settled_at IS NULL ORDER BY id")).all()
    if not rows:
        out.print("nothing to settle")
        return
    table = Table("entity", "id", "plan", "from", "reason")
    for r in rows:
        table.add_row(r.entity, str(r.entity_id), f"v{r.plan_version}", r.from_code or "", escape(r.reason))
    out.print(table)
