"""FastAPI dependencies: who is asking (:func:`current_principal`) and what they may do.

:func:`authorize` runs before every route of the app (an app-level dependency): it authenticates, applies the
rate limit, lets GETs through for users and keys with the right scope, refuses writes from keys and viewers,
checks the size of GeoJSON bodies and writes the audit row of every write into the request's own transaction.
Route modules narrow it further: :func:`admin_writes` for data only administrators change, :func:`plan_writes`
for plans, :func:`require_write_for_district` inside handlers that edit one district's grids.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, APIKeyHeader
from sqlalchemy.orm import Session

from gridplanner.api.dependencies import SessionDep
from gridplanner.api.limits import RateLimiter, check_geojson_limits
from gridplanner.auth.audit import record as record_audit
from gridplanner.auth.accounts import key_principal, sha256
from gridplanner.auth.keycache import KEYS
from gridplanner.api.locking import check_version, parse_if_match
from gridplanner.auth.principal import Principal
from gridplanner.auth.sessions import COOKIE, session_principal
from gridplanner.settings import get_settings

API = "/api/v1"
#: Route paths anyone may call.
PUBLIC = {f"{API}/health", f"{API}/auth/login", f"{API}/auth/logout"}
#: What a key with scope ``lookup`` may call (paths as declared, so /grids/{code} is one entry).
LOOKUP_PATHS = {f"{API}/grids/lookup", f"{API}/grids/{{code}}"}
LOOKUP_PREFIXES = (f"{API}/codes/",)
#: POSTs that only read (a batch of points is too long for a query string).
READ_ONLY_POSTS = {f"{API}/grids/lookup"}
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN311 = "/open311/"
#: The only writes of a staff account (a grid worker): steps of their own grid's tasks, visits of their grid.
STAFF_WRITES = {f"{API}/tasks/{{task_id}}/acknowledge", f"{API}/tasks/{{task_id}}/complete", f"{API}/tasks/{{task_id}}/photo", f"{API}/patrols"}
#: The only writes of a department account: 报到 and 反馈 on escalations (gridwork.escalations checks whose).
DEPARTMENT_WRITES = {f"{API}/escalations/{{escalation_id}}/acknowledge", f"{API}/escalations/{{escalation_id}}/respond"}
#: What a department account may read: its escalations (the routes filter them to its own), the catalogue of grid
#: items it owns work in, and who it is. Residents' incidents, the roster and the grids are the county's, not a
#: department's: what it needs of an incident comes with its escalation.
DEPARTMENT_READ_PREFIXES = (f"{API}/escalations", f"{API}/grid-items", f"{API}/auth/me")

# Declared for OpenAPI (the "Authorize" button of /docs); the checks below read the request themselves.
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (`gridplanner users key create`)")
session_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="the web session from POST /api/v1/auth/login")



def _route_path(request: Request) -> str:
    """The path template of the request's route, with its prefix: ``/api/v1/grids/{code}``."""
    # FastAPI >= 0.16x keeps an included route's own path (without the prefix) in scope["route"];
    # the full template is in its effective route context.
    context = (request.scope.get("fastapi") or {}).get("effective_route_context")
    if getattr(context, "path", None):
        return context.path
    values = {str(v): k for k, v in request.path_params.items()}
    return "/".join("{%s}" % values[seg] if seg in values else seg for seg in request.url.path.split("/"))


def resolve_principal(request: Request, session: Session) -> Principal | None:
    """The user of the session cookie or the key of X-API-Key (the key wins when both are sent), or None."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    key = request.headers.get("x-api-key")
    token = request.cookies.get(COOKIE)
    principal = key_principal(session, key) if key else (session_principal(session, token) if token else None)
    request.state.principal = principal
    return principal


def _remembered_principal(request: Request) -> Principal | None:
    """The principal of the request's API key when this process resolved it recently (no database, no thread)."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    key = request.headers.get("x-api-key")
    principal = KEYS.get(sha256(key)) if key else None
    if principal is not None:
        request.state.principal = principal
    return principal


def current_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated user or key; 401 when there is none."""
    principal = resolve_principal(request, session)
    if principal is None:
        detail = "invalid or revoked API key" if request.headers.get("x-api-key") else "authentication required: log in (POST /api/v1/auth/login) or send an API key in X-API-Key"
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "X-API-Key"})
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str):
    """A dependency admitting users with one of ``roles`` (never keys); 403 otherwise."""

    def dependency(principal: PrincipalDep) -> Principal:
        if principal.is_key or principal.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}; {principal.name} is {'an API key' if principal.is_key else principal.role}")
        return principal

    return dependency


def require_scope(scope: str):
    """A dependency admitting users, and keys holding ``scope`` (``read`` includes ``lookup``); 403 otherwise."""

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.has_scope(scope):
            raise HTTPException(403, f"this API key lacks the scope {scope!r} (it has: {', '.join(principal.scopes)})")
        return principal

    return dependency


def require_write_for_district(principal: Principal, district_code: str) -> None:
    """For handlers editing one district's grids: admins pass, planners only for their districts, others 403."""
    if not principal.may_write_district(str(district_code)[:6]):
        who = "API keys are read-only" if principal.is_key else f"{principal.name} ({principal.role}) may not edit district {district_code}"
        if principal.role == "planner":
            who += f"; assigned: {', '.join(principal.districts) or 'none'}"
        raise HTTPException(403, who)


def _limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        s = get_settings()
        limiter = request.app.state.rate_limiter = RateLimiter(s.rate_limit_per_second, s.rate_limit_burst)
    return limiter


async def authorize(request: Request, session: SessionDep) -> None:
    """The access policy of every route (see the module docstring)."""
    path = _route_path(request)
    if path in PUBLIC:
        return
    if path.startswith(OPEN311):
        # GeoReport v2 clients send their key as the ``api_key`` parameter (a form field when they POST), and an
        # open311 key may write there: the routes check it themselves (:func:`open311_principal`).
        return
    principal = _remembered_principal(request)
    if principal is None:
        # A database round trip: off the event loop, like every sync dependency.
        principal = await run_in_threadpool(current_principal, request, session)
    _limiter(request).check(principal.name)
    method = request.method.upper()
    if method in READ_METHODS or path in READ_ONLY_POSTS:
        if principal.role == "department" and not path.startswith(DEPARTMENT_READ_PREFIXES):
            raise HTTPException(403, f"{principal.name} is a department account: it reads its escalations ({API}/escalations) and the catalogue of grid items only")
        lookup = path in LOOKUP_PATHS or path.startswith(LOOKUP_PREFIXES)
        if not principal.has_scope("lookup" if lookup else "read"):
            raise HTTPException(403, f"this API key has the scope {', '.join(principal.scopes)}: it may call the lookups only ({', '.join(sorted(LOOKUP_PATHS))}, {API}/codes/...)")
        if path in READ_ONLY_POSTS:
            await _check_body(request)
        return
    if principal.is_key:
        raise HTTPException(403, "API keys are read-only: log in as a user to change anything")
    if principal.role == "staff" and path in STAFF_WRITES:
        pass  # a grid worker acknowledges and completes the tasks of their own grid (gridwork.tasks checks whose)
    elif principal.role == "department" and path in DEPARTMENT_WRITES:
        pass  # a department reports for duty and answers its own escalations
    elif principal.role not in ("admin", "planner"):
        raise HTTPException(403, f"{principal.name} is a {principal.role}: read-only" + (" but for acknowledging and completing their grid's tasks" if principal.role == "staff" else ""))
    await _check_body(request)
    record_audit(
        session,
        principal.actor,
        f"{method} {path}",
        path.removeprefix(API + "/").split("/")[0],
        "/".join(str(v) for v in request.path_params.values()) or None,
        {"path": request.url.path, "query": str(request.url.query) or None, "via": principal.kind},
    )


async def _check_body(request: Request) -> None:
    if "json" not in request.headers.get("content-type", ""):
        return
    try:
        # Request.json() keeps what it parsed: FastAPI has parsed the body already, the route reuses it.
        body = await request.json() if await request.body() else None
    except ValueError:
        return  # FastAPI answers malformed JSON with its own 422
    s = get_settings()
    check_geojson_limits(_without_point_pairs(body), s.max_features_per_request, s.max_vertices_per_request)


def _without_point_pairs(body):
    """A batch lookup body less its ``[lon, lat]`` pairs, which hold neither features nor ``coordinates``:
    walking 10,000 of them cost more than the lookup itself. Anything else in it is still counted."""
    points = body.get("points") if isinstance(body, dict) else None
    if not isinstance(points, list):
        return body
    return {**body, "points": [p for p in points if not (type(p) is list and len(p) == 2 and type(p[0]) in _NUMBERS and type(p[1]) in _NUMBERS)]}


_NUMBERS = (int, float)


def admin_writes(request: Request, principal: PrincipalDep) -> None:
    """For route modules whose changes only administrators make (staff roster, incident catalogue ...)."""
    if request.method.upper() not in READ_METHODS and _route_path(request) not in READ_ONLY_POSTS and principal.role != "admin":
        raise HTTPException(403, f"only an admin may change this; {principal.name} is {'an API key' if principal.is_key else principal.role}")


async def plan_writes(request: Request, principal: PrincipalDep, session: SessionDep) -> None:
    """Plans: planners create drafts and plan communities of their own districts; merging, publishing and
    rolling back are for admins. An ``If-Match: "<lock_version>"`` header is checked against the plan (409 when
    stale) before anything changes."""
    if request.method.upper() in READ_METHODS:
        return
    from gridplanner.store import models as m

    plan_id = request.path_params.get("plan_id")
    try:
        expected = parse_if_match(request.headers.get("if-match"))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if plan_id is not None and expected is not None:
        plan = await run_in_threadpool(session.get, m.GridPlan, int(plan_id))
        if plan is not None:
            check_version(plan, expected)
    if principal.role == "admin":
        return
    action = _route_path(request).rsplit("/", 1)[-1]
    if action == "plans":  # a new draft
        return
    if action == "{plan_id}" and request.method.upper() in ("PATCH", "DELETE"):
        return  # renaming or deleting: the route lets a planner do it to their own drafts
    if action == "divide":
        try:
            communities = (json.loads(await request.body() or b"{}") or {}).get("communities")
        except (ValueError, AttributeError):
            return  # the handler answers the malformed body with 422
        if not communities:
            raise HTTPException(403, f"a planner must name the communities to plan (all of them in {', '.join(principal.districts)})")
        for code in {str(c)[:6] for c in communities}:
            require_write_for_district(principal, code)
        return
    raise HTTPException(403, f"only an admin may {action} a plan; {principal.name} is a {principal.role}")


def open311_principal(request: Request, session: Session, api_key: str | None, *, write: bool) -> Principal:
    """Who calls an Open311 route: the key of the ``api_key`` parameter (or X-API-Key), else the web session's
    user. Reading needs a key with scope ``open311`` or ``read``, or any user; filing a request needs a key with
    scope ``open311``, or an admin or planner. Rate-limited like every route; a filed request is audited.
    Raises the GeoReport error (401 no key, 403 a key that is invalid or lacks the scope)."""
    from gridplanner.gridwork.georeport import Open311Error

    token = (api_key or "").strip() or request.headers.get("x-api-key")
    if token:
        principal = key_principal(session, token)
        if principal is None:
            raise Open311Error(403, "api_key 无效或已吊销", "invalid or revoked api_key")
    else:
        cookie = request.cookies.get(COOKIE)
        principal = session_principal(session, cookie) if cookie else None
        if principal is None:
            raise Open311Error(401, "需要 api_key", "api_key required")
    try:
        _limiter(request).check(principal.name)
    except HTTPException as exc:
        raise Open311Error(exc.status_code, "请求过于频繁，请稍后再试", str(exc.detail)) from None
    if principal.is_key:
        allowed = "open311" in principal.scopes or (not write and "read" in principal.scopes)
    else:
        # A department account reads its escalations only: Open311 requests are every resident's.
        allowed = principal.role in ("admin", "planner") if write else principal.role != "department"
    if not allowed:
        need = "open311" if write else "open311 或 read"
        raise Open311Error(403, f"此 api_key 没有 {need} 权限" if principal.is_key else f"{principal.name}（{principal.role}）不能提交服务请求",
                           f"this api_key lacks the scope {'open311' if write else 'open311 or read'}" if principal.is_key else f"{principal.name} ({principal.role}) may not file service requests")
    if write:
        record_audit(session, principal.actor, f"{request.method} {request.url.path}", "open311", None, {"path": request.url.path, "via": principal.kind})
    return principal
