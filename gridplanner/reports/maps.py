"""The three reports as folium maps: coverage (households and size status), staffing, incidents (heatmap and
open/overdue counts per grid). Chinese labels, legends and tooltips; no base map, so nothing is fetched."""

from __future__ import annotations

import html
from collections import Counter
from datetime import datetime

import folium
from folium.plugins import HeatMap
from sqlalchemy.orm import Session

from gridplanner.reports.offline import MAP_CSS, MAP_JS, ReportError, inline_assets
from tiles.features import items
from gridplanner.maplayers import LAYERS, Filters

ALL = 10_000_000
SEQUENTIAL = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
SIZE_STATUS = {"under": ("偏小", "#74add1"), "within": ("适中", "#66bd63"), "over": ("偏大", "#d73027"), "dedicated": ("专属网格", "#9970ab")}
STAFFING_STATUS = {"complete": ("配齐", "#1a9850"), "incomplete": ("不全", "#fdae61"), "unstaffed": ("无人", "#d73027")}


def _features(session: Session, layer: str, filters: Filters) -> list[dict]:
    page, _ = items(session, LAYERS[layer], filters, limit=ALL)
    return page


def _classes(breaks: list[float]) -> list[tuple[float, float, str, str]]:
    """(low, high, colour, label) for values in [low, high)."""
    edges = [float("-inf"), *breaks, float("inf")]
    out = []
    for i, colour in enumerate(SEQUENTIAL[: len(edges) - 1]):
        lo, hi = edges[i], edges[i + 1]
        label = f"< {breaks[0]:g}" if i == 0 else f"≥ {lo:g}" if hi == float("inf") else f"{lo:g} – {hi:g}"
        out.append((lo, hi, colour, label))
    return out


def _colour(value, classes) -> str:
    for lo, hi, colour, _ in classes:
        if lo <= (value or 0) < hi:
            return colour
    return "#cccccc"


def _legend(title: str, rows: list[tuple[str, str]], note: str = "", *, gradient: bool = False) -> str:
    if gradient:
        swatches = f'<div style="height:12px;background:linear-gradient(to right,{",".join(c for c, _ in rows)});"></div>' \
                   f'<div style="display:flex;justify-content:space-between"><span>{html.escape(rows[0][1])}</span><span>{html.escape(rows[-1][1])}</span></div>'
    else:
        swatches = "".join(
            f'<div><i style="display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:middle;background:{c};opacity:.8"></i>{html.escape(label)}</div>'
            for c, label in rows
        )
    extra = f'<div style="margin-top:4px;color:#555">{html.escape(note)}</div>' if note else ""
    return f'<div class="gp-legend-block"><b>{html.escape(title)}</b>{swatches}{extra}</div>'


def _panel(m: folium.Map, title: str, summary: list[str], legends: list[str]) -> None:
    body = "".join(f"<div>{html.escape(s)}</div>" for s in summary)
    panel = f"""<div class="gp-legend" style="position:fixed;top:12px;left:56px;z-index:1000;background:rgba(255,255,255,.92);
        padding:10px 12px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px/1.5 'Noto Sans CJK SC','Microsoft YaHei',sans-serif;max-width:260px">
        <div style="font-size:16px;font-weight:bold;margin-bottom:4px">{html.escape(title)}</div>{body}
        {''.join(f'<div style="margin-top:8px">{legend}</div>' for legend in legends)}</div>"""
    m.get_root().html.add_child(folium.Element(panel))


def _map(features: list[dict], title: str) -> folium.Map:
    if not features:
        raise ReportError(f"nothing to map for {title}: is a plan published (gridplanner demo / POST /api/v1/plans/.../publish)?")
    m = folium.Map(tiles=None, control_scale=True, zoom_control=True)
    # Only Leaflet is needed: folium's other defaults would link jQuery, Bootstrap and icon fonts from CDNs.
    m.default_js, m.default_css = list(MAP_JS), list(MAP_CSS)
    m.get_root().header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"))
    return m


def _fit(m: folium.Map, layer: folium.GeoJson) -> None:
    (s, w), (n, e) = layer.get_bounds()
    m.fit_bounds([[s, w], [n, e]])


def _tooltip(fields: dict[str, str]) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(fields=list(fields), aliases=list(fields.values()), localize=True, sticky=True)


def _fill(colour_of, weight: float = 0.6):
    return lambda f: {"fillColor": colour_of(f["properties"]), "color": "#333333", "weight": weight, "fillOpacity": 0.7}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def coverage(session: Session, filters: Filters) -> folium.Map:
    grids = _features(session, "grids", filters)
    m = _map(grids, "网格覆盖报告")
    for f in grids:
        f["properties"]["size_label"] = SIZE_STATUS.get(f["properties"]["size_status"], ("", ""))[0]
    tip = {"code": "网格编码", "community_code": "所属社区", "households": "户数", "population": "人口", "area_m2": "面积 (m²)", "size_label": "规模"}
    classes = _classes([200, 300, 400, 500])
    households = folium.GeoJson(_collection(grids), name="户数分布", style_function=_fill(lambda p: _colour(p["households"], classes)), tooltip=_tooltip(tip))
    households.add_to(m)
    folium.GeoJson(_collection(grids), name="规模状态", show=False, style_function=_fill(lambda p: SIZE_STATUS.get(p["size_status"], ("", "#ccc"))[1]), tooltip=_tooltip(tip)).add_to(m)
    communities = _features(session, "communities", Filters())
    if communities:
        folium.GeoJson(_collection(communities), name="社区边界", style_function=lambda f: {"fill": False, "color": "#000000", "weight": 2},
                       tooltip=_tooltip({"name": "社区", "code": "区划代码"})).add_to(m)
    counts = Counter(f["properties"]["size_status"] for f in grids)
    total_hh = sum(f["properties"]["households"] or 0 for f in grids)
    _panel(
        m, "网格覆盖报告",
        [f"网格 {len(grids)} 个，户数合计 {total_hh}", "规模：" + "，".join(f"{label} {counts.get(k, 0)}" for k, (label, _) in SIZE_STATUS.items())],
        [_legend("户数", [(c, label) for _, _, c, label in classes]), _legend("规模状态", [(c, label) for label, c in SIZE_STATUS.values()], "切换图层查看")],
    )
    _fit(m, households)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def staffing(session: Session, filters: Filters) -> folium.Map:
    grids = _features(session, "staffing", filters)
    m = _map(grids, "网格力量报告")
    for f in grids:
        f["properties"]["status_label"] = STAFFING_STATUS[f["properties"]["staffing_status"]][0]
    tip = {"code": "网格编码", "community_code": "所属社区", "leaders": "网格长", "full_time": "专职网格员", "part_time": "兼职网格员", "total": "合计", "status_label": "配备情况"}
    status = folium.GeoJson(_collection(grids), name="配备情况", style_function=_fill(lambda p: STAFFING_STATUS[p["staffing_status"]][1]), tooltip=_tooltip(tip))
    status.add_to(m)
    classes = _classes([1, 2, 3, 4])
    folium.GeoJson(_collection(grids), name="人员数", show=False, style_function=_fill(lambda p: _colour(p["total"], classes)), tooltip=_tooltip(tip)).add_to(m)
    counts = Counter(f["properties"]["staffing_status"] for f in grids)
    people = sum(f["properties"]["total"] for f in grids)
    _panel(
        m, "网格力量报告",
        [f"网格 {len(grids)} 个，在岗人员 {people} 人", "，".join(f"{label} {counts.get(k, 0)}" for k, (label, _) in STAFFING_STATUS.items())],
        [_legend("配备情况", [(c, label) for label, c in STAFFING_STATUS.values()], "配齐 = 网格长 + 专职网格员"),
         _legend("人员数", [(c, label) for _, _, c, label in classes])],
    )
    _fit(m, status)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def incidents(session: Session, filters: Filters) -> folium.Map:
    grid_filters = Filters(plan=filters.plan, version=filters.version, category=filters.category, start=filters.start, end=filters.end)
    grids = _features(session, "incident_counts", grid_filters)
    m = _map(grids, "事件报告")
    points = _features(session, "incidents", Filters(status=filters.status, category=filters.category, start=filters.start, end=filters.end))
    tip = {"code": "网格编码", "community_code": "所属社区", "total": "事件总数", "open": "未结案", "overdue": "超期"}
    classes = _classes([1, 3, 6, 11])
    counts = folium.GeoJson(
        _collection(grids), name="未结案事件数",
        style_function=lambda f: {**_fill(lambda p: _colour(p["open"], classes))(f), **({"color": "#7a0177", "weight": 3} if f["properties"]["overdue"] else {})},
        tooltip=_tooltip(tip),
    )
    counts.add_to(m)
    heat = [[f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0], 1.0] for f in points if f["properties"]["open"]]
    gradient = {0.2: "#2c7bb6", 0.4: "#abd9e9", 0.6: "#ffffbf", 0.8: "#fdae61", 1.0: "#d7191c"}
    if heat:
        HeatMap(heat, name="未结案事件热力", radius=20, blur=15, min_opacity=0.3, gradient=gradient).add_to(m)
    open_n = sum(1 for f in points if f["properties"]["open"])
    overdue_n = sum(1 for f in points if f["properties"]["overdue"])
    by_category = Counter(f["properties"]["category"] for f in points if f["properties"]["open"]).most_common(5)
    _panel(
        m, "事件报告",
        [f"事件 {len(points)} 件，未结案 {open_n} 件，超期 {overdue_n} 件", *(f"{c}：{n} 件未结案" for c, n in by_category)],
        [_legend("未结案事件数 (每网格)", [(c, label) for _, _, c, label in classes], "紫色粗边 = 有超期事件"),
         _legend("事件热力", [(c, label) for c, label in zip(gradient.values(), ["低", "", "", "", "高"])], gradient=True)],
    )
    _fit(m, counts)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


REPORTS = {"coverage": coverage, "staffing": staffing, "incidents": incidents}


def build_report(session: Session, kind: str, filters: Filters | None = None) -> str:
    """The self-contained HTML of report ``kind`` (coverage, staffing, incidents)."""
    if kind not in REPORTS:
        raise ReportError(f"unknown report {kind!r}; reports: {', '.join(REPORTS)}")
    m = REPORTS[kind](session, filters or Filters())
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    m.get_root().html.add_child(folium.Element(
        f'<div style="position:fixed;bottom:8px;left:50%;transform:translateX(-50%);z-index:1000;background:rgba(255,255,255,.85);padding:2px 6px;font:11px sans-serif">网格规划 Gridplanner · 生成于 {generated}</div>'
    ))
    return inline_assets(m.get_root().render())
