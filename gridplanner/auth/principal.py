"""Who is making a request: a user (web session) or an API key."""

from __future__ import annotations

from dataclasses import dataclass, field

#: ``staff``: a grid worker's account (linked to the roster): acknowledges and completes their grid's tasks.
#: ``department``: a department's account (tied to its name in the catalogue of grid items): acknowledges and
#: answers the escalations (吹哨报到) sent to that department, and sees no others.
ROLES = ("admin", "planner", "viewer", "staff", "department")
#: ``lookup``: the lookups other systems need (point/batch lookup, one grid, codes); ``read``: every GET;
#: ``open311``: the Open311 GeoReport v2 routes, the one place a key may write (file a service request).
SCOPES = ("lookup", "read", "open311")


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "key"
    name: str  # user name, or "key:<id>"
    role: str | None = None  # users only
    districts: tuple[str, ...] = ()
    scopes: tuple[str, ...] = field(default_factory=tuple)  # keys only
    id: int | None = None
    staff_id: int | None = None  # staff accounts: their roster row
    department: str | None = None  # department accounts: the department they act for

    @property
    def actor(self) -> str:
        """The name the audit log records."""
        return self.name

    @property
    def is_key(self) -> bool:
        return self.kind == "key"

    def may_write_district(self, district_code: str) -> bool:
        if self.is_key:
            return False
        return self.role == "admin" or (self.role == "planner" and district_code in self.districts)

    def has_scope(self, scope: str) -> bool:
        """Users see everything read-only; a key needs the scope (``read`` includes ``lookup``)."""
        if not self.is_key:
            return True
        return scope in self.scopes or (scope == "lookup" and "read" in self.scopes)
