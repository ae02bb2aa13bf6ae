"""``gridplanner items``: the 网格事项清单 — list, propose, admit, exit, XLSX import and export.

The CLI is run by an operator of the store (as every other command group), so it takes the names to record
(``--by``) rather than checking roles; over HTTP only admins admit, exit and import."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.cli.staff import err, out

items_app = typer.Typer(help="The catalogue of grid items (网格事项清单): propose, admit (准入), exit (退出), XLSX import and export.", no_args_is_help=True)
app.add_typer(items_app, name="items")

By = Annotated[str, typer.Option("--by", help="Who takes the step (recorded).")]
On = Annotated[Optional[str], typer.Option("--on", help="Date of the step, YYYY-MM-DD (default: today in Beijing).")]


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--on {value!r}: a date such as 2026-12-01") from None


@items_app.command("list")
def list_cmd(status: Annotated[Optional[str], typer.Option(help="proposed, admitted or exited")] = None, department: Annotated[Optional[str], typer.Option(help="Owning department.")] = None) -> None:
    """The items, with status and admission record."""
    from gridplanner.gridwork.admission import STATUS_ZH
    from gridplanner.gridwork.catalogue import list_items

    with store_transaction() as session:
        items = list_items(session, status=status, department=department)
    if not items:
        out.print("网格事项清单为空 (no grid items)")
        return
    # One tab-separated line per item, header first: readable at any terminal width and easy to pipe.
    out.print("\t".join(("编码", "名称", "责任部门", "类别", "职责", "时限(工作日)", "状态", "批准人", "准入日期", "退出日期")))
    for i in items:
        out.print("\t".join(escape(str(v or "")) for v in (i.code, i.name, i.department, i.category, i.worker_role, i.time_limit_days, STATUS_ZH[i.status], i.approved_by, i.admitted_on, i.exited_on)))


@items_app.command("propose")
def propose_cmd(
    code: Annotated[str, typer.Argument(help="Item code: letters, digits, '-', '_'.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="事项名称.")],
    department: Annotated[str, typer.Option("--department", help="责任部门 (the owner).")],
    category: Annotated[str, typer.Option("--category", help="A category of the incident catalogue.")],
    worker_role: Annotated[str, typer.Option("--worker-role", help="发现, 上报, 协助 or 办理.")],
    days: Annotated[int, typer.Option("--days", help="Time limit in working days.")],
    by: By,
    description: Annotated[Optional[str], typer.Option("--description")] = None,
    on: On = None,
) -> None:
    """Propose an item (拟准入)."""
    from gridplanner.gridwork.catalogue import propose

    with store_transaction() as session:
        item = propose(session, code=code, name=name, department=department, category=category, worker_role=worker_role, time_limit_days=days, description=description, actor=by, on=_date(on))
    out.print(f"[green]✓[/] 拟准入 {escape(item.code)} {escape(item.name)} (proposed)")


@items_app.command("admit")
def admit_cmd(code: Annotated[str, typer.Argument(show_default=False)], by: By, on: On = None) -> None:
    """准入: the item enters grid work, approved by --by."""
    from gridplanner.gridwork.catalogue import admit

    with store_transaction() as session:
        item = admit(session, code, approved_by=by, on=_date(on))
    out.print(f"[green]✓[/] 已准入 {escape(item.code)} on {item.admitted_on} by {escape(item.approved_by or '')} (admitted)")


@items_app.command("exit")
def exit_cmd(code: Annotated[str, typer.Argument(show_default=False)], reason: Annotated[str, typer.Option("--reason", help="退出原因.")], by: By, on: On = None) -> None:
    """退出: the item leaves grid work; it can no longer be assigned."""
    from gridplanner.gridwork.catalogue import exit_item

    with store_transaction() as session:
        item = exit_item(session, code, reason=reason, actor=by, on=_date(on))
    out.print(f"[green]✓[/] 已退出 {escape(item.code)} on {item.exited_on} (exited)")


@items_app.command("import")
def import_cmd(file: Annotated[Path, typer.Argument(help="XLSX: 事项编码, 事项名称, 责任部门, 类别, 网格员职责, 办理时限（工作日）…", show_default=False)], by: By) -> None:
    """Import a workbook of items, all or nothing."""
    from gridplanner.gridwork.workbook import import_items

    if not file.is_file():
        err.print(f"[red]error:[/] 没有文件 {escape(str(file))} (no such file)")
        raise typer.Exit(2)
    with store_transaction("imported") as session:
        report = import_items(session, file.read_bytes(), file.name, actor=by)
    out.print(f"[green]✓[/] {escape(report.source)}: {report.inserted} 新增 (inserted), {report.updated} 更新 (updated), {report.unchanged} 未变 (unchanged)")


@items_app.command("export")
def export_cmd(out_path: Annotated[Path, typer.Option("--out", help="grid-items.xlsx")], status: Annotated[Optional[str], typer.Option(help="proposed, admitted or exited")] = None) -> None:
    """Export the list as XLSX; the file can be imported again."""
    from gridplanner.gridwork.workbook import export_items

    if out_path.suffix.lower() != ".xlsx":
        raise typer.BadParameter(f"--out must end in .xlsx, got {out_path.name}")
    with store_transaction() as session:
        data = export_items(session, status=status)
    out_path.write_bytes(data)
    out.print(f"[green]✓[/] wrote {escape(str(out_path))}")
