"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2): services (the admitted grid items) and service
requests (incidents filed for them), each as ``.json`` or ``.xml``.

The key comes as the ``api_key`` parameter, as the specification has it (a form field when POSTing), or in
X-API-Key; a key needs the scope ``open311`` to file requests. Unlike the specification's public GETs, reading
needs a key (``open311`` or ``read``) or a logged-in user, as every route of Gridplanner does. Errors are the
specification's list of ``{code, description}``; descriptions in Chinese with the English in brackets.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, Response

from gridplanner.api.dependencies import SessionDep
from gridplanner.api.security import open311_principal
from gridplanner.gridwork import georeport as gr
from gridplanner.gridwork.messages import GridWorkError

router = APIRouter(prefix="/open311/v2", tags=["open311"])
FORMATS = ("json", "xml")
XML = "text/xml; charset=utf-8"
ApiKey = Annotated[str | None, Query(description="an API key with scope open311 (or read, for GETs)")]
Fmt = str  # "json" or "xml", checked by _fmt (a GeoReport error, not FastAPI's 422)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise gr.Open311Error(404, f"格式 {fmt!r} 不受支持：用 .json 或 .xml", f"format {fmt!r} is not supported: use .json or .xml")
    return fmt


def _answer(fmt: str, root: str, item: str, rows: list[dict], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(gr.to_xml(root, item, rows), status_code=status, media_type=XML)
    return JSONResponse(rows, status_code=status)


def error_response(request: Request, status: int, exc: GridWorkError) -> Response:
    """The specification's error list, in the format the path asks for (JSON unless it ends in .xml)."""
    errors = [{"code": status, "description": str(exc)}]
    if request.url.path.endswith(".xml"):
        return Response(gr.to_xml("errors", "error", errors), status_code=status, media_type=XML)
    return JSONResponse(errors, status_code=status)


@router.get("/services.{fmt}", response_class=Response)
def service_list(fmt: Fmt, request: Request, session: SessionDep, api_key: ApiKey = None) -> Response:
    """The services: every admitted item of the 网格事项清单 (group: its owning department)."""
    fmt = _fmt(fmt)
    open311_principal(request, session, api_key, write=False)
    return _answer(fmt, "services", "service", gr.services(session))


@router.get("/services/{service_code}.{fmt}", response_class=Response)
def service_definition(service_code: str, fmt: Fmt, request: Request, session: SessionDep, api_key: ApiKey = None) -> Response:
    """One service's definition (no extra attributes); 404 for an item that is not admitted."""
    fmt = _fmt(fmt)
    open311_principal(request, session, api_key, write=False)
    definition = gr.service_definition(session, service_code)
    if fmt == "xml":
        return Response(gr.definition_xml(definition), media_type=XML)
    return JSONResponse(definition)


@router.post("/requests.{fmt}", response_class=Response, status_code=201)
def post_request(
    fmt: Fmt,
    request: Request,
    session: SessionDep,
    api_key: Annotated[str | None, Form()] = None,
    service_code: Annotated[str | None, Form()] = None,
    lat: Annotated[str | None, Form(description="WGS84 latitude")] = None,
    long: Annotated[str | None, Form(description="WGS84 longitude")] = None,
    address_string: Annotated[str | None, Form(description="kept with the request; the place comes from lat/long")] = None,
    description: Annotated[str | None, Form(description="up to 4,000 characters")] = None,
    media_url: Annotated[str | None, Form()] = None,
) -> Response:
    """File a request for an admitted item: it becomes an incident (上报) of the item's category, placed in the
    grid holding the point. Form-encoded, as the specification has it."""
    fmt = _fmt(fmt)
    principal = open311_principal(request, session, api_key or request.query_params.get("api_key"), write=True)
    created = gr.file_request(session, gr.NewRequest(service_code or "", lat, long, address_string, description, media_url), actor=principal.actor)
    return _answer(fmt, "service_requests", "request", [created], status=201)


@router.get("/requests.{fmt}", response_class=Response)
def get_requests(
    fmt: Fmt,
    request: Request,
    session: SessionDep,
    api_key: ApiKey = None,
    service_request_id: Annotated[str | None, Query(description="ids, comma-delimited; when given the other parameters are ignored")] = None,
    service_code: Annotated[str | None, Query(description="service codes, comma-delimited")] = None,
    start_date: Annotated[str | None, Query(description="W3C datetime; default: 90 days before end_date")] = None,
    end_date: Annotated[str | None, Query(description="W3C datetime; at most 90 days after start_date")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both comma-delimited")] = None,
) -> Response:
    """Requests newest first, at most 1,000, within at most 90 days (the last 90 without dates)."""
    fmt = _fmt(fmt)
    open311_principal(request, session, api_key, write=False)
    rows = gr.find_requests(
        session, ids=gr.parse_ids(service_request_id), service_codes=gr.split_list(service_code), statuses=gr.parse_statuses(status),
        start=gr.parse_time(start_date, "start_date"), end=gr.parse_time(end_date, "end_date"),
    )
    return _answer(fmt, "service_requests", "request", rows)


@router.get("/requests/{service_request_id}.{fmt}", response_class=Response)
def get_request(service_request_id: str, fmt: Fmt, request: Request, session: SessionDep, api_key: ApiKey = None) -> Response:
    """One request, as a list of one (the specification's shape)."""
    fmt = _fmt(fmt)
    open311_principal(request, session, api_key, write=False)
    ids = gr.parse_ids(service_request_id)
    if len(ids) != 1:
        raise gr.Open311Error(400, "一次只能查询一个服务请求", "one service_request_id in the path")
    return _answer(fmt, "service_requests", "request", [gr.get_request(session, ids[0])])
