"""The published plan as the rest of the product sees it: its id, its grid codes and grids, the grids staff and
incidents are attached to (codes are stable across plans)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session


class UnknownGridError(ValueError):
    """A grid code that no grid of the published plan holds."""


def published_plan_id(session: Session) -> int | None:
    return session.execute(text("SELECT id FROM grid_plans WHERE status = 'published'")).scalar_one_or_none()


def published_codes(session: Session) -> set[str]:
    rows = session.execute(text("SELECT g.code FROM grids g JOIN grid_plans p ON p.id = g.plan_id WHERE p.status = 'published' AND g.code IS NOT NULL"))
    return {r[0] for r in rows}


def check_grid_code(session: Session, code: str | None) -> str | None:
    """``code`` when the published plan holds it (None passes: unassigned); else :class:`UnknownGridError`."""
    if code is None:
        return None
    code = str(code).strip()
    found = session.execute(
        text("SELECT 1 FROM grids g JOIN grid_plans p ON p.id = g.plan_id WHERE p.status = 'published' AND g.code = :c"), {"c": code}
    ).first()
    if found is None:
        if published_plan_id(session) is None:
            raise UnknownGridError(f"unknown grid code {code!r}: no plan is published yet")
        raise UnknownGridError(f"unknown grid code {code!r}: no grid of the published plan has it")
    return code


def published_grids(session: Session) -> pd.DataFrame:
    """Code, community, type, households and population of every grid of the published plan."""
    rows = session.execute(
        text(
            """SELECT g.code, g.community_code, g.type, g.households, g.population
               FROM grids g JOIN grid_plans p ON p.id = g.plan_id
               WHERE p.status = 'published' AND g.code IS NOT NULL ORDER BY g.code"""
        )
    ).all()
    return pd.DataFrame(rows, columns=["code", "community_code", "type", "households", "population"])
