"""The rules of patrol visits (巡查走访), as pure functions: where the worker went (a point, or a track as GeoJSON
or GPX) and when.

Bengbu's 全科社工 walk their grids under 六巡查四服务: a visit is worth recording with where it went, so the
share of buildings visited per grid can be measured rather than asserted. A track is what the phone recorded
(GPX is what GPS apps export); its times, when it has them, say when the visit began and ended.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import shapely
from shapely.geometry.base import BaseGeometry

from gridplanner.gridwork.messages import GridWorkError

#: The same rough box of China the incidents and tasks use: outside it the coordinates are swapped or zeroed.
CHINA = (73.0, 3.0, 136.0, 54.0)
MAX_POINTS = 20_000  # a day's walk at one fix a second is fewer
MAX_HOURS = 24
MAX_NOTE = 2000


class PatrolRuleError(GridWorkError):
    """A track, time or field the rules refuse (422)."""


class PatrolForbidden(GridWorkError):
    """Not this worker's grid or visit (403)."""


class PatrolNotFound(GridWorkError, LookupError):
    pass


def _in_china(shape: BaseGeometry) -> bool:
    x0, y0, x1, y1 = shape.bounds
    return CHINA[0] <= x0 and x1 <= CHINA[2] and CHINA[1] <= y0 and y1 <= CHINA[3]


def track_from_geojson(geometry) -> BaseGeometry:
    """A GeoJSON Point or LineString (or a Feature of one) in lon/lat.

    >>> track_from_geojson({"type": "LineString", "coordinates": [[120.1, 30.27], [120.101, 30.271]]}).geom_type
    'LineString'
    >>> track_from_geojson({"type": "Polygon", "coordinates": [[[120, 30], [120.1, 30], [120.1, 30.1], [120, 30]]]})
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.patrol_rules.PatrolRuleError: 巡查轨迹须为 Point 或 LineString，而不是 Polygon (a visit's place must be a Point or a LineString, not Polygon)
    """
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Point", "LineString"):
        raise PatrolRuleError(f"巡查轨迹须为 Point 或 LineString，而不是 {kind}", f"a visit's place must be a Point or a LineString, not {kind}")
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except Exception:  # shapely raises GEOSException or ValueError for malformed coordinates
        raise PatrolRuleError("巡查轨迹的坐标无法读取", "the coordinates of the track cannot be read") from None
    return check_track(shape)


def track_from_gpx(data: bytes | str) -> tuple[BaseGeometry, datetime | None, datetime | None]:
    """The track of a GPX file (its track points, else route points, else waypoints) with its first and last
    times when the points carry them.

    >>> gpx = '''<gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
    ... <trkpt lat="30.2701" lon="120.1001"><time>2026-12-07T01:00:00Z</time></trkpt>
    ... <trkpt lat="30.2712" lon="120.1013"><time>2026-12-07T01:40:00Z</time></trkpt></trkseg></trk></gpx>'''
    >>> shape, start, end = track_from_gpx(gpx)
    >>> shape.geom_type, start.isoformat(), end.isoformat()
    ('LineString', '2026-12-07T01:00:00+00:00', '2026-12-07T01:40:00+00:00')
    """
    raw = data.encode() if isinstance(data, str) else data
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        # GPX needs no document type; entity declarations are how XML bombs expand a small upload into gigabytes.
        raise PatrolRuleError("GPX 文件不能包含 DOCTYPE 或实体声明", "a GPX file may not carry a DOCTYPE or entity declarations")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise PatrolRuleError(f"GPX 文件无法解析（{exc}）", f"the GPX file cannot be parsed ({exc})") from None
    points = []
    for tag in ("trkpt", "rtept", "wpt"):
        points = [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == tag]
        if points:
            break
    if not points:
        raise PatrolRuleError("GPX 文件中没有轨迹点", "the GPX file holds no track points")
    coords, times = [], []
    for p in points:
        try:
            coords.append((float(p.get("lon")), float(p.get("lat"))))
        except (TypeError, ValueError):
            raise PatrolRuleError("GPX 轨迹点缺少 lat/lon", "a GPX point lacks lat/lon") from None
        t = next((c.text for c in p if c.tag.rsplit("}", 1)[-1] == "time" and c.text), None)
        if t:
            try:
                times.append(datetime.fromisoformat(t.strip().replace("Z", "+00:00")))
            except ValueError:
                raise PatrolRuleError(f"GPX 时间 {t!r} 无法读取", f"GPX time {t!r} cannot be read") from None
    shape = shapely.Point(coords[0]) if len(coords) == 1 else shapely.LineString(coords)
    return check_track(shape), (min(times) if times else None), (max(times) if times else None)


def check_track(shape: BaseGeometry) -> BaseGeometry:
    if shape.is_empty:
        raise PatrolRuleError("巡查轨迹是空的", "the track is empty")
    n = shapely.get_num_coordinates(shape)
    if n > MAX_POINTS:
        raise PatrolRuleError(f"轨迹最多 {MAX_POINTS} 个点，而不是 {n}", f"a track has at most {MAX_POINTS} points, not {n}")
    if not _in_china(shape):
        raise PatrolRuleError("巡查轨迹不在中国境内：请检查经纬度顺序（先经度后纬度）", "the track is not in China: check the order (lon, lat)")
    return shape


def check_times(started_at: datetime | None, ended_at: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """A visit has a start and an end with time zones; it ends after it starts, within a day, not in the future.

    >>> from datetime import timezone
    >>> now = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    >>> check_times(datetime(2026, 12, 7, 9, tzinfo=timezone.utc), None, now)[1].hour  # no end: a moment's visit
    9
    >>> check_times(datetime(2026, 12, 7, 9, tzinfo=timezone.utc), datetime(2026, 12, 7, 8, tzinfo=timezone.utc), now)
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.patrol_rules.PatrolRuleError: 结束时间早于开始时间 (the visit ends before it starts)
    """
    if started_at is None:
        raise PatrolRuleError("须写明巡查开始时间（或上传带时间的 GPX）", "started_at is required (or a GPX track with times)")
    ended_at = ended_at or started_at
    if started_at.tzinfo is None or ended_at.tzinfo is None:
        raise PatrolRuleError("时间须带时区（如 2026-12-07T09:00:00+08:00）", "times must carry an offset, such as 2026-12-07T09:00:00+08:00")
    if ended_at < started_at:
        raise PatrolRuleError("结束时间早于开始时间", "the visit ends before it starts")
    if ended_at - started_at > timedelta(hours=MAX_HOURS):
        raise PatrolRuleError(f"一次巡查最长 {MAX_HOURS} 小时", f"a visit lasts at most {MAX_HOURS} hours")
    if ended_at > now + timedelta(minutes=5):  # a phone's clock may run a little fast
        raise PatrolRuleError("巡查时间不能在将来", "a visit cannot end in the future")
    return started_at, ended_at
