"""Accounts, roles, web sessions and API keys, and the FastAPI dependencies that enforce them (docs/security.md)."""

from gridplanner.auth.accounts import AccountError, create_key, create_user, ensure_demo_accounts, revoke_key
from gridplanner.auth.audit import record as record_audit
from gridplanner.auth.dependencies import (
    admin_writes,
    authorize,
    current_principal,
    plan_writes,
    require_role,
    require_scope,
    require_write_for_district,
)
from gridplanner.auth.locking import StaleVersion, check_version, parse_if_match
from gridplanner.auth.principal import Principal

__all__ = [
    "AccountError",
    "Principal",
    "StaleVersion",
    "admin_writes",
    "record_audit",
    "authorize",
    "check_version",
    "create_key",
    "create_user",
    "current_principal",
    "ensure_demo_accounts",
    "parse_if_match",
    "plan_writes",
    "require_role",
    "require_scope",
    "require_write_for_district",
    "revoke_key",
]
