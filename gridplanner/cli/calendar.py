"""``gridplanner calendar``: the working-day calendar (工作日) — import a year's holidays and make-up working
days, list them, count working days."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.cli.staff import err, out

calendar_app = typer.Typer(help="The working-day calendar (工作日): public holidays and make-up working days (调休).", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")


@calendar_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX: 日期, 类型 (放假/上班), 名称.", show_default=False)],
    by: Annotated[str, typer.Option("--by", help="Who loads it (recorded).")],
) -> None:
    """Load a year's holidays and make-up working days, all or nothing (a date already listed is replaced)."""
    from gridplanner.gridwork.calendar_store import import_calendar

    if not file.is_file():
        err.print(f"[red]error:[/] 没有文件 {escape(str(file))} (no such file)")
        raise typer.Exit(2)
    with store_transaction("imported") as session:
        report = import_calendar(session, file.read_bytes(), file.name, actor=by)
    out.print(f"[green]✓[/] {escape(report.source)}: {report.holidays} 个放假日 (holidays), {report.workdays} 个调休上班日 (make-up working days), {report.first} … {report.last}")


@calendar_app.command("list")
def list_cmd(year: Annotated[Optional[int], typer.Option("--year")] = None) -> None:
    """The days listed (the weekday rule holds for every other day)."""
    from gridplanner.gridwork.calendar_store import list_days

    with store_transaction() as session:
        days = list_days(session, year)
    if not days:
        out.print("日历中没有节假日 (no days listed: weekends off, weekdays worked)")
    for d in days:
        out.print("\t".join((str(d["day"]), "放假" if d["kind"] == "holiday" else "上班", escape(d["name"] or ""))))


@calendar_app.command("add")
def add_cmd(
    start: Annotated[str, typer.Argument(help="A date, YYYY-MM-DD.", show_default=False)],
    days: Annotated[int, typer.Argument(help="Working days to add.", show_default=False)],
) -> None:
    """The date that many working days after START."""
    from gridplanner.gridwork.calendar_store import load_calendar
    from gridplanner.gridwork.workdays import add_working_days

    try:
        day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"{start!r}: a date such as 2026-09-30") from None
    with store_transaction() as session:
        out.print(str(add_working_days(day, days, load_calendar(session))))
