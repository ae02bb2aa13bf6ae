"""Accounts and API keys in the store: create, authenticate, disable; keys shown once and kept hashed."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gridplanner.auth.keycache import KEYS
from gridplanner.auth.passwords import hash_password, verify_password
from gridplanner.auth.principal import ROLES, SCOPES, Principal
from gridplanner.settings import get_settings
from gridplanner.store import models as m

DEMO_PASSWORD = "gridplanner-demo"
DEMO_ACCOUNTS = {"admin": ("admin", []), "planner": ("planner", ["330106"]), "viewer": ("viewer", [])}
KEY_PREFIX = "gpk_"
_DISTRICT = re.compile(r"^\d{6}$")
_NAME = re.compile(r"^[\w.@-]{1,64}$")


class AccountError(ValueError):
    """A bad account operation: unknown role, malformed district, duplicate name ..."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check(username: str, role: str, districts: list[str]) -> None:
    if not _NAME.match(username):
        raise AccountError(f"user name {username!r}: 1-64 letters, digits, '.', '@', '-' or '_'")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    bad = [d for d in districts if not _DISTRICT.match(d)]
    if bad:
        raise AccountError(f"district codes are 6 digits (GB/T 2260): {bad}")
    if role == "planner" and not districts:
        raise AccountError("a planner needs at least one district (--district 330106)")


def create_user(session: Session, username: str, password: str, role: str, districts: list[str] | None = None, staff_id: int | None = None,
                department: str | None = None) -> m.User:
    districts = list(districts or [])
    _check(username, role, districts)
    if (role == "staff") != (staff_id is not None):
        raise AccountError("a staff account needs --staff-id (the roster row), and only a staff account has one")
    department = (department or "").strip() or None
    if (role == "department") != (department is not None):
        raise AccountError("a department account needs --department (the department's name in the catalogue of grid items), and only a department account has one")
    if department is not None and not session.execute(select(m.GridItem.code).where(m.GridItem.department == department).limit(1)).first():
        # The name must be the catalogue's: escalations are addressed by it, a typo would see none of them.
        known = sorted(set(session.scalars(select(m.GridItem.department))))
        raise AccountError(f"no grid item is owned by {department!r}; departments of the catalogue: {', '.join(known) or 'none'}")
    if staff_id is not None and session.get(m.Staff, staff_id) is None:
        raise AccountError(f"no staff member {staff_id} in the roster")
    if session.execute(select(m.User.id).where(m.User.username == username)).first():
        raise AccountError(f"user {username!r} exists already")
    user = m.User(username=username, password_hash=hash_password(password), role=role, districts=districts, active=True, staff_id=staff_id, department=department)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> m.User:
    user = session.execute(select(m.User).where(m.User.username == username)).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def set_password(session: Session, username: str, password: str) -> None:
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    # A new password ends every open session of the account.
    session.execute(m.UserSession.__table__.delete().where(m.UserSession.user_id == user.id))


def disable_user(session: Session, username: str) -> None:
    user = get_user(session, username)
    user.active = False
    session.execute(m.UserSession.__table__.delete().where(m.UserSession.user_id == user.id))


def authenticate(session: Session, username: str, password: str) -> m.User | None:
    """The active user with this password, or None (same answer, same cost, for an unknown name)."""
    user = session.execute(select(m.User).where(m.User.username == username)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None and user.active else None


def user_principal(user: m.User) -> Principal:
    return Principal(kind="user", name=user.username, role=user.role, districts=tuple(user.districts or ()), id=user.id, staff_id=user.staff_id, department=user.department)


def create_key(session: Session, owner: str, scopes: list[str]) -> tuple[m.ApiKey, str]:
    """A new API key: the row and the key itself, which is never stored and cannot be shown again."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise AccountError(f"scopes: one or more of {', '.join(SCOPES)} (keys never write, but for filing Open311 requests with open311); got {scopes}")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = m.ApiKey(key_hash=sha256(token), prefix=token[:10], owner=owner, scopes=sorted(set(scopes)))
    session.add(key)
    session.flush()
    return key, token


def revoke_key(session: Session, key_id: int) -> None:
    n = session.execute(update(m.ApiKey).where(m.ApiKey.id == key_id, m.ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())).rowcount
    if not n:
        raise AccountError(f"no active API key {key_id}")
    # This process stops accepting it now; other processes within keycache.TTL_SECONDS.
    KEYS.forget_key(key_id)


def key_principal(session: Session, token: str) -> Principal | None:
    """The principal of an active key (remembered for a few seconds, see :mod:`gridplanner.auth.keycache`)."""
    key_hash = sha256(token)
    cached = KEYS.get(key_hash)
    if cached is not None:
        return cached
    row = session.execute(select(m.ApiKey.id, m.ApiKey.scopes).where(m.ApiKey.key_hash == key_hash, m.ApiKey.revoked_at.is_(None))).first()
    if row is None:
        return None
    principal = Principal(kind="key", name=f"key:{row.id}", scopes=tuple(row.scopes), id=row.id)
    KEYS.put(key_hash, principal)
    return principal


def ensure_demo_accounts(session: Session) -> dict[str, str]:
    """The demo's admin, planner (district 330106) and viewer, created when missing; name -> password.
    The password is the setting ``demo_password`` (GRIDPLANNER_DEMO_PASSWORD) or the documented ``gridplanner-demo``."""
    password = get_settings().demo_password or DEMO_PASSWORD
    for name, (role, districts) in DEMO_ACCOUNTS.items():
        if not session.execute(select(m.User.id).where(m.User.username == name)).first():
            create_user(session, name, password, role, districts)
    return {name: password for name in DEMO_ACCOUNTS}
