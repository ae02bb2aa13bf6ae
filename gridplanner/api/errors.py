"""Error responses: one JSON shape, ``{"detail": ..., "problems": [...]}``, for every 4xx/5xx we raise.

Routes raise the domain's own errors; :data:`STATUS` says which HTTP status answers each, and :func:`install`
puts one handler per entry on the app. Only named domain classes are here: a bare ``ValueError`` or
``KeyError`` from a bug must stay a 500 (an internal error), never be answered as the client's mistake.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError

from gis.errors import VectorInputError
from gridplanner.gridwork.escalation_rules import EscalationForbidden, EscalationNotFound, EscalationStepError
from gridplanner.gridwork.patrol_rules import PatrolForbidden, PatrolNotFound
from gridplanner.gridwork.messages import GridWorkError, ItemNotAssignable, ItemNotFound, ItemStepError
from gridplanner.gridwork.task_rules import TaskForbidden, TaskNotFound, TaskStepError
from gridplanner.gridwork.workbook import ItemImportError
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


def install(app: FastAPI) -> None:
    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=status_of(exc) or 500, content={"detail": str(exc)})

    for kind, _status in STATUS:
        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(GridWorkError)
    async def gridwork_error(request: Request, exc: GridWorkError) -> Response:
        code = getattr(exc, "status", None) or next(status for kind, status in GRIDWORK_STATUS if isinstance(exc, kind))
        if request.url.path.startswith(OPEN311_PREFIX):
            from gridplanner.api.routes.open311 import error_response

            return error_response(request, code, exc)
        return JSONResponse(status_code=code, content=exc.body())

    @app.exception_handler(VectorInputError)
    async def bad_input(_: Request, exc: VectorInputError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": str(exc).splitlines()[0], "source": exc.path, "problems": [{"feature": p.feature, "id": p.ident, "problem": p.message} for p in exc.problems]},
        )

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": "database unavailable, try again shortly"})
