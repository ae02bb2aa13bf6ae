"""The rules of tasks sent by area, as pure functions: the drawn area, the deadline, the steps of a grid's task.

A task goes sent → acknowledged (the grid's worker has seen it) → completed (with a note of what was done);
nothing else, so the sender can trust what each grid's row says. A task is overdue while it is not completed
and its deadline has passed.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import shapely
from shapely.geometry.base import BaseGeometry

from gridplanner.gridwork.messages import GridWorkError

SENT, ACKNOWLEDGED, COMPLETED = "sent", "acknowledged", "completed"
TASK_STATUSES = (SENT, ACKNOWLEDGED, COMPLETED)
TASK_STATUS_ZH = {SENT: "已下发", ACKNOWLEDGED: "已签收", COMPLETED: "已完成"}
TASK_STEPS = {SENT: (ACKNOWLEDGED,), ACKNOWLEDGED: (COMPLETED,), COMPLETED: ()}
#: Rough mainland box (with islands), the one incidents use: an area outside it has swapped or zeroed coordinates.
CHINA = (73.0, 3.0, 136.0, 54.0)
MAX_NOTE = 2000


class TaskRuleError(GridWorkError):
    """An area, deadline or note the rules refuse (422)."""


class TaskStepError(GridWorkError):
    """A step the task's status does not allow (409)."""


class TaskForbidden(GridWorkError):
    """The caller may not act on this task or send to these grids (403)."""


class TaskNotFound(GridWorkError, LookupError):
    pass


def check_area(geometry) -> BaseGeometry:
    """A GeoJSON Polygon or MultiPolygon (or a Feature holding one) in lon/lat, valid and in China, as a
    MultiPolygon.

    >>> check_area({"type": "Polygon", "coordinates": [[[120, 30], [120.1, 30], [120.1, 30.1], [120, 30]]]}).geom_type
    'MultiPolygon'
    >>> check_area({"type": "Point", "coordinates": [120, 30]})
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.task_rules.TaskRuleError: 区域须为 Polygon 或 MultiPolygon，而不是 Point (the area must be a Polygon or MultiPolygon, not Point)
    """
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not isinstance(geometry, dict):
        raise TaskRuleError("区域须为 GeoJSON 几何", "the area must be a GeoJSON geometry")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise TaskRuleError(f"区域须为 Polygon 或 MultiPolygon，而不是 {kind}", f"the area must be a Polygon or MultiPolygon, not {kind}")
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise TaskRuleError("区域不是可读的 GeoJSON", f"the area is not readable GeoJSON ({exc})") from None
    if shape.is_empty:
        raise TaskRuleError("区域是空的", "the area is empty")
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise TaskRuleError(f"区域轮廓无效（{reason}）：请重新绘制", f"the area's outline is not valid ({reason}): draw it again")
    x0, y0, x1, y1 = shape.bounds
    if x0 < CHINA[0] or y0 < CHINA[1] or x1 > CHINA[2] or y1 > CHINA[3]:
        raise TaskRuleError("区域不在中国境内：请检查经纬度顺序（经度在前）", "the area is not in China: check the order (lon, lat)")
    return shape if shape.geom_type == "MultiPolygon" else shapely.MultiPolygon([shape])


#: What a sender may pick instead of drawing: field -> (code pattern, Chinese name).
PICKS = {"street_codes": (re.compile(r"^\d{9}$"), "街道"), "community_codes": (re.compile(r"^\d{12}$"), "社区"), "grid_codes": (re.compile(r"^[0-9A-Za-z]{1,32}$"), "网格")}
MAX_PICKED = 10_000


def check_selection(area=None, **picked) -> tuple[str, object]:
    """Exactly one way of saying where: a drawn ``area``, or ``street_codes``, ``community_codes`` or
    ``grid_codes``. Returns (kind, the area as a MultiPolygon or the sorted distinct codes).

    >>> check_selection(street_codes=["330106001", "330106001"])
    ('street_codes', ['330106001'])
    >>> check_selection(community_codes=["3301"])
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.task_rules.TaskRuleError: 社区编码格式不对：3301 (community_codes: malformed code(s) 3301)
    """
    given = {k: v for k, v in picked.items() if v}
    unknown = set(given) - set(PICKS)
    if unknown:
        raise TypeError(f"unknown selection {sorted(unknown)}")
    ways = len(given) + (area is not None)
    if ways != 1:
        raise TaskRuleError("请画出区域，或选择街道、社区或网格（只选一种）", "give exactly one of area, street_codes, community_codes or grid_codes")
    if area is not None:
        return "area", check_area(area)
    kind, codes = next(iter(given.items()))
    pattern, zh = PICKS[kind]
    codes = sorted({str(c).strip() for c in codes})
    bad = [c for c in codes if not pattern.match(c)]
    if bad:
        raise TaskRuleError(f"{zh}编码格式不对：{'、'.join(bad[:20])}", f"{kind}: malformed code(s) {', '.join(bad[:20])}")
    if len(codes) > MAX_PICKED:
        raise TaskRuleError(f"一次最多选择 {MAX_PICKED} 个{zh}", f"{kind}: at most {MAX_PICKED}")
    return kind, codes


def check_due(due_at: datetime, now: datetime) -> None:
    if due_at.tzinfo is None:
        raise TaskRuleError("截止时间须带时区（如 2026-12-10T18:00:00+08:00）", "due_at needs a time zone offset (such as 2026-12-10T18:00:00+08:00)")
    if due_at <= now:
        raise TaskRuleError("截止时间须晚于现在", "due_at must be in the future")


def check_task_step(task_id: int, current: str, to: str) -> None:
    """>>> check_task_step(1, "sent", "acknowledged")
    >>> check_task_step(1, "sent", "completed")
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.task_rules.TaskStepError: 任务 1 为已下发，须先签收 (task 1 is sent: acknowledge it before completing it)
    """
    if to in TASK_STEPS[current]:
        return
    if current == SENT and to == COMPLETED:
        raise TaskStepError(f"任务 {task_id} 为已下发，须先签收", f"task {task_id} is sent: acknowledge it before completing it")
    raise TaskStepError(f"任务 {task_id} {TASK_STATUS_ZH[current]}，不能再{ {ACKNOWLEDGED: '签收', COMPLETED: '完成'}.get(to, to)}", f"task {task_id} is {current}: it cannot become {to}")


def check_note(note: str | None) -> str:
    cleaned = (note or "").strip()
    if not cleaned:
        raise TaskRuleError("完成任务须填写办理情况", "a note of what was done is required to complete a task")
    if len(cleaned) > MAX_NOTE:
        raise TaskRuleError(f"办理情况最多 {MAX_NOTE} 个字符", f"note: at most {MAX_NOTE} characters")
    return cleaned


#: The first bytes of the image types a task photo may be: what the file is, whatever its name or header says.
IMAGE_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def photo_type(data: bytes, max_bytes: int) -> str:
    """The media type of a task photo (JPEG or PNG, by its content), or TaskRuleError.

    >>> photo_type(b"\\x89PNG\\r\\n\\x1a\\n...", 100)
    'image/png'
    >>> photo_type(b"GIF89a", 100)
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.task_rules.TaskRuleError: 照片须为 JPEG 或 PNG 图片 (the photo must be a JPEG or PNG image)
    """
    if not data:
        raise TaskRuleError("照片是空的", "the photo is empty")
    if len(data) > max_bytes:
        raise TaskRuleError(f"照片超过 {max_bytes // 1024} KB 的上限", f"the photo is larger than the limit of {max_bytes // 1024} KB")
    for magic, media in IMAGE_MAGIC.items():
        if data.startswith(magic):
            return media
    raise TaskRuleError("照片须为 JPEG 或 PNG 图片", "the photo must be a JPEG or PNG image")


def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    """Not completed and past its deadline."""
    return status != COMPLETED and now > due_at
