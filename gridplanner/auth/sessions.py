"""Server-side web sessions: the cookie carries a random token, the table its sha256 and an expiry."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gridplanner.auth.accounts import sha256, user_principal
from gridplanner.auth.principal import Principal
from gridplanner.store import models as m

COOKIE = "gp_session"


def open_session(session: Session, user: m.User, hours: float) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = datetime.now(timezone.utc) + timedelta(hours=hours)
    session.add(m.UserSession(token_hash=sha256(token), user_id=user.id, expires_at=expires))
    # Expired rows of this user go at each login, so the table does not grow without end.
    session.execute(delete(m.UserSession).where(m.UserSession.user_id == user.id, m.UserSession.expires_at < datetime.now(timezone.utc)))
    session.flush()
    return token, expires


def session_principal(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(m.User)
        .join(m.UserSession, m.UserSession.user_id == m.User.id)
        .where(m.UserSession.token_hash == sha256(token), m.UserSession.expires_at > datetime.now(timezone.utc), m.User.active.is_(True))
    ).scalar_one_or_none()
    return user_principal(row) if row is not None else None


def close_session(session: Session, token: str) -> None:
    session.execute(delete(m.UserSession).where(m.UserSession.token_hash == sha256(token)))
