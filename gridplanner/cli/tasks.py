"""``gridplanner tasks``: send an admitted grid item to every grid in an area, and follow a batch per grid."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.cli.staff import err, out

tasks_app = typer.Typer(help="Tasks sent by area (按区域下发任务): one task per grid in a drawn area for an admitted grid item.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")


@tasks_app.command("send")
def send_cmd(
    item: Annotated[str, typer.Option("--item", help="Code of an admitted grid item.")],
    due: Annotated[str, typer.Option("--due", help="Deadline, ISO 8601 with offset: 2026-12-10T18:00:00+08:00.")],
    by: Annotated[str, typer.Option("--by", help="Who sends (recorded).")],
    area: Annotated[Optional[Path], typer.Option("--area", help="GeoJSON file: a Polygon or MultiPolygon, or a Feature / FeatureCollection of one.")] = None,
    street: Annotated[Optional[list[str]], typer.Option("--street", help="9-digit street code (repeatable), instead of --area.")] = None,
    community: Annotated[Optional[list[str]], typer.Option("--community", help="12-digit community code (repeatable), instead of --area.")] = None,
    grid: Annotated[Optional[list[str]], typer.Option("--grid", help="Grid code (repeatable), instead of --area.")] = None,
    instructions: Annotated[Optional[str], typer.Option("--instructions")] = None,
) -> None:
    """Send one task per grid of the published plan in the area (or the streets, communities, grids), all in one transaction."""
    from gridplanner.gridwork.tasks import send_tasks

    geo = None
    if area is not None:
        try:
            geo = json.loads(area.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            err.print(f"[red]error:[/] {escape(str(area))}: 不是可读的 GeoJSON (not readable GeoJSON: {escape(str(exc))})")
            raise typer.Exit(2) from None
    if isinstance(geo, dict) and geo.get("type") == "FeatureCollection":
        features = geo.get("features") or []
        if len(features) != 1:
            raise typer.BadParameter(f"--area: a FeatureCollection of exactly one area, got {len(features)} features")
        geo = features[0]
    try:
        due_at = datetime.fromisoformat(due)
    except ValueError:
        raise typer.BadParameter(f"--due {due!r}: ISO 8601 such as 2026-12-10T18:00:00+08:00") from None
    with store_transaction() as session:
        sent = send_tasks(session, item_code=item, area=geo, street_codes=street, community_codes=community, grid_codes=grid, due_at=due_at, instructions=instructions, actor=by)
    out.print(f"[green]✓[/] batch {sent['batch_id']}: {sent['grids']} 个网格已下发 (tasks sent) for {escape(sent['item_code'])} {escape(sent['item_name'])}"
              + (f", {sent['grids_without_worker']} 个网格无专职网格员 (without a full-time worker)" if sent["grids_without_worker"] else ""))


@tasks_app.command("status")
def status_cmd(batch: Annotated[int, typer.Argument(help="Batch id.", show_default=False)]) -> None:
    """Each grid's task of a batch: status, who acknowledged and completed, overdue."""
    from gridplanner.gridwork.task_rules import TASK_STATUS_ZH
    from gridplanner.gridwork.tasks import batch_view

    with store_transaction() as session:
        view = batch_view(session, batch)
    c = view["counts"]
    out.print(f"batch {view['batch_id']} {escape(view['item_code'])}, due {view['due_at']}: {c['sent']} 已下发, {c['acknowledged']} 已签收, {c['completed']} 已完成, {c['overdue']} 超时 (overdue)")
    out.print("\t".join(("网格", "状态", "网格员", "签收", "完成", "超时")))
    for t in view["tasks"]:
        out.print("\t".join(escape(str(v or "")) for v in (t["grid_code"], TASK_STATUS_ZH[t["status"]], t["staff_name"], t["acknowledged_at"], t["completed_at"], "超时" if t["overdue"] else "")))
