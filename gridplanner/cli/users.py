"""``gridplanner users``: accounts (admin / planner / viewer) and API keys; ``gridplanner plans rollback``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridplanner.cli import app
from gridplanner.cli.db import ensure_database

users_app = typer.Typer(help="Accounts and API keys (docs/security.md).", no_args_is_help=True)
key_app = typer.Typer(help="API keys for other systems: read-only, shown once, stored hashed.", no_args_is_help=True)
plans_app = typer.Typer(help="Published plans: roll back to an earlier version.", no_args_is_help=True)
users_app.add_typer(key_app, name="key")
app.add_typer(users_app, name="users")
app.add_typer(plans_app, name="plans")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def _session() -> Iterator[Session]:
    """A committed-on-success session; a refused operation prints why and exits 2 with nothing written."""
    from gridplanner.auth.accounts import AccountError
    from gridplanner.plans import PlanError
    from gridplanner.store.database import session_scope

    ensure_database()
    try:
        with session_scope() as session:
            yield session
    except (AccountError, PlanError, LookupError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _password(given: str | None, confirm: bool = True) -> str:
    return given if given is not None else typer.prompt("password", hide_input=True, confirmation_prompt=confirm)


@users_app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option(help="admin, planner, viewer, staff or department")] = "viewer",
    district: Annotated[Optional[list[str]], typer.Option(help="6-digit district a planner may edit (repeatable)")] = None,
    password: Annotated[Optional[str], typer.Option(help="prompted for when absent (at least 8 characters)")] = None,
    staff_id: Annotated[Optional[int], typer.Option("--staff-id", help="role staff: the worker's roster id (GET /api/v1/staff)")] = None,
    department: Annotated[Optional[str], typer.Option("--department", help="role department: the department's name as the catalogue of grid items spells it")] = None,
) -> None:
    """Create an account."""
    from gridplanner.auth.accounts import create_user

    secret = _password(password)
    with _session() as s:
        create_user(s, name, secret, role, district or [], staff_id=staff_id, department=department)
    out.print(f"[green]✓[/] {name}: {role}" + (f", districts {', '.join(district)}" if district else ""))


@users_app.command("list")
def list_users() -> None:
    """Accounts and API keys."""
    from gridplanner.store import models as m

    with _session() as s:
        users = s.scalars(select(m.User).order_by(m.User.username)).all()
        keys = s.scalars(select(m.ApiKey).order_by(m.ApiKey.id)).all()
    table = Table("user", "role", "districts", "active")
    for u in users:
        table.add_row(u.username, u.role, ", ".join(u.districts or []), "yes" if u.active else "no")
    out.print(table)
    ktable = Table("key id", "starts with", "owner", "scopes", "revoked")
    for k in keys:
        ktable.add_row(str(k.id), k.prefix + "…", k.owner, ", ".join(k.scopes), str(k.revoked_at or ""))
    out.print(ktable)


@users_app.command("passwd")
def passwd(name: str, password: Annotated[Optional[str], typer.Option(help="prompted for when absent")] = None) -> None:
    """Set a new password (ends the account's open sessions)."""
    from gridplanner.auth.accounts import set_password

    secret = _password(password)
    with _session() as s:
        set_password(s, name, secret)
    out.print(f"[green]✓[/] new password for {name}")


@users_app.command("disable")
def disable(name: str) -> None:
    """Disable an account (its sessions end at once)."""
    from gridplanner.auth.accounts import disable_user

    with _session() as s:
        disable_user(s, name)
    out.print(f"[green]✓[/] {name} disabled")


@key_app.command("create")
def key_create(owner: str, scope: Annotated[Optional[list[str]], typer.Option(help="lookup (default), read or open311 (file and follow Open311 requests); repeatable")] = None) -> None:
    """Create an API key for OWNER (a system's name) and print it once."""
    from gridplanner.auth.accounts import create_key

    with _session() as s:
        key, token = create_key(s, owner, scope or ["lookup"])
        key_id, scopes = key.id, key.scopes
    err.print(f"key {key_id} for {owner}, scopes {', '.join(scopes)}; it is shown once only, send it in the X-API-Key header:")
    print(token)


@key_app.command("revoke")
def key_revoke(key_id: int) -> None:
    """Revoke an API key by its id (`gridplanner users list`)."""
    from gridplanner.auth.accounts import revoke_key

    with _session() as s:
        revoke_key(s, key_id)
    out.print(f"[green]✓[/] key {key_id} revoked")


@plans_app.command("rollback")
def rollback(version: int, actor: Annotated[str, typer.Option(help="the name written to the audit log")] = "cli") -> None:
    """Publish again the grids of the plan published as VERSION, under a new version number."""
    from gridplanner.plans.rollback import rollback as do_rollback

    with _session() as s:
        plan = do_rollback(s, version=version, actor=actor)
        new_id, new_version = plan.id, plan.version
    out.print(f"[green]✓[/] version {version} published again as plan {new_id}, version {new_version}")
