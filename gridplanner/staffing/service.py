"""Creating, changing, assigning and removing grid workers one at a time, each change audited."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.store.published import check_grid_code
from gridplanner.staffing.validation import clean_name, clean_phone, clean_role, mask_id_number
from gridplanner.store import models as m


class StaffNotFound(LookupError):
    pass


def get_staff(session: Session, staff_id: int) -> m.Staff:
    staff = session.get(m.Staff, staff_id)
    if staff is None:
        raise StaffNotFound(f"no staff member {staff_id}")
    return staff


def create_staff(session: Session, *, name: str, phone: str, role: str, grid_code: str | None = None, id_number: str | None = None, actor: str = "system") -> m.Staff:
    staff = m.Staff(
        name=clean_name(name), phone=clean_phone(phone), role=clean_role(role),
        grid_code=check_grid_code(session, grid_code), id_number_masked=mask_id_number(id_number), active=True,
    )
    session.add(staff)
    session.flush()
    _audit(session, actor, "create", staff.id, {"role": staff.role, "grid_code": staff.grid_code})
    return staff


def update_staff(session: Session, staff_id: int, changes: dict, *, actor: str = "system") -> m.Staff:
    """Apply ``changes`` (any of name, phone, role, grid_code, id_number, active); grid_code None unassigns."""
    staff = get_staff(session, staff_id)
    cleaners = {"name": clean_name, "phone": clean_phone, "role": clean_role}
    for key, value in changes.items():
        if key in cleaners:
            setattr(staff, key, cleaners[key](value))
        elif key == "id_number":
            staff.id_number_masked = mask_id_number(value)
        elif key == "active":
            staff.active = bool(value)
        elif key != "grid_code":
            raise ValueError(f"unknown staff field {key!r}")
    if "grid_code" in changes:
        _assign(session, staff, changes["grid_code"], actor)
    session.flush()
    _audit(session, actor, "update", staff.id, {k: v for k, v in changes.items() if k != "id_number"})
    return staff


def assign(session: Session, staff_id: int, grid_code: str | None, *, actor: str = "system") -> m.Staff:
    """Put a worker in a grid of the published plan (None: unassigned)."""
    staff = get_staff(session, staff_id)
    _assign(session, staff, grid_code, actor)
    session.flush()
    _audit(session, actor, "assign", staff.id, {"grid_code": staff.grid_code})
    return staff


def _assign(session: Session, staff: m.Staff, grid_code: str | None, actor: str) -> None:
    staff.grid_code = check_grid_code(session, grid_code)
    # A person placing the worker settles whatever a plan publication left open about them.
    session.execute(
        text("UPDATE reassignment_issues SET settled_at = now(), settled_by = :a WHERE entity = 'staff' AND entity_id = :i AND settled_at IS NULL"),
        {"a": actor, "i": staff.id},
    )


def delete_staff(session: Session, staff_id: int, *, actor: str = "system") -> None:
    """Remove a worker; incidents assigned to them become unassigned (their grid keeps them)."""
    staff = get_staff(session, staff_id)
    _audit(session, actor, "delete", staff.id, {"name": staff.name, "role": staff.role, "grid_code": staff.grid_code})
    session.delete(staff)
    session.flush()


def _audit(session: Session, actor: str, action: str, staff_id: int, detail: dict) -> None:
    record(session, actor, action, "staff", staff_id, detail)
