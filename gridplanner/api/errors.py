"""Error responses: one JSON shape, ``{"detail": ..., "detail_en": ..., "problems": [...]}``, for every 4xx/5xx.

Routes raise the domain's own errors; :data:`STATUS` says which HTTP status answers each, and :func:`install`
puts one handler per entry on the app. Only named domain classes are here: a bare ``ValueError`` or
``KeyError`` from a bug must stay a 500 (an internal error), never be answered as the client's mistake; the
500 says it is ours and where its traceback was logged.

``detail`` speaks the request's ``Accept-Language`` (Chinese unless English is preferred; :mod:`gridplanner.i18n`)
and ``detail_en`` is always the English, for systems that match on it.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.errors import VectorInputError
from gridplanner.gridwork.escalation_rules import EscalationForbidden, EscalationNotFound, EscalationStepError
from gridplanner.gridwork.patrol_rules import PatrolForbidden, PatrolNotFound
from gridplanner.gridwork.messages import GridWorkError, ItemNotAssignable, ItemNotFound, ItemStepError
from gridplanner.gridwork.task_rules import TaskForbidden, TaskNotFound, TaskStepError
from gridplanner.gridwork.workbook import ItemImportError
from gridplanner.i18n import current_language, language, reset_language, set_language, text_for
from gridplanner.incidents.catalogue import UnknownCategory
from gridplanner.incidents.lifecycle import IncidentNotFound, ScoreError, TransitionError
from gridplanner.incidents.service import CoordinateError
from gridplanner.lookup import PlanNotFound, VersionGone
from gridplanner.plans import PlanError
from gridplanner.staffing.service import StaffNotFound
from gridplanner.store.published import UnknownGridError
from tiles.layers import FilterError, UnknownLayer
from tiles.tilemath import TileError

OPEN311_PREFIX = "/open311/"
log = logging.getLogger("gridplanner.api")

#: Domain error -> HTTP status. Subclasses before their bases (the first match wins).
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (VersionGone, 410),            # a version older than the change feed keeps
    (PlanNotFound, 404),
    (StaffNotFound, 404),
    (IncidentNotFound, 404),
    (UnknownLayer, 404),
    (PlanError, 409),              # the plan's state does not allow it (not a draft, already published ...)
    (TransitionError, 409),        # a step the incident lifecycle does not allow
    (ScoreError, 422),             # a satisfaction score out of 1-5 or not at 评价
    (FilterError, 400),            # query-string filters of a map layer (OGC API style)
    (TileError, 400),
    (UnknownCategory, 422),
    (CoordinateError, 422),
    (UnknownGridError, 422),
)


#: Errors of grid work carry Chinese and English text; answered ``{"detail": zh, "detail_en": en, ...}``.
GRIDWORK_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (ItemNotFound, 404),
    (ItemStepError, 409),          # a step the admission record does not allow
    (ItemNotAssignable, 409),      # the item is not admitted: nothing of it goes to the grids
    (ItemImportError, 422),
    (TaskNotFound, 404),
    (TaskForbidden, 403),          # not the worker's grid, or grids outside a planner's districts
    (TaskStepError, 409),          # complete before acknowledging, acknowledge twice ...
    (EscalationNotFound, 404),
    (EscalationForbidden, 403),    # another department's escalation, an incident outside a planner's districts
    (PatrolNotFound, 404),
    (PatrolForbidden, 403),        # another worker's visit, an account with no grid
    (EscalationStepError, 409),    # respond before 报到, escalate a closed incident, close with escalations unanswered
    (GridWorkError, 422),          # a field the rules refuse
)


def status_of(exc: Exception) -> int | None:
    """The status :data:`STATUS` gives ``exc``, or None when it is no domain error we answer."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), None)


def request_language(headers) -> str:
    """The language of a request's (or an ASGI scope's) headers: :func:`gridplanner.i18n.language`."""
    if isinstance(headers, list):  # an ASGI scope's raw headers
        raw = next((v for k, v in headers if k == b"accept-language"), b"")
        return language(raw.decode("latin-1"))
    return language(headers.get("accept-language"))


def localized(detail, lang: str, **extra) -> dict:
    """An error body: ``detail`` (English) in ``lang`` with the English beside it; other details as they are."""
    if isinstance(detail, str):
        return {"detail": text_for(detail, lang), "detail_en": detail, **extra}
    return {"detail": detail, **extra}


def error_response(request: Request, status: int, detail, *, headers=None, **extra) -> JSONResponse:
    return JSONResponse(status_code=status, content=localized(detail, request_language(request.headers), **extra), headers=headers)


def error_json(status: int, detail, *, headers=None, **extra) -> JSONResponse:
    """:func:`error_response` in the language of the request being answered (:class:`Language` notes it)."""
    return JSONResponse(status_code=status, content=localized(detail, current_language(), **extra), headers=headers)


class Language:
    """ASGI middleware noting each request's language (:func:`gridplanner.i18n.current_language`) for code
    that answers errors without the request at hand."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        token = set_language(request_language(list(scope.get("headers") or [])))
        try:
            await self.app(scope, receive, send)
        finally:
            reset_language(token)


def install(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, status_of(exc) or 500, str(exc))

    for kind, _status in STATUS:
        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return error_response(request, exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(GridWorkError)
    async def gridwork_error(request: Request, exc: GridWorkError) -> Response:
        code = getattr(exc, "status", None) or next(status for kind, status in GRIDWORK_STATUS if isinstance(exc, kind))
        if request.url.path.startswith(OPEN311_PREFIX):
            from gridplanner.api.routes.open311 import error_response as open311_error

            return open311_error(request, code, exc)
        body = exc.body()
        if request_language(request.headers) == "en":
            body = {**body, "detail": exc.en}
        return JSONResponse(status_code=code, content=body)

    @app.exception_handler(VectorInputError)
    async def bad_input(request: Request, exc: VectorInputError) -> JSONResponse:
        first = str(exc).splitlines()[0]
        body = localized(first, request_language(request.headers), source=exc.path,
                         problems=[{"feature": p.feature, "id": p.ident, "problem": p.message} for p in exc.problems])
        head, sep, rest = first.partition(": ")
        if sep and head == str(exc.path) and body["detail"] != first:
            # "<file>: <problem>": the file's name as it is, the problem in Chinese.
            body["detail"] = f"{head}：{text_for(rest, 'zh')}"
        return JSONResponse(status_code=422, content=body)

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONResponse:
        return error_response(request, 503, "database unavailable, try again shortly")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # A fault of ours, never the client's: said so, with the id its traceback is logged under.
        ref = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
        return error_response(request, 500, f"internal error in Gridplanner (not a problem with your request or data): "
                                            f"the traceback is in the server log under {ref}", error_id=ref)
