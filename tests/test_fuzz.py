"""Schemathesis against the OpenAPI spec, as an admin: no operation answers 5xx to generated input.

Requests go through the real per-request sessions (committed, tables emptied after each operation) so a
failing statement cannot poison the next request as a shared test transaction would. The number of examples
per operation is bounded to keep the suite within minutes.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gridplanner.api.limits import RateLimiter

pytestmark = pytest.mark.slow


def _schema():
    from gridplanner.api.app import create_app

    app = create_app()
    app.state.rate_limiter = RateLimiter(rate=0, burst=1)  # the fuzzer is not a client to slow down
    # The app resolves its database per request, so it can be built before the test database exists.
    return schemathesis.openapi.from_asgi("/openapi.json", app)


SCHEMA = _schema()
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations()) if op.path != "/api/v1/auth/logout"}


def _admin_cookie() -> dict:
    from gridplanner.auth.sessions import COOKIE as NAME, open_session
    from gridplanner.store import models as m
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        user = s.query(m.User).filter_by(username="fuzz-admin").one_or_none()
        if user is None:
            user = m.User(username="fuzz-admin", password_hash="!", role="admin", districts=[], active=True)
            s.add(user)
            s.flush()
        token, _ = open_session(s, user, hours=1)
    return {NAME: token}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_server_errors(label, committed_db):
    operation = OPERATIONS[label]
    cookies = _admin_cookie()

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    @given(case=operation.as_strategy())
    def call(case):
        response = case.call(cookies=cookies)
        assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"

    call()
