"""``gridplanner report``: offline HTML maps of coverage, staffing and incidents (folium, everything inlined)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.maplayers import Filters
from gridplanner.reports import ReportError, build_report
from gridplanner.store.database import session_scope
from tiles.layers import FilterError

report_app = typer.Typer(help="Offline HTML reports (open with no network): coverage, staffing, incidents.", no_args_is_help=True)
app.add_typer(report_app, name="report")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

OutOpt = Annotated[Path, typer.Option("--out", help="The HTML file to write.")]
PlanOpt = Annotated[Optional[int], typer.Option("--plan", help="Plan id (default: the published plan).")]
VersionOpt = Annotated[Optional[int], typer.Option("--version", help="Published version number of the plan.")]


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be an ISO 8601 date or time, got {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


def _write(kind: str, path: Path, filters: Filters) -> None:
    if path.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter(f"--out should be an .html file, got {path}")
    try:
        with session_scope() as session:
            page = build_report(session, kind, filters)
    except (ReportError, FilterError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    out.print(f"wrote {path} ({len(page) / 1024:.0f} KiB, opens with no network)")


@report_app.command("coverage")
def coverage(out_path: OutOpt, plan: PlanOpt = None, version: VersionOpt = None) -> None:
    """Households per grid and size status (偏小/适中/偏大) with community boundaries."""
    _write("coverage", out_path, Filters(plan=plan, version=version))


@report_app.command("staffing")
def staffing(out_path: OutOpt, plan: PlanOpt = None, version: VersionOpt = None) -> None:
    """Staff per grid by role and whether each grid has its 网格长 and 专职网格员."""
    _write("staffing", out_path, Filters(plan=plan, version=version))


@report_app.command("incidents")
def incidents(
    out_path: OutOpt,
    plan: PlanOpt = None,
    version: VersionOpt = None,
    category: Annotated[Optional[list[str]], typer.Option("--category", help="Incident category; repeatable.")] = None,
    start: Annotated[Optional[str], typer.Option("--start", help="Reported at or after (ISO 8601; no offset: UTC+8).")] = None,
    end: Annotated[Optional[str], typer.Option("--end", help="Reported before (ISO 8601; no offset: UTC+8).")] = None,
) -> None:
    """A heatmap of open incidents and open/overdue counts per grid."""
    _write("incidents", out_path, Filters(plan=plan, version=version, category=tuple(category or ()), start=_time(start, "--start"), end=_time(end, "--end")))
