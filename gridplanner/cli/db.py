"""``gridplanner db``: the embedded cluster and the schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from gridplanner.cli import app
from gridplanner.settings import get_settings
from gridplanner.store.cluster import Cluster, ClusterError

db_app = typer.Typer(help="The database: embedded PostGIS cluster (without DATABASE_URL) and schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True, soft_wrap=True)


def _cluster() -> Cluster:
    settings = get_settings()
    if not settings.embedded:
        console.print("[yellow]DATABASE_URL is set: the embedded cluster is not used[/]")
        raise typer.Exit(1)
    return Cluster(settings)


def ensure_database() -> None:
    """Start the embedded cluster when it is the one in use, then bring the schema up to date."""
    from gridplanner.store.database import upgrade

    settings = get_settings()
    try:
        if settings.embedded:
            Cluster(settings).start()
        upgrade()
    except ClusterError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


@contextmanager
def store_transaction(nothing: str = "written") -> Iterator[Session]:
    """A store session committed when the block succeeds; bad input (ValueError, which file errors are, or
    LookupError) is printed with every problem and exits 2, with nothing {nothing}."""
    from gridplanner.store.database import session_scope

    ensure_database()
    try:
        with session_scope() as session:
            yield session
    except (ValueError, LookupError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}\n[red]nothing was {nothing}.[/]")
        raise typer.Exit(2) from None


@db_app.command()
def start() -> None:
    """Initialise (first time) and start the embedded PostGIS cluster, and upgrade the schema."""
    ensure_database()
    cluster = Cluster(get_settings())
    typer.echo(cluster.url if get_settings().embedded else "using DATABASE_URL")


@db_app.command()
def stop() -> None:
    """Stop the embedded cluster."""
    _cluster().stop()
    typer.echo("stopped")


@db_app.command()
def status() -> None:
    """Say whether the database answers, with PostgreSQL and PostGIS versions and the schema revision."""
    from sqlalchemy import text

    from gridplanner.store.database import database_url, get_engine, server_versions

    settings = get_settings()
    if settings.embedded:
        cluster = Cluster(settings)
        state = "running" if cluster.initialised() and cluster.running() else "stopped"
        typer.echo(f"embedded cluster: {state} ({cluster.data_dir}, port {settings.pg_port})")
        if state == "stopped":
            raise typer.Exit(1)
    try:
        with get_engine().connect() as conn:
            versions = server_versions(conn)
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none() if conn.dialect.has_table(conn, "alembic_version") else None
    except Exception as exc:
        console.print(f"[red]database not reachable at {database_url()}: {exc}[/]")
        raise typer.Exit(1) from None
    typer.echo(f"PostgreSQL {versions['postgres']}, PostGIS {versions['postgis']}, schema revision {rev or 'none'}")


@db_app.command()
def upgrade() -> None:
    """Apply Alembic migrations up to the newest revision."""
    ensure_database()
    typer.echo("schema up to date")


@db_app.command()
def url() -> None:
    """Print the SQLAlchemy URL in use."""
    from gridplanner.store.database import database_url

    typer.echo(database_url())
