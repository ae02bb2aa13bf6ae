"""Seed a store for the browser tests and for working on the web app: the sample district planned and published,
its staff roster and hotline incidents, and one account per role when the accounts module is present.

Run by tests/test_web_e2e.py; by hand: ``DATABASE_URL=... .venv/bin/python -m tests.e2e.seed``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "boundaries"
PASSWORD = "gridplanner-e2e"
DISTRICT = "330106"
USERS = [("admin", "admin"), ("planner", "planner"), ("planner2", "planner"), ("viewer", "viewer")]


def seed_store(session: Session) -> dict:
    """Load, plan (a few communities, to keep the run short) and publish; staff and incidents on top."""
    from gridplanner import plans
    from gridplanner.importing.sample import load_sample, load_sample_work

    load_sample(session, SAMPLE)
    plan = plans.create_draft(session, "示范区网格方案", from_published=False, actor="e2e")
    report = plans.divide_into_draft(session, plan.id, actor="e2e")
    plans.publish(session, plan.id, actor="e2e")
    # As `gridplanner demo` loads them.
    roster, hotline = load_sample_work(session, SAMPLE, actor="e2e")
    return {"plan_id": plan.id, "grids": sum(c["grids"] for c in report["communities"]), "roster": roster, "hotline": hotline}


def create_users(session: Session) -> bool:
    """One account per role (and a second planner for the conflict test); False without the accounts module."""
    try:
        accounts = importlib.import_module("gridplanner.auth.accounts")
    except ImportError:
        return False
    for name, role in USERS:
        accounts.create_user(session, name, PASSWORD, role, districts=[DISTRICT] if role != "admin" else [])
    return True


if __name__ == "__main__":
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        out = seed_store(s)
    with session_scope() as s:
        users = create_users(s)
    print(out["plan_id"], out["grids"], "users" if users else "no accounts module", file=sys.stderr)
