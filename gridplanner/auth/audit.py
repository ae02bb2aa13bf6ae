"""The audit log: one row per change, in the transaction of the change (a rolled-back change leaves none)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gridplanner.store import models as m


def record(session: Session, actor: str, action: str, entity: str, entity_id: object = None, detail: dict | None = None) -> None:
    session.add(m.AuditEntry(actor=actor, action=action, entity=entity, entity_id=None if entity_id is None else str(entity_id), detail=detail or {}))
