"""``gridplanner escalations``: 吹哨报到 — escalate an incident to departments, list escalations (overdue ones)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from gridplanner.cli import app
from gridplanner.cli.db import store_transaction
from gridplanner.cli.staff import out

esc_app = typer.Typer(help="吹哨报到: escalations of incidents to the departments owning grid items.", no_args_is_help=True)
app.add_typer(esc_app, name="escalations")


@esc_app.command("raise")
def raise_cmd(
    incident: Annotated[int, typer.Argument(help="Incident id (in 派遣 or 处置).", show_default=False)],
    item: Annotated[list[str], typer.Option("--item", help="Admitted grid item whose department is escalated to (repeatable).")],
    reason: Annotated[str, typer.Option("--reason", help="吹哨事由.")],
    by: Annotated[str, typer.Option("--by", help="Who blows the whistle (recorded).")],
) -> None:
    """吹哨: escalate the incident to each item's owning department."""
    from gridplanner.gridwork.escalations import escalate

    with store_transaction() as session:
        made = escalate(session, incident, item_codes=item, reason=reason, actor=by)
    for e in made:
        out.print(f"[green]✓[/] escalation {e['id']}: {escape(e['department'])}, 报到 by {e['ack_due_at']}, 反馈 by {e['respond_due_at']}")


@esc_app.command("list")
def list_cmd(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past a limit and not answered.")] = False,
    department: Annotated[Optional[str], typer.Option("--department")] = None,
) -> None:
    """Escalations newest first: department, status, deadlines, overdue."""
    from gridplanner.gridwork.escalation_rules import STATUS_ZH
    from gridplanner.gridwork.escalations import list_escalations

    with store_transaction() as session:
        total, rows = list_escalations(session, department=department, overdue=True if overdue else None, limit=1000)
    out.print(f"{total} 条吹哨 (escalations)")
    for r in rows:
        flag = "报到超时" if r["ack_overdue"] else ("反馈超时" if r["response_overdue"] else "")
        out.print("\t".join(escape(str(v or "")) for v in (r["id"], r["incident_id"], r["department"], STATUS_ZH[r["status"]], r["ack_due_at"], r["respond_due_at"], flag)))
