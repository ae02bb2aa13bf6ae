"""``gridplanner assessment``: the month's 响应评价 table per department, street, community or grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.cli.staff import out

assessment_app = typer.Typer(help="响应评价: the month's ranking of departments, streets, communities or grids.", no_args_is_help=True)
app.add_typer(assessment_app, name="assessment")


@assessment_app.command("show")
def show_cmd(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (Beijing time).")],
    by: Annotated[str, typer.Option("--by", help="department, street, community or grid.")] = "department",
    xlsx: Annotated[Optional[Path], typer.Option("--out", help="Also write the table as XLSX.")] = None,
) -> None:
    """The ranked table; with --out, the workbook as well."""
    from gridplanner.gridwork.assessment import assess, export_xlsx

    if xlsx is not None and xlsx.suffix.lower() != ".xlsx":
        raise typer.BadParameter(f"--out must end in .xlsx, got {xlsx.name}")
    with store_transaction("computed") as session:
        table = assess(session, month, by)
    out.print("\t".join(("排名", "单位", "综合按时率", "按时报到率", "按时结案率", "返工", "满意度")))
    for r in table["rows"]:
        out.print("\t".join(escape(str(v if v is not None else "")) for v in (r["rank"], r["key"], r["on_time_rate"], r["ack_on_time_rate"], r["closed_on_time_rate"], r["reopened"], r["satisfaction"])))
    if xlsx is not None:
        xlsx.write_bytes(export_xlsx(table))
        out.print(f"[green]✓[/] wrote {escape(str(xlsx))}")
