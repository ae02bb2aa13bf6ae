"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) over the grid items and incidents: services are the
admitted items of the 网格事项清单, service requests are incidents filed for one of them.

Field names are the specification's. ``status`` is ``open`` while the incident is in 上报 … 核查 and ``closed``
from 结案 on; ``status_notes`` names the current step of the lifecycle with the note its last event carried;
``updated_datetime`` is the time of that event. One field is ours, outside the specification: ``grid_code``,
the grid the request was placed in (null: 无网格).

Query rules from the specification: without dates the last 90 days; a date range spans at most 90 days; at
most 1,000 requests, newest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.etree.ElementTree import Element, SubElement, tostring
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.gridwork.catalogue import assignable_item, list_items
from gridplanner.gridwork.messages import GridWorkError, ItemNotAssignable, ItemNotFound
from gridplanner.incidents.lifecycle import CLOSED_STATUSES, OPEN_STATUSES
from gridplanner.incidents.service import CoordinateError, create_incident

MAX_REQUESTS = 1000
MAX_DAYS = 90
MAX_DESCRIPTION = 4000  # the specification's limit
MAX_ADDRESS = 500
BEIJING = ZoneInfo("Asia/Shanghai")
SOURCE = "Open311"
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class Open311Error(GridWorkError):
    """A request the GeoReport API answers with an error list; ``status`` is the HTTP status."""

    def __init__(self, status: int, zh: str, en: str):
        self.status = status
        super().__init__(zh, en)


def w3c(value: datetime | None) -> str | None:
    """A time as the specification writes it (W3C / ISO 8601 with offset), in Beijing time.

    >>> w3c(datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc))
    '2026-12-01T09:30:00+08:00'
    """
    return None if value is None else value.astimezone(BEIJING).isoformat(timespec="seconds")


def parse_time(value: str | None, name: str) -> datetime | None:
    """A W3C datetime parameter; a time without an offset is Beijing time.

    >>> parse_time("2026-12-01T09:30:00Z", "start_date").isoformat()
    '2026-12-01T09:30:00+00:00'
    >>> parse_time("2026-12-01", "end_date").isoformat()
    '2026-12-01T00:00:00+08:00'
    """
    if value is None or not value.strip():
        return None
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+") if "T" in value else value.strip())
    except ValueError:
        raise Open311Error(400, f"{name} {value!r} 不是 W3C 日期时间（如 2026-12-01T09:30:00+08:00）", f"{name} {value!r} is not a W3C datetime (such as 2026-12-01T09:30:00+08:00)") from None
    return t if t.tzinfo else t.replace(tzinfo=BEIJING)


def date_window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end] the query covers: by default the last 90 days; a range of more than 90 days is refused.

    >>> now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    >>> [t.date().isoformat() for t in date_window(None, None, now)]
    ['2026-09-02', '2026-12-01']
    >>> [t.date().isoformat() for t in date_window(datetime(2026, 1, 1, tzinfo=timezone.utc), None, now)]
    ['2026-01-01', '2026-04-01']
    """
    if start is None and end is None:
        end = now
    if start is None:
        start = end - timedelta(days=MAX_DAYS)
    if end is None:
        end = start + timedelta(days=MAX_DAYS)
    if end <= start:
        raise Open311Error(400, "end_date 须晚于 start_date", "end_date must be after start_date")
    if end - start > timedelta(days=MAX_DAYS):
        raise Open311Error(400, f"日期范围不能超过 {MAX_DAYS} 天", f"the date range may span at most {MAX_DAYS} days")
    return start, end


def split_list(value: str | None) -> list[str]:
    """A comma-delimited parameter (service_request_id, service_code, status).

    >>> split_list(" 1, 2 ,,3 ")
    ['1', '2', '3']
    """
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def parse_statuses(value: str | None) -> list[str]:
    statuses = split_list(value)
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        raise Open311Error(400, f"status 只能是 open 或 closed，而不是 {', '.join(bad)}", f"status is open or closed, not {', '.join(bad)}")
    return statuses


def parse_ids(value: str | None) -> list[int]:
    ids = split_list(value)
    if not all(i.isdigit() and len(i) < 19 for i in ids):
        raise Open311Error(400, f"service_request_id {value!r} 须为数字（可用逗号分隔）", f"service_request_id {value!r}: numbers, comma-delimited")
    return [int(i) for i in ids]


def parse_point(lat: str | None, long: str | None, address: str | None) -> tuple[float, float]:
    """(lon, lat) of a new request. The place is required; an address alone cannot be placed in a grid here
    (no geocoder), so it is refused with the reason rather than kept in no grid."""
    if lat in (None, "") and long in (None, ""):
        if address:
            raise Open311Error(400, "仅凭地址无法定位到网格，请同时提供 lat 和 long（WGS84）", "an address alone cannot be placed in a grid: send lat and long (WGS84) as well")
        raise Open311Error(400, "缺少位置：请提供 lat 和 long（WGS84）", "location required: lat and long (WGS84)")
    try:
        y, x = float(lat), float(long)
    except (TypeError, ValueError):
        raise Open311Error(400, f"lat {lat!r} 和 long {long!r} 须为数字", f"lat {lat!r} and long {long!r} must be numbers") from None
    if not (-90 <= y <= 90 and -180 <= x <= 180):
        raise Open311Error(400, f"lat {lat} / long {long} 超出范围", f"lat {lat} / long {long} out of range")
    return x, y


@dataclass(frozen=True)
class NewRequest:
    service_code: str
    lat: str | None
    long: str | None
    address_string: str | None = None
    description: str | None = None
    media_url: str | None = None


def services(session: Session) -> list[dict]:
    """The service list: every admitted grid item."""
    return [
        {
            "service_code": i.code, "service_name": i.name, "description": i.description or f"{i.category}（网格员职责：{i.worker_role}，办理时限 {i.time_limit_days} 个工作日）",
            "metadata": False, "type": "realtime", "keywords": i.category, "group": i.department,
        }
        for i in list_items(session, status="admitted")
    ]


def _admitted(session: Session, code: str):
    try:
        return assignable_item(session, code)
    except (ItemNotFound, ItemNotAssignable) as exc:
        raise Open311Error(404 if isinstance(exc, ItemNotFound) else 400, exc.zh, exc.en) from None


def service_definition(session: Session, code: str) -> dict:
    """An admitted item's definition: no extra attributes (``metadata`` false in the list)."""
    try:
        item = assignable_item(session, code)
    except (ItemNotFound, ItemNotAssignable):
        raise Open311Error(404, f"没有服务 {code}（未准入的事项不是服务）", f"no service {code!r} (only admitted grid items are services)") from None
    return {"service_code": item.code, "attributes": []}


def file_request(session: Session, req: NewRequest, *, actor: str) -> dict:
    """A new service request: an incident of the item's category at the point, placed in its grid (上报)."""
    if not req.service_code:
        raise Open311Error(400, "缺少 service_code", "service_code is required")
    item = _admitted(session, req.service_code)
    lon, lat = parse_point(req.lat, req.long, req.address_string)
    description = (req.description or "").strip() or None
    if description and len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description 最多 {MAX_DESCRIPTION} 个字符", f"description: at most {MAX_DESCRIPTION} characters")
    media = (req.media_url or "").strip() or None
    if media and (len(media) > 2000 or not _URL.match(media)):
        raise Open311Error(400, f"media_url {media[:100]!r} 不是 http(s) 网址", f"media_url {media[:100]!r} is not an http(s) URL")
    address = (req.address_string or "").strip() or None
    if address and len(address) > MAX_ADDRESS:
        raise Open311Error(400, f"address_string 最多 {MAX_ADDRESS} 个字符", f"address_string: at most {MAX_ADDRESS} characters")
    try:
        incident = create_incident(
            session, lon=lon, lat=lat, category=item.category, crs="wgs84", description=description, source=SOURCE, actor=actor,
            service_code=item.code, address=address, media_url=media,
        )
    except CoordinateError:
        raise Open311Error(400, f"位置 lat {lat} / long {lon} 不在中国境内：请检查纬度、经度是否颠倒", f"lat {lat} / long {lon} is not in China: check that lat and long are not swapped") from None
    return {"service_request_id": str(incident.id), "service_notice": None, "account_id": None}


_COLUMNS = """i.id, i.service_code, gi.name AS service_name, gi.department, i.status, i.description, i.reported_at, i.due_at,
    i.address, i.media_url, i.grid_code, round(ST_X(i.geom)::numeric, 7)::float AS lon, round(ST_Y(i.geom)::numeric, 7)::float AS lat,
    e.at AS updated_at, e.note"""
_FROM = """FROM incidents i JOIN grid_items gi ON gi.code = i.service_code
    LEFT JOIN LATERAL (SELECT at, note FROM incident_events WHERE incident_id = i.id ORDER BY at DESC, id DESC LIMIT 1) e ON true"""
OPEN = list(OPEN_STATUSES)
CLOSED = list(CLOSED_STATUSES)


def georeport_status(status: str) -> str:
    """open while the incident is in 上报 … 核查, closed from 结案 on.

    >>> georeport_status("核查"), georeport_status("结案")
    ('open', 'closed')
    """
    return "open" if status in OPEN_STATUSES else "closed"


def status_notes(status: str, note: str | None) -> str:
    """The lifecycle step, and the note of the event that reached it.

    >>> status_notes("派遣", "派给网格员王芳")
    '派遣：派给网格员王芳'
    """
    return f"{status}：{note}" if note else status


def _request(r) -> dict:
    return {
        "service_request_id": str(r.id),
        "status": georeport_status(r.status),
        "status_notes": status_notes(r.status, r.note),
        "service_name": r.service_name,
        "service_code": r.service_code,
        "description": r.description,
        "agency_responsible": r.department,
        "service_notice": None,
        "requested_datetime": w3c(r.reported_at),
        "updated_datetime": w3c(r.updated_at or r.reported_at),
        "expected_datetime": w3c(r.due_at),
        "address": r.address,
        "address_id": None,
        "zipcode": None,
        "lat": r.lat,
        "long": r.lon,
        "media_url": r.media_url,
        "grid_code": r.grid_code,
    }


def find_requests(session: Session, *, ids: list[int] | None = None, service_codes: list[str] | None = None, statuses: list[str] | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Requests newest first, at most 1,000. Asked by id the dates do not apply (the specification: ids
    override the other parameters); otherwise the 90-day window of :func:`date_window`."""
    where, p = [], {}
    if ids:
        where.append("i.id = ANY(CAST(:ids AS bigint[]))")
        p["ids"] = ids
    else:
        now = session.execute(text("SELECT now()")).scalar_one()
        p["t0"], p["t1"] = date_window(start, end, now)
        where.append("i.reported_at BETWEEN :t0 AND :t1")  # both ends included, as the specification says
        if service_codes:
            where.append("i.service_code = ANY(CAST(:codes AS text[]))")
            p["codes"] = service_codes
        wanted = set(statuses or ())
        if wanted == {"open"}:
            where.append("i.status = ANY(CAST(:st AS text[]))")
            p["st"] = OPEN
        elif wanted == {"closed"}:
            where.append("i.status = ANY(CAST(:st AS text[]))")
            p["st"] = CLOSED
    sql = f"SELECT {_COLUMNS} {_FROM} WHERE {' AND '.join(where) or 'TRUE'} ORDER BY i.reported_at DESC, i.id DESC LIMIT {MAX_REQUESTS}"
    return [_request(r) for r in session.execute(text(sql), p).all()]


def get_request(session: Session, request_id: int) -> dict:
    rows = find_requests(session, ids=[request_id])
    if not rows:
        raise Open311Error(404, f"没有服务请求 {request_id}", f"no service request {request_id}")
    return rows[0]


# --- XML, as the specification's examples write it -----------------------------------------------------------


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def to_xml(root: str, item: str, rows: list[dict]) -> bytes:
    """``<root><item><field>value</field>…</item>…</root>``; a list value (attributes) becomes nested elements.

    >>> to_xml("errors", "error", [{"code": 400, "description": "lat"}])
    b'<?xml version="1.0" encoding="utf-8"?>\\n<errors><error><code>400</code><description>lat</description></error></errors>'
    """
    top = Element(root)
    for row in rows:
        node = SubElement(top, item)
        _fill(node, row)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(top, encoding="unicode").encode()


def _fill(node: Element, row: dict) -> None:
    for key, value in row.items():
        child = SubElement(node, key)
        if isinstance(value, list):
            for v in value:
                _fill(SubElement(child, "attribute"), v)
        else:
            child.text = _text(value)


def definition_xml(definition: dict) -> bytes:
    top = Element("service_definition")
    _fill(top, definition)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(top, encoding="unicode").encode()
