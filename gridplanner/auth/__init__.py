"""Accounts, roles, web sessions, API keys and the audit trail (docs/security.md). The FastAPI dependencies
that enforce them over HTTP are in :mod:`gridplanner.api.security`."""

from gridplanner.auth.accounts import AccountError, create_key, create_user, ensure_demo_accounts, revoke_key
from gridplanner.auth.audit import record as record_audit
from gridplanner.auth.principal import Principal

__all__ = ["AccountError", "Principal", "create_key", "create_user", "ensure_demo_accounts", "record_audit", "revoke_key"]
