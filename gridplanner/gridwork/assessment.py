"""响应评价 (assessment): per department, street, community or grid and per month, how promptly and how well work
was done, ranked. One SQL statement with GROUP BY in PostGIS: the month of a county is hundreds of thousands of
events, which Python loops would drag through the driver row by row.

What counts, for month M (Beijing time):

- **incidents**: those reported in M (for a department: the incidents of its escalations raised in M);
  ``closed_on_time`` = closed (结案) no later than their due time; its rate is over the incidents whose limit is
  *decided* (closed, or still open past due), so a case still within its limit neither helps nor hurts;
  ``reopened`` = sent back from 核查 to 处置 at least once (the lifecycle's only way back);
  ``satisfaction`` = the mean of the residents' 1-5 scores at 评价 (``rated`` of them scored);
  ``step_hours`` = mean hours from the previous step to each step (受理, 派遣, 处置 …).
- **escalations** (吹哨报到): those raised in M; ``acknowledged_on_time`` = 报到 no later than its limit, its rate
  over the escalations decided (acknowledged, or not and past the limit); ``responded_on_time`` likewise;
  mean hours to 报到 and from 报到 to the response.
- **rank**: by ``on_time_rate`` = (acknowledged on time + closed on time) / (their decided counts), then by
  satisfaction; units with nothing decided rank last. Equal figures share a rank.

Units with nothing in the month are not listed: an assessment ranks work done, not the map.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.gridwork.messages import GridWorkError

BEIJING = ZoneInfo("Asia/Shanghai")
BY = ("department", "street", "community", "grid")
BY_ZH = {"department": "部门", "street": "街道", "community": "社区", "grid": "网格"}
#: The unit an incident belongs to, for the area groupings (a community code is its street's 9 digits and 3 more).
AREA_KEY = {"grid": "i.grid_code", "community": "i.community_code", "street": "left(i.community_code, 9)"}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class AssessmentError(GridWorkError):
    """A month or grouping the assessment does not know (422)."""


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a month ``YYYY-MM`` in Beijing time.

    >>> [t.isoformat() for t in month_bounds("2026-12")]
    ['2026-12-01T00:00:00+08:00', '2027-01-01T00:00:00+08:00']
    >>> month_bounds("2026-13")
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.assessment.AssessmentError: 月份须为 YYYY-MM（如 2026-11），而不是 '2026-13' (month must be YYYY-MM such as 2026-11, not '2026-13')
    """
    m = _MONTH.match(month or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise AssessmentError(f"月份须为 YYYY-MM（如 2026-11），而不是 {month!r}", f"month must be YYYY-MM such as 2026-11, not {month!r}")
    y, mo = int(m.group(1)), int(m.group(2))
    start = datetime(y, mo, 1, tzinfo=BEIJING)
    end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=BEIJING)
    return start, end


def _sources(by: str) -> tuple[str, str]:
    """(the month's incidents with their unit ``key``, the month's escalations with theirs)."""
    if by == "department":
        inc = """SELECT DISTINCT e.department AS key, i.id, i.due_at, i.closed_at, i.satisfaction
                 FROM escalations e JOIN incidents i ON i.id = e.incident_id
                 WHERE e.escalated_at >= :t0 AND e.escalated_at < :t1"""
        esc = "SELECT e.department AS key, e.* FROM escalations e WHERE e.escalated_at >= :t0 AND e.escalated_at < :t1"
        return inc, esc
    key = AREA_KEY[by]
    inc = f"""SELECT {key} AS key, i.id, i.due_at, i.closed_at, i.satisfaction FROM incidents i
              WHERE i.reported_at >= :t0 AND i.reported_at < :t1 AND {key} IS NOT NULL"""
    esc = f"""SELECT {key} AS key, e.* FROM escalations e JOIN incidents i ON i.id = e.incident_id
              WHERE e.escalated_at >= :t0 AND e.escalated_at < :t1 AND {key} IS NOT NULL"""
    return inc, esc


def _sql(by: str) -> str:
    inc, esc = _sources(by)
    return f"""
WITH inc AS ({inc}),
esc AS ({esc}),
events AS (
    SELECT ev.incident_id, ev.from_status, ev.to_status, ev.at, lag(ev.at) OVER (PARTITION BY ev.incident_id ORDER BY ev.at, ev.id) AS prev_at
    FROM incident_events ev WHERE ev.incident_id IN (SELECT id FROM inc)
),
reopened AS (SELECT DISTINCT incident_id FROM events WHERE from_status = '核查' AND to_status = '处置'),
inc_agg AS (
    SELECT inc.key, count(*) AS incidents,
           count(*) FILTER (WHERE inc.closed_at IS NOT NULL) AS closed,
           count(*) FILTER (WHERE inc.closed_at IS NOT NULL AND inc.due_at IS NOT NULL AND inc.closed_at <= inc.due_at) AS closed_on_time,
           count(*) FILTER (WHERE inc.due_at IS NOT NULL AND (inc.closed_at IS NOT NULL OR inc.due_at < CAST(:now AS timestamptz))) AS closed_decided,
           count(r.incident_id) AS reopened,
           count(inc.satisfaction) AS rated,
           avg(inc.satisfaction)::float AS satisfaction
    FROM inc LEFT JOIN reopened r ON r.incident_id = inc.id
    GROUP BY inc.key
),
step_agg AS (
    SELECT key, jsonb_object_agg(step, hours) AS step_hours FROM (
        SELECT inc.key, ev.to_status AS step, round((avg(extract(epoch FROM ev.at - ev.prev_at)) / 3600)::numeric, 2)::float AS hours
        FROM inc JOIN events ev ON ev.incident_id = inc.id WHERE ev.prev_at IS NOT NULL
        GROUP BY inc.key, ev.to_status
    ) s GROUP BY key
),
esc_agg AS (
    SELECT key, count(*) AS escalations,
           count(*) FILTER (WHERE acknowledged_at IS NOT NULL AND acknowledged_at <= ack_due_at) AS acknowledged_on_time,
           count(*) FILTER (WHERE acknowledged_at IS NOT NULL OR ack_due_at < CAST(:now AS timestamptz)) AS ack_decided,
           count(*) FILTER (WHERE responded_at IS NOT NULL AND responded_at <= respond_due_at) AS responded_on_time,
           count(*) FILTER (WHERE responded_at IS NOT NULL OR respond_due_at < CAST(:now AS timestamptz)) AS respond_decided,
           round((avg(extract(epoch FROM acknowledged_at - escalated_at)) / 3600)::numeric, 2)::float AS hours_to_acknowledge,
           round((avg(extract(epoch FROM responded_at - acknowledged_at)) / 3600)::numeric, 2)::float AS hours_to_respond
    FROM esc GROUP BY key
),
units AS (SELECT key FROM inc_agg UNION SELECT key FROM esc_agg),
scored AS (
    SELECT u.key,
           COALESCE(a.incidents, 0) AS incidents, COALESCE(a.closed, 0) AS closed, COALESCE(a.closed_on_time, 0) AS closed_on_time,
           COALESCE(a.closed_decided, 0) AS closed_decided, COALESCE(a.reopened, 0) AS reopened, COALESCE(a.rated, 0) AS rated,
           round(a.satisfaction::numeric, 2)::float AS satisfaction, COALESCE(s.step_hours, '{{}}'::jsonb) AS step_hours,
           COALESCE(e.escalations, 0) AS escalations, COALESCE(e.acknowledged_on_time, 0) AS acknowledged_on_time,
           COALESCE(e.ack_decided, 0) AS ack_decided, COALESCE(e.responded_on_time, 0) AS responded_on_time,
           COALESCE(e.respond_decided, 0) AS respond_decided, e.hours_to_acknowledge, e.hours_to_respond
    FROM units u LEFT JOIN inc_agg a ON a.key = u.key LEFT JOIN step_agg s ON s.key = u.key LEFT JOIN esc_agg e ON e.key = u.key
),
rated AS (
    SELECT *,
           round(closed_on_time::numeric / NULLIF(closed_decided, 0), 4)::float AS closed_on_time_rate,
           round(acknowledged_on_time::numeric / NULLIF(ack_decided, 0), 4)::float AS ack_on_time_rate,
           round(responded_on_time::numeric / NULLIF(respond_decided, 0), 4)::float AS respond_on_time_rate,
           round((acknowledged_on_time + closed_on_time)::numeric / NULLIF(ack_decided + closed_decided, 0), 4)::float AS on_time_rate
    FROM scored
)
SELECT RANK() OVER (ORDER BY on_time_rate DESC NULLS LAST, satisfaction DESC NULLS LAST) AS rank, *
FROM rated ORDER BY rank, key"""


def assess(session: Session, month: str, by: str, *, now: datetime | None = None) -> dict:
    """The month's assessment table, ranked (see the module docstring for what each figure counts)."""
    if by not in BY:
        raise AssessmentError(f"分组须为 {'、'.join(BY)} 之一", f"by must be one of {', '.join(BY)}, not {by!r}")
    t0, t1 = month_bounds(month)
    now = now or session.execute(text("SELECT now()")).scalar_one()
    rows = session.execute(text(_sql(by)), {"t0": t0, "t1": t1, "now": now}).mappings().all()
    return {"month": month, "by": by, "from": t0, "to": t1, "computed_at": now, "rows": [dict(r) for r in rows]}


#: (field, Chinese header) of the XLSX export, in order.
XLSX_COLUMNS = (
    ("rank", "排名"), ("key", "单位"), ("on_time_rate", "综合按时率"),
    ("escalations", "吹哨数"), ("acknowledged_on_time", "按时报到"), ("ack_on_time_rate", "按时报到率"),
    ("responded_on_time", "按时反馈"), ("respond_on_time_rate", "按时反馈率"), ("hours_to_acknowledge", "平均报到用时（小时）"),
    ("hours_to_respond", "平均反馈用时（小时）"), ("incidents", "事件数"), ("closed", "结案数"), ("closed_on_time", "按时结案"),
    ("closed_on_time_rate", "按时结案率"), ("reopened", "返工数"), ("rated", "评价数"), ("satisfaction", "满意度（1-5）"),
)
STEPS = ("受理", "派遣", "处置", "核查", "结案", "评价")


def export_xlsx(table: dict) -> bytes:
    """The assessment as a workbook: one sheet, the Chinese headers, one row per unit, mean hours per step."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = f"{table['month']} {BY_ZH[table['by']]}评价"
    ws.append([zh if f != "key" else BY_ZH[table["by"]] for f, zh in XLSX_COLUMNS] + [f"{s}平均用时（小时）" for s in STEPS])
    for r in table["rows"]:
        ws.append([r[f] for f, _ in XLSX_COLUMNS] + [r["step_hours"].get(s) for s in STEPS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
