"""``gridplanner serve`` and ``gridplanner demo``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gridplanner.cli import app
from gridplanner.cli.db import ensure_database
from gridplanner.settings import get_settings

console = Console(soft_wrap=True)
HostOpt = Annotated[Optional[str], typer.Option(help="Default 127.0.0.1 (GRIDPLANNER_HOST).")]
PortOpt = Annotated[Optional[int], typer.Option(help="Default 8000 (GRIDPLANNER_PORT).")]


def _run_server(host: str | None, port: int | None, workers: int = 1) -> None:
    from gridplanner.api import server

    settings = get_settings()
    # Not uvicorn.run: with several workers its shared socket left Nagle on (40 ms a request); see gridplanner.api.server.
    server.run(host or settings.host, port or settings.port, workers, log_level="info")


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None, workers: Annotated[int, typer.Option(help="Worker processes.")] = 1) -> None:
    """Serve the API (/api/v1, docs at /docs) and the web map (/)."""
    ensure_database()
    _run_server(host, port, workers)


@app.command()
def demo(host: HostOpt = None, port: PortOpt = None) -> None:
    """Start the store, load the sample district and plan its grids (first time only), then serve."""
    from sqlalchemy import func, select

    from gridplanner import plans
    from gridplanner.cli.importing import import_transaction, print_report
    from gridplanner.importing.sample import load_sample
    from gridplanner.store import models as m
    from gridplanner.store.database import session_scope

    settings = get_settings()
    ensure_database()
    with session_scope() as session:
        loaded = session.execute(select(func.count()).select_from(m.Community)).scalar_one() > 0
    if loaded:
        console.print("[dim]sample district already loaded[/]")
    else:
        console.print(f"loading the sample district from {settings.sample_dir}")
        with import_transaction() as session:
            reports = load_sample(session, settings.sample_dir)
        for report in reports:
            print_report(report)

    with session_scope() as session:
        published = plans.published_plan(session)
    if published is not None:
        console.print(f"[dim]published plan {published.id} ({published.name}) already in place[/]")
    else:
        with session_scope() as session, _bar() as bar:
            task = bar.add_task("planning grids", total=None)
            plan = plans.create_draft(session, "示范区网格方案（自动划分）", from_published=False, actor="demo")
            report = plans.divide_into_draft(session, plan.id, progress=lambda done, total: bar.update(task, completed=done, total=total), actor="demo")
            plans.publish(session, plan.id, actor="demo")
        n = sum(c["grids"] for c in report["communities"])
        console.print(f"[green]✓[/] planned and published {n} grids in {len(report['communities'])} communities ({len(report['out_of_bounds'])} outside the size rule, see the plan report)")

    # The roster and incidents name grid codes and fall in grids: loaded once the grids are published, so that
    # the dashboard, the staffing and incident layers have data (only when the store has none of either).
    with session_scope() as session:
        has_work = session.execute(select(func.count()).select_from(m.Staff)).scalar_one() > 0 or \
            session.execute(select(func.count()).select_from(m.Incident)).scalar_one() > 0
    if not has_work:
        from gridplanner.importing.sample import load_sample_work

        with session_scope() as session:
            roster, incidents = load_sample_work(session, settings.sample_dir, actor="demo")
        console.print(f"[green]✓[/] staff: {roster.inserted} workers" + (f" ({len(roster.unassigned)} unassigned: their grid codes are not in the plan)" if roster.unassigned else "")
                      + f"; incidents: {incidents.inserted}" + (f" ({incidents.no_grid} in no grid)" if incidents.no_grid else ""))

    from gridplanner.gridwork import sample as gridwork_sample

    # The grid work's sample data, each loaded into a store that has none of it, in the order they build on
    # each other (items before the escalations to their departments); a loader returns how many it added.
    department = gridwork_sample.DEMO_DEPARTMENT
    for load, said in (
        (gridwork_sample.load_sample_items, "网格事项清单: {} sample grid items (admitted, one proposed, one exited)"),
        (gridwork_sample.load_sample_calendar, "工作日历: {} days of the 2026 public holidays and make-up working days"),
        (gridwork_sample.load_sample_escalations, f"吹哨报到: {{}} sample escalations; department account {department[0]} ({department[1]})"),
        (gridwork_sample.load_sample_patrols, "巡查走访: {} sample patrol visits with tracks"),
    ):
        with session_scope() as session:
            added = load(session)
        if added:
            console.print("[green]✓[/] " + said.format(added))

    from gridplanner.auth import ensure_demo_accounts

    with session_scope() as session:
        accounts = ensure_demo_accounts(session)
    console.print("demo accounts (docs/security.md): " + ", ".join(f"{name} / {pw}" for name, pw in accounts.items()))

    base = f"http://{host or settings.host}:{port or settings.port}"
    console.print(
        f"\n[bold]Gridplanner is starting.[/] Look at:\n"
        f"  web map      {base}/\n  API docs     {base}/docs\n  health       {base}/api/v1/health\n"
        f"  plans        {base}/api/v1/plans\n(Ctrl-C stops the server; `gridplanner db stop` stops the database.)\n"
    )
    _run_server(host, port)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)
