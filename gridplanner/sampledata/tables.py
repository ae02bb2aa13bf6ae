"""Tables of the sample district: the grid staff roster and a stream of reported incidents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplanner.sampledata import names as N

ROLES = ["网格长", "专职网格员", "兼职网格员"]
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"

CATEGORIES = ["市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "其他", "矛盾纠纷", "安全隐患", "民生服务"]
CATEGORY_WEIGHTS = np.array([0.24, 0.08, 0.07, 0.15, 0.02, 0.04, 0.14, 0.12, 0.14])
STATUSES = ["上报", "受理", "派遣", "处置", "核查", "结案", "评价"]
DESCRIPTIONS = {
    "市容环境": ["小区门口垃圾堆放未及时清运", "道路两侧绿化带内有大量垃圾", "公厕卫生状况差，异味明显", "沿街店铺门前污水横流"],
    "宣传广告": ["电线杆上张贴小广告", "楼道内乱贴乱画", "私设户外广告牌占用人行道"],
    "施工管理": ["工地夜间施工噪声扰民", "渣土车沿途洒落", "施工围挡破损未修复"],
    "街面秩序": ["店外经营占用人行道", "机动车乱停放堵塞消防通道", "流动摊贩占道经营", "共享单车堆放影响通行"],
    "突发事件": ["路面塌陷需设置警示", "暴雨后地下通道积水", "树木倒伏阻断道路"],
    "其他": ["居民咨询政策办理流程", "反映路灯不亮"],
    "矛盾纠纷": ["邻里因楼道堆物发生纠纷", "租户与房东押金纠纷", "楼上漏水引发邻里矛盾", "物业费收缴纠纷"],
    "安全隐患": ["电动车楼道内充电", "老旧小区燃气管道锈蚀", "消防栓损坏无水", "高空悬挂物有坠落风险"],
    "民生服务": ["独居老人需上门探访", "申请残疾人补贴咨询", "小区加装电梯意见征集", "低保家庭帮扶需求"],
}
TZ = timezone(timedelta(hours=8))
INCIDENT_WINDOW_END = datetime(2026, 11, 1, tzinfo=TZ)
INCIDENT_WINDOW_DAYS = 60
N_OUTSIDE = 6


def id_check_digit(first17: str) -> str:
    """GB 11643 check digit (ISO 7064 MOD 11-2) of the first 17 digits of a citizen id number."""
    return ID_CHECK[int(np.dot(ID_WEIGHTS, [int(ch) for ch in first17])) % 11]


def staff_table(rng: np.random.Generator, communities: gpd.GeoDataFrame, households: np.ndarray) -> pd.DataFrame:
    """Per grid (about one per 400 households): 1 网格长, 1 专职网格员 and 2–4 兼职网格员 (all fictitious)."""
    rows = []
    for code, hh in zip(communities["code"], households):
        n_grids = max(1, int(round(hh / 400)))
        for g in range(1, n_grids + 1):
            grid_code = f"{code}{g:03d}"
            roles = ["网格长", "专职网格员"] + ["兼职网格员"] * int(rng.integers(2, 5))
            rows.extend({"grid_code": grid_code, "role": r} for r in roles)
    n = len(rows)
    frame = pd.DataFrame(rows)
    frame.insert(0, "name", N.person_names(rng, n))
    frame.insert(1, "phone", ["1" + a + "".join(b) for a, b in zip(rng.choice(list("3456789"), n),
                                                                    rng.choice(list("0123456789"), (n, 9)))])
    birth = pd.Timestamp("1965-01-01") + pd.to_timedelta(rng.integers(0, 35 * 365, n), unit="D")
    first17 = [f"{c[:6]}{b:%Y%m%d}{s:03d}" for c, b, s in zip(frame["grid_code"], birth, rng.integers(1, 1000, n))]
    frame["id_number"] = [f + id_check_digit(f) for f in first17]
    return frame[["name", "phone", "role", "grid_code", "id_number"]]


def incident_table(rng: np.random.Generator, buildings: gpd.GeoDataFrame, roads: gpd.GeoDataFrame,
                   outline: shapely.Geometry, n: int) -> pd.DataFrame:
    """Incidents (WGS84 lon/lat) near buildings (weighted by size) and along roads, a few outside every community."""
    n_outside = min(N_OUTSIDE, n)
    n_road = int(round((n - n_outside) * 0.15))
    n_bldg = n - n_outside - n_road
    cent = shapely.centroid(buildings.geometry.values)
    w = shapely.area(buildings.geometry.values)
    pick = rng.choice(len(cent), n_bldg, p=w / w.sum())
    bx = shapely.get_x(cent[pick]) + rng.normal(0, 12, n_bldg)
    by = shapely.get_y(cent[pick]) + rng.normal(0, 12, n_bldg)
    lines = roads.geometry.values
    lw = shapely.length(lines)
    on = shapely.line_interpolate_point(lines[rng.choice(len(lines), n_road, p=lw / lw.sum())], rng.random(n_road),
                                        normalized=True)
    rx, ry = shapely.get_x(on) + rng.normal(0, 5, n_road), shapely.get_y(on) + rng.normal(0, 5, n_road)
    x, y = np.concatenate([bx, rx]), np.concatenate([by, ry])
    # Jitter must not push a point out of the district: only the planted ones are outside.
    fallback = np.concatenate([shapely.get_x(cent[pick]), shapely.get_x(on)]), np.concatenate([shapely.get_y(cent[pick]), shapely.get_y(on)])
    shapely.prepare(outline)
    out = ~shapely.contains_xy(outline, x, y)
    x[out], y[out] = fallback[0][out], fallback[1][out]
    still = ~shapely.contains_xy(outline, x, y)
    c = shapely.centroid(outline)
    x[still], y[still] = c.x, c.y
    # Planted: 0.5–2 km beyond the district edge (a report misplaced by the app, or just over the border).
    ang = rng.uniform(0, 2 * np.pi, n_outside)
    far = shapely.buffer(outline, 500)
    ox, oy = [], []
    minx, miny, maxx, maxy = shapely.bounds(outline)
    reach = np.hypot(maxx - minx, maxy - miny)
    for a in ang:
        ray = shapely.LineString([(c.x, c.y), (c.x + reach * np.cos(a), c.y + reach * np.sin(a))])
        edge = shapely.intersection(ray, shapely.boundary(far))
        pts = shapely.get_coordinates(edge)
        px, py = pts[np.argmax(np.hypot(pts[:, 0] - c.x, pts[:, 1] - c.y))]
        d = rng.uniform(0, 1500)
        ox.append(px + d * np.cos(a))
        oy.append(py + d * np.sin(a))
    x, y = np.concatenate([x, ox]), np.concatenate([y, oy])
    lonlat = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=buildings.crs).to_crs(4326)
    # Mostly reported in the daytime (07:00–21:00), some at night.
    day = rng.integers(0, INCIDENT_WINDOW_DAYS, n)
    time_of_day = np.where(rng.random(n) < 0.85, rng.uniform(7 * 3600, 21 * 3600, n), rng.uniform(0, 86400, n))
    seconds = np.sort(np.floor((day + 1) * 86400 - time_of_day))[::-1]
    order = rng.permutation(n)  # time order independent of where the point came from
    when = [INCIDENT_WINDOW_END - timedelta(seconds=float(s)) for s in seconds]
    category = rng.choice(CATEGORIES, n, p=CATEGORY_WEIGHTS / CATEGORY_WEIGHTS.sum())
    age = seconds / 86400
    # Older cases are further along the flow; recent ones may still be open.
    progress = np.clip(np.round(age / 10 + rng.normal(1, 1.5, n)), 0, len(STATUSES) - 1).astype(int)
    frame = pd.DataFrame({
        "reported_at": [w.isoformat(timespec="seconds") for w in when],
        "category": category,
        "status": [STATUSES[p] for p in progress],
        "lon": np.round(lonlat.x.to_numpy()[order], 6),
        "lat": np.round(lonlat.y.to_numpy()[order], 6),
        "description": [DESCRIPTIONS[c][int(rng.integers(len(DESCRIPTIONS[c])))] for c in category],
    })
    day = [w.strftime("%Y%m%d") for w in when]
    seq = pd.Series(day).groupby(day).cumcount() + 1
    frame.insert(0, "id", [f"SJ{d}{s:04d}" for d, s in zip(day, seq)])
    return frame[["id", "category", "status", "reported_at", "lon", "lat", "description"]]
