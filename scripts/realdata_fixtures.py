#!/usr/bin/env python
"""Build the real-data test fixtures (tests/data/realdata/) from the shared real data set.

The division and merge engines are mostly exercised on the project's own generator, whose geometry is clean
by construction. These fixtures are cut from real public data (Shenzhen Nanshan buildings and OSM roads,
Suzhou Gusu buildings, real 统计用区划代码) so that tests meet real mess: self-touching footprints, multipart
buildings, towers next to sheds, buildings across block lines, and department layers that overlap, leave gaps
and self-intersect the way hand-drawn layers do.

Everything is deterministic: k-means is seeded, every list is put in an explicit order before ids or codes
are given out, and no step depends on dict or set iteration order. Source coordinates of buildings and roads
are written unmodified; nothing is cleaned or repaired (messy is the point).

    .venv/bin/python scripts/realdata_fixtures.py                       # the committed fixtures
    .venv/bin/python scripts/realdata_fixtures.py --full --out /tmp/rd  # whole extents, for benchmarks

See tests/data/realdata/README.md for what each file is, the sources and their licences.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = Path("/work/shared/realdata")
DEFAULT_OUT = ROOT / "tests" / "data" / "realdata"

#: Source (and output) CRS: the shared data is lon/lat WGS84 (declared CRS84).
GEO = "EPSG:4326"

#: Floor area per household, the same figure the planner's documented estimate uses
#: (gridplanner.planning.households.FLOOR_AREA_PER_HOUSEHOLD_M2); used here only to size department layers.
M2_PER_HOUSEHOLD = 90.0
#: Storey height used to turn Nanshan's `height` (metres) into floors.
STOREY_M = 3.0

#: Road classes that bound stand-in communities: what planners in city centres treat as "major roads".
MAJOR_HIGHWAYS = ("trunk", "primary", "secondary", "tertiary")

SEED = 20240611  # one seed; every random step derives its own stream from it and a name


@dataclass(frozen=True)
class Site:
    """One study area: where its files are, which CRS measures it, which county's codes it borrows."""

    key: str  # output folder
    src_dir: str  # folder under the shared real data
    metric_epsg: int  # CGCS2000 3-degree Gauss–Krüger zone (the project measures in these)
    county: str  # 6-digit county code whose community codes the stand-ins take
    codes_csv: str
    box: tuple[float, float, float, float]  # committed extract (lon/lat); ignored with --full


# The committed extents were chosen by scanning boxes on a 0.002° (Nanshan) / 0.0005° (Gusu) lattice for
# ≤ 1,500 buildings and, for Nanshan, 8–15 road-bounded blocks, preferring boxes that hold the sources' odd
# buildings (a multipart footprint, a repeated vertex, overlapping footprints, the 181–228 m towers).
NANSHAN = Site("nanshan", "shenzhen_nanshan", 4547, "440305", "codes_guangdong.csv", (113.920, 22.506, 113.936, 22.522))
GUSU = Site("gusu", "suzhou_gusu", 4549, "320508", "codes_jiangsu.csv", (120.603, 31.2915, 120.6165, 31.305))


@dataclass
class Params:
    """Knobs of the stand-in layers, kept in one place so the full-extent build uses the same rules."""

    block_min_width_m: float = 50.0  # faces narrower than this are carriageway medians / slip-road islands
    block_min_area_m2: float = 10_000.0  # ... and faces under 1 ha are road space too, not blocks
    gusu_buildings_per_community: int = 130  # sets k for Gusu's k-means communities (1,421 buildings -> 11)
    gusu_hull_buffer_m: float = 30.0
    households_per_zongzhi: int = 400
    households_per_dangjian: int = 300  # Gusu only; Nanshan's 党建 follows all roads
    chengguan_cell_m: float = 350.0
    chengguan_angle_deg: float = 17.0
    dangjian_min_block_m2: float = 2_000.0
    zongzhi_overlap_m: float = 1.5
    chengguan_gap_m: float = 2.0
    overlap_m: float = 1.0  # communities_dirty: one pair overlaps by this much
    gap_m: float = 0.5  # ... and one pair leaves this gap
    tiny_deg: float = 1e-9  # near-duplicate vertices and spike width


@dataclass
class Manifest:
    """What was built: written to manifest.json so tests can find each deliberate defect without guessing."""

    data: dict = field(default_factory=dict)

    def put(self, site: str, key: str, value) -> None:
        self.data.setdefault(site, {})[key] = value


# ----------------------------------------------------------------------------------------------------------
# Input and output


def read_source(src: Path, site: Site, name: str) -> gpd.GeoDataFrame:
    frame = gpd.read_file(src / site.src_dir / f"{name}.geojson")
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise SystemExit(f"{site.src_dir}/{name}.geojson: expected lon/lat WGS84, got {frame.crs}")
    return frame


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    """GeoJSON with GDAL's default options: full double precision (coordinates round-trip exactly),
    and no RFC 7946 mode, which would re-wind rings and round to 7 decimals (changing the source)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")


def community_codes(src: Path, site: Site, n: int) -> list[tuple[str, str]]:
    """The first ``n`` real village/community-level codes of the county, in code order, with their names.

    The stand-in polygons are not the real communities; borrowing real codes lets the code checks
    (structure, parents) run on the fixtures as they would on a district's own layer."""
    codes = pd.read_csv(src / "codes" / site.codes_csv, dtype=str)
    rows = codes[(codes["county_code"] == site.county) & (codes["level"] == "village")].sort_values("code12")
    if len(rows) < n:
        raise SystemExit(f"{site.county} has only {len(rows)} community codes, {n} needed")
    return list(zip(rows["code12"].head(n), rows["name"].head(n)))


# ----------------------------------------------------------------------------------------------------------
# Measuring and ordering


def to_metric(geoms, epsg: int) -> np.ndarray:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=GEO).to_crs(epsg).values


def to_geo(geoms, epsg: int) -> np.ndarray:
    return gpd.GeoSeries(np.asarray(geoms, dtype=object), crs=epsg).to_crs(GEO).values


def area_m2(geoms, epsg: int) -> np.ndarray:
    return shapely.area(to_metric(geoms, epsg))


def reading_order(geoms) -> np.ndarray:
    """Indices north to south, then west to east (by representative point, rounded to ~10 m so rows form):
    an explicit order, so ids and codes never depend on how GEOS happened to return the pieces."""
    xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(geoms, dtype=object)))
    return np.lexsort((xy[:, 0], -np.round(xy[:, 1], 4)))


def estimated_households(buildings: gpd.GeoDataFrame, epsg: int) -> np.ndarray:
    """max(1, round(floors x footprint m² / 90)) per building, the project's documented rule; floors are
    height / 3 where the data only has a height (Nanshan). Only used to size the department layers."""
    floors = (
        buildings["floors"].to_numpy(float) if "floors" in buildings else buildings["height"].to_numpy(float) / STOREY_M
    )
    return np.maximum(1, np.round(floors * area_m2(buildings.geometry.values, epsg) / M2_PER_HOUSEHOLD))


# ----------------------------------------------------------------------------------------------------------
# Geometry building blocks


def rng_for(name: str) -> np.random.Generator:
    """A random stream per use, so adding a step never changes what another step draws."""
    return np.random.default_rng([SEED, *name.encode()])


def kmeans(xy: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 200) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding (numpy only: the project has no scipy / scikit-learn)."""
    if not 1 <= k <= len(xy):
        raise ValueError(f"k={k} for {len(xy)} points")
    centres = np.empty((k, 2))
    centres[0] = xy[rng.integers(len(xy))]
    d2 = ((xy - centres[0]) ** 2).sum(1)
    for j in range(1, k):
        centres[j] = xy[rng.choice(len(xy), p=d2 / d2.sum())]
        d2 = np.minimum(d2, ((xy - centres[j]) ** 2).sum(1))
    for _ in range(iterations):
        label = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(2).argmin(1)
        moved = np.array([xy[label == j].mean(0) if (label == j).any() else centres[j] for j in range(k)])
        if np.array_equal(moved, centres):
            break
        centres = moved
    return centres


def voronoi_cells(centres_m: np.ndarray, outline: Polygon, epsg: int) -> list[Polygon]:
    """Voronoi cells of metric centres, taken back to lon/lat and clipped there to the outline, so that the
    layer's outer edge is exactly the study area's outline (the same coordinates as the communities')."""
    outline_m = to_metric([outline], epsg)[0]
    cells_m = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(centres_m), extend_to=outline_m.buffer(1_000), ordered=True)
    )
    clipped = shapely.intersection(to_geo(cells_m, epsg), outline)
    return [g for g in polygonal(clipped) if not g.is_empty]


def polygonal(geoms) -> list:
    """Keep the polygonal part of overlay results (a clip can also return touching lines or points)."""
    out = []
    for g in geoms:
        parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
        out.append(Polygon() if not parts else parts[0] if len(parts) == 1 else MultiPolygon(parts))
    return out


def road_faces(roads: gpd.GeoDataFrame, outline: Polygon) -> np.ndarray:
    """Faces of the road network inside the outline: roads clipped to it, noded together with its boundary
    (polygonize needs lines that meet at nodes), then polygonized. Dangling road ends simply drop out."""
    clipped = shapely.intersection(roads.geometry.values, outline)
    clipped = clipped[~shapely.is_empty(clipped)]
    noded = shapely.union_all([*clipped, outline.boundary])
    return shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))


def is_block(faces: np.ndarray, epsg: int, params: Params) -> np.ndarray:
    """True for faces a planner would call a block. Dual carriageways and interchanges leave long thin faces
    between their lines (medians, slip-road islands, 5–15 m wide); those are road space, not communities."""
    metric = to_metric(faces, epsg)
    width = np.array([2 * shapely.length(shapely.maximum_inscribed_circle(g, 0.5)) for g in metric])
    return (width >= params.block_min_width_m) & (shapely.area(metric) >= params.block_min_area_m2)


def dissolve_small(faces: list, epsg: int, min_area_m2: float) -> list:
    """Merge every face under ``min_area_m2`` into the neighbour it shares the longest edge with, smallest
    first, until none is left (a 党建 secretary does not draw a grid around a traffic island)."""
    faces = list(faces)
    while True:
        areas = area_m2(faces, epsg)
        small = [i for i in np.argsort(areas, kind="stable") if areas[i] < min_area_m2]
        if not small:
            return faces
        i = small[0]
        touching = np.flatnonzero(shapely.intersects(np.asarray(faces, dtype=object), faces[i]))
        shared = [
            (shapely.length(shapely.intersection(faces[i].boundary, faces[j].boundary)), -j) for j in touching if j != i
        ]
        best_len, neg_j = max(shared, default=(0.0, 0))
        if best_len == 0:  # an island touching nothing: leave it, nobody could absorb it
            return faces
        j = -neg_j
        faces[j] = shapely.union(faces[j], faces[i])
        del faces[i]


def rotated_grid(outline: Polygon, epsg: int, cell_m: float, angle_deg: float) -> tuple[list, list, dict]:
    """Squares of ``cell_m`` in a frame rotated by ``angle_deg`` about the outline's centre, clipped to the
    outline (in lon/lat, so the outer edge is the outline's own). Returns cells, their (row, col), and what
    is needed to draw more lines in the same frame."""
    outline_m = to_metric([outline], epsg)[0]
    centre = outline_m.centroid
    frame = shapely.affinity.rotate(outline_m, -angle_deg, origin=centre)
    x0, y0, x1, y1 = frame.bounds
    cols = int(np.ceil((x1 - x0) / cell_m))
    rows = int(np.ceil((y1 - y0) / cell_m))
    squares, rc = [], []
    for r in range(rows):
        for c in range(cols):
            sq = shapely.box(x0 + c * cell_m, y0 + r * cell_m, x0 + (c + 1) * cell_m, y0 + (r + 1) * cell_m)
            squares.append(shapely.affinity.rotate(sq, angle_deg, origin=centre))
            rc.append((r, c))
    clipped = polygonal(shapely.intersection(to_geo(squares, epsg), outline))
    keep = [i for i, g in enumerate(clipped) if not g.is_empty]
    return [clipped[i] for i in keep], [rc[i] for i in keep], {"origin": (x0, y0), "centre": centre}


def department_frame(geoms: list, prefix: str, dept: str, **extra: list) -> gpd.GeoDataFrame:
    """Ids like ZZ-001 in reading order, names like 综治第1网格 (``extra`` columns follow the same order)."""
    order = reading_order(geoms)
    columns = {
        "id": [f"{prefix}-{n:03d}" for n in range(1, len(geoms) + 1)],
        "name": [f"{dept}第{n}网格" for n in range(1, len(geoms) + 1)],
    }
    columns.update({name: [values[i] for i in order] for name, values in extra.items()})
    return gpd.GeoDataFrame(columns, geometry=[geoms[i] for i in order], crs=GEO)


def set_geoms(layer: gpd.GeoDataFrame, geoms) -> None:
    layer[layer.geometry.name] = gpd.GeoSeries(np.asarray(geoms, dtype=object), index=layer.index, crs=GEO)


# ----------------------------------------------------------------------------------------------------------
# Deliberate defects (each returns what it did, for the manifest)


def buffer_all(layer: gpd.GeoDataFrame, epsg: int, metres: float) -> dict:
    """Every cell grown by ``metres`` (mitred, so corners stay corners): each overlaps all its neighbours and
    sticks out past the study area, as when a department traces its lines with a thick pen."""
    grown = [g.buffer(metres, join_style="mitre") for g in to_metric(layer.geometry.values, epsg)]
    set_geoms(layer, to_geo(grown, epsg))
    return {"defect": f"every polygon buffered by +{metres} m", "ids": "all"}


def gap_strip(layer: gpd.GeoDataFrame, meta: dict, params: Params, epsg: int) -> dict:
    """A ``chengguan_gap_m`` strip cut along one grid line between two whole cells near the middle: the
    two neighbours no longer meet, as when two 网格员 each stopped short of the street they share."""
    cell, angle = params.chengguan_cell_m, params.chengguan_angle_deg
    full_area = cell * cell
    areas = area_m2(layer.geometry.values, epsg)
    by_rc = {rc_: i for i, rc_ in enumerate(layer["rc"])}
    rows = sorted({r for r, _ in by_rc})
    cols = sorted({c for _, c in by_rc})
    mid = (rows[len(rows) // 2], cols[len(cols) // 2])
    candidates = sorted(
        ((abs(r - mid[0]) + abs(c - mid[1]), r, c) for (r, c) in by_rc if (r, c + 1) in by_rc),
    )
    for _, r, c in candidates:
        a, b = by_rc[(r, c)], by_rc[(r, c + 1)]
        if min(areas[a], areas[b]) > 0.999 * full_area:
            break
    else:
        raise RuntimeError("no two whole neighbouring 城管 cells to cut a gap between")
    x0, y0 = meta["origin"]
    x = x0 + (c + 1) * cell
    edge = shapely.affinity.rotate(
        LineString([(x, y0 + r * cell), (x, y0 + (r + 1) * cell)]), angle, origin=meta["centre"]
    )
    # Round ends: the two cells must not even touch at the strip's ends (a flat end leaves them meeting at
    # the two corners, which is no gap at all for a topology check).
    strip = to_geo([edge.buffer(params.chengguan_gap_m / 2)], epsg)[0]
    geoms = layer.geometry.values.copy()
    for i in (a, b):
        # The strip's flat ends and the cells' corners were projected separately, so the cut can leave a
        # zero-area crumb at each end: an artefact of building the defect, not part of it, so drop it.
        parts = shapely.get_parts(shapely.difference(geoms[i], strip))
        geoms[i] = shapely.union_all(parts[area_m2(parts, epsg) >= 0.01])
    set_geoms(layer, geoms)
    return {
        "defect": f"{params.chengguan_gap_m} m gap strip along their shared edge",
        "ids": [layer["id"][a], layer["id"][b]],
    }


def bow_tie(layer: gpd.GeoDataFrame) -> dict:
    """Swap two consecutive vertices of one outline so the ring crosses itself: the classic hand-digitising
    slip (points clicked out of order). Takes the polygon nearest the middle of the list that can be twisted,
    and the swap whose twisted lobe is largest, so the bow-tie is plain to see rather than a 1 m² knot."""
    n = len(layer)
    for i in sorted(range(n), key=lambda i: (abs(i - n // 2), i)):
        geom = layer.geometry.iloc[i]
        if geom.geom_type != "Polygon":
            continue
        ring = list(geom.exterior.coords)[:-1]
        best = None
        for v in range(len(ring) - 1):
            swapped = ring[:v] + [ring[v + 1], ring[v]] + ring[v + 2 :]
            candidate = Polygon(swapped, [h.coords for h in geom.interiors])
            if "Self-intersection" not in shapely.is_valid_reason(candidate):
                continue
            lobe = min(shapely.area(shapely.get_parts(shapely.make_valid(candidate))))
            if best is None or lobe > best[0]:
                best = (lobe, v, candidate)
        if best is not None:
            layer.loc[layer.index[i], "geometry"] = best[2]
            return {
                "defect": "self-intersecting (bow-tie) outline: two consecutive vertices swapped",
                "ids": [layer["id"].iloc[i]],
                "swapped_vertices": [best[1], best[1] + 1],
            }
    raise RuntimeError("no polygon could be turned into a bow-tie")


# ----------------------------------------------------------------------------------------------------------
# Stand-in communities and their dirty twin


def communities_frame(geoms: list, codes: list[tuple[str, str]]) -> gpd.GeoDataFrame:
    order = reading_order(geoms)
    return gpd.GeoDataFrame(
        {"code": [c for c, _ in codes], "name": [n for _, n in codes]},
        geometry=[geoms[i] for i in order],
        crs=GEO,
    )


def shared_line(a, b):
    return shapely.line_merge(shapely.intersection(a.boundary, b.boundary))


def neighbour_pairs(comm: gpd.GeoDataFrame, epsg: int, min_shared_m: float = 100.0) -> list[tuple[int, int]]:
    geoms = comm.geometry.values
    pairs = []
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            line = shared_line(geoms[i], geoms[j])
            if not line.is_empty and shapely.length(to_metric([line], epsg)[0]) >= min_shared_m:
                pairs.append((i, j))
    return pairs


def pick_communities(comm: gpd.GeoDataFrame, epsg: int) -> dict[str, object]:
    """Which community gets which defect: two disjoint neighbour pairs first, then singles in code order,
    all distinct, so each defect can be tested alone."""
    pairs = neighbour_pairs(comm, epsg)
    used: set[int] = set()
    pick: dict[str, object] = {}
    for name in ("overlap", "gap"):
        i, j = next(p for p in pairs if not used & set(p))
        pick[name] = (i, j)
        used |= {i, j}
    singles = [i for i in range(len(comm)) if i not in used]
    names = ("split", "multipart", "exclave_donor", "hole", "near_duplicates", "spike")
    if len(singles) < len(names):
        raise RuntimeError(f"{len(comm)} communities are too few for distinct defects")
    # The exclave must not touch the community it belongs to, or it would not be a separate part.
    pick["split"] = singles.pop(0)
    pick["multipart"] = singles.pop(0)
    donor = next(i for i in singles if not comm.geometry.iloc[i].touches(comm.geometry.iloc[pick["multipart"]]))
    singles.remove(donor)
    pick["exclave_donor"] = donor
    for name in names[3:]:
        pick[name] = singles.pop(0)
    return pick


def square_around(point_geo, side_m: float, epsg: int) -> Polygon:
    p = to_metric([point_geo], epsg)[0]
    return to_geo([shapely.box(p.x - side_m / 2, p.y - side_m / 2, p.x + side_m / 2, p.y + side_m / 2)], epsg)[0]


def hole_touching_outline(geom: Polygon, epsg: int, size_m: float = 80.0) -> Polygon:
    """A triangular hole with one corner exactly on an outline vertex (valid OGC, but a trap for code that
    assumes holes float free). The hole's area belongs to no community, like an excluded compound."""
    shell = list(geom.exterior.coords)[:-1]
    centre = to_metric([geom.centroid], epsg)[0]
    for v in shell:
        vm = to_metric([shapely.Point(v)], epsg)[0]
        d = np.array([centre.x - vm.x, centre.y - vm.y])
        d = d / np.hypot(*d) * size_m
        tips = []
        for deg in (-20.0, 20.0):
            t = np.radians(deg)
            rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) @ d
            tips.append(to_geo([shapely.Point(vm.x + rot[0], vm.y + rot[1])], epsg)[0].coords[0])
        hole = [v, tips[0], tips[1], v]  # v itself, not a transformed copy: the touch is exact
        candidate = Polygon(shell, [hole])
        touch = shapely.intersection(geom.exterior, Polygon(hole))
        if candidate.is_valid and geom.contains(Polygon(hole)) and touch.equals(shapely.Point(v)):
            return candidate
    raise RuntimeError("no outline vertex takes a touching hole")


def with_near_duplicates(geom: Polygon, tiny: float, count: int = 3) -> Polygon:
    """After ``count`` outline vertices, a copy 1e-9° east: invisible, but it breaks exact vertex matching
    with the neighbours and trips code that assumes consecutive vertices differ by more than a tolerance."""
    ring = list(geom.exterior.coords)[:-1]
    out = []
    for k, (x, y) in enumerate(ring):
        out.append((x, y))
        if k < count:
            out.append((x + tiny, y))
    return Polygon(out, [h.coords for h in geom.interiors])


def with_spike(geom: Polygon, epsg: int, tiny: float, length_m: float = 25.0) -> Polygon:
    """A 1e-9°-wide spike poking ``length_m`` out of the middle of the longest edge: the digitiser's
    double-click, zero area but real length."""
    ring = list(geom.exterior.coords)[:-1]
    lengths = [
        np.hypot(ring[(k + 1) % len(ring)][0] - ring[k][0], ring[(k + 1) % len(ring)][1] - ring[k][1])
        for k in range(len(ring))
    ]
    k = int(np.argmax(lengths))
    (ax, ay), (bx, by) = ring[k], ring[(k + 1) % len(ring)]
    mx, my = (ax + bx) / 2, (ay + by) / 2
    ux, uy = (bx - ax) / lengths[k], (by - ay) / lengths[k]
    m = to_metric([shapely.Point(mx, my)], epsg)[0]
    for sign in (1, -1):  # outward is whichever normal leaves the polygon
        tip_m = shapely.Point(m.x - sign * uy * length_m, m.y + sign * ux * length_m)
        tip = to_geo([tip_m], epsg)[0]
        if not geom.contains(tip):
            break
    spiked = ring[: k + 1] + [(mx, my), tip.coords[0], (mx + ux * tiny, my + uy * tiny)] + ring[k + 1 :]
    return Polygon(spiked, [h.coords for h in geom.interiors])


def dirty_communities(comm: gpd.GeoDataFrame, epsg: int, params: Params) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """The clean stand-ins, made messy the ways published community layers are (one defect per community)."""
    pick = pick_communities(comm, epsg)
    geoms = list(comm.geometry.values)
    code = list(comm["code"])
    defects = []

    i = pick["split"]  # one community drawn as two features: cut along the north-south line through its centre
    g = geoms[i]
    x = g.centroid.x
    minx, miny, maxx, maxy = g.bounds
    west = shapely.intersection(g, shapely.box(minx - 1, miny - 1, x, maxy + 1))
    east = shapely.intersection(g, shapely.box(x, miny - 1, maxx + 1, maxy + 1))
    geoms[i] = west
    extra = [(i, east)]
    defects.append(
        {
            "code": code[i],
            "defect": "drawn as two features with the same code and name (cut north-south through its centroid)",
        }
    )

    i, d = pick["multipart"], pick["exclave_donor"]  # an exclave (飞地) inside another community
    exclave = square_around(shapely.point_on_surface(geoms[d]), 60.0, epsg)
    if not geoms[d].contains(exclave):
        raise RuntimeError("exclave square does not fit inside its donor")
    geoms[d] = shapely.difference(geoms[d], exclave)
    geoms[i] = MultiPolygon([geoms[i], exclave])
    defects.append({"code": code[i], "defect": f"MultiPolygon: a 60 m square exclave inside {code[d]}"})
    defects.append({"code": code[d], "defect": f"has a hole where {code[i]}'s exclave is (clean, not touching)"})

    i = pick["hole"]
    geoms[i] = hole_touching_outline(geoms[i], epsg)
    defects.append(
        {"code": code[i], "defect": "triangular hole touching its outline at one vertex (area in no community)"}
    )

    i, j = pick["overlap"]  # i grows ~1 m into j along their shared line
    strip = to_geo(
        [to_metric([shared_line(geoms[i], geoms[j])], epsg)[0].buffer(params.overlap_m, cap_style="flat")], epsg
    )[0]
    geoms[i] = shapely.union(geoms[i], shapely.intersection(strip, geoms[j]))
    defects.append({"code": code[i], "defect": f"overlaps {code[j]} by {params.overlap_m} m along their shared line"})

    i, j = pick["gap"]  # i pulls back 0.5 m from j along their shared line (round ends: no touching corners)
    strip = to_geo([to_metric([shared_line(geoms[i], geoms[j])], epsg)[0].buffer(params.gap_m)], epsg)[0]
    geoms[i] = shapely.difference(geoms[i], strip)
    defects.append({"code": code[i], "defect": f"{params.gap_m} m gap to {code[j]} along their shared line"})

    i = pick["near_duplicates"]
    geoms[i] = with_near_duplicates(geoms[i], params.tiny_deg)
    defects.append(
        {"code": code[i], "defect": f"near-duplicate vertices ({params.tiny_deg:g}° apart) after its first 3 vertices"}
    )

    i = pick["spike"]
    geoms[i] = with_spike(geoms[i], epsg, params.tiny_deg)
    defects.append({"code": code[i], "defect": f"{params.tiny_deg:g}°-wide, 25 m spike out of its longest edge"})

    rows = [(code[k], comm["name"].iloc[k], geoms[k]) for k in range(len(geoms))]
    for k, piece in extra:
        rows.insert(k + 1, (code[k], comm["name"].iloc[k], piece))
    dirty = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows]}, geometry=[r[2] for r in rows], crs=GEO
    )
    return dirty, defects


# ----------------------------------------------------------------------------------------------------------
# The two data sets


def select_by_point(frame: gpd.GeoDataFrame, outline: Polygon) -> gpd.GeoDataFrame:
    """Buildings whose representative point lies in the outline, kept whole (some stick out past it)."""
    inside = shapely.contains(outline, shapely.point_on_surface(frame.geometry.values))
    return frame[inside].sort_values("id").reset_index(drop=True)


def extent(site: Site, frame: gpd.GeoDataFrame, full: bool) -> tuple[float, float, float, float]:
    return tuple(float(v) for v in frame.total_bounds) if full else site.box


def departments(
    site: Site, out: Path, buildings, outline, params: Params, manifest: Manifest, dangjian_geoms=None
) -> None:
    """The three department layers: 综治 (Voronoi of households/400 k-means cells, all grown 1.5 m), 城管
    (rotated 350 m squares with a 2 m gap strip) and 党建 (given road blocks, or Voronoi of households/300
    with another seed) with one bow-tie polygon."""
    epsg = site.metric_epsg
    households = estimated_households(buildings, epsg)
    xy = shapely.get_coordinates(to_metric(shapely.centroid(buildings.geometry.values), epsg))
    total = int(households.sum())
    manifest.put(site.key, "estimated_households", total)

    k = max(1, round(total / params.households_per_zongzhi))
    zongzhi = department_frame(voronoi_cells(kmeans(xy, k, rng_for(f"{site.key}-综治")), outline, epsg), "ZZ", "综治")
    z_defect = buffer_all(zongzhi, epsg, params.zongzhi_overlap_m)

    cells, rc, meta = rotated_grid(outline, epsg, params.chengguan_cell_m, params.chengguan_angle_deg)
    chengguan = department_frame(cells, "CG", "城管", rc=rc)
    c_defect = gap_strip(chengguan, meta, params, epsg)
    chengguan = chengguan.drop(columns="rc")

    if dangjian_geoms is None:
        kd = max(1, round(total / params.households_per_dangjian))
        dangjian_geoms = voronoi_cells(kmeans(xy, kd, rng_for(f"{site.key}-党建")), outline, epsg)
    dangjian = department_frame(dangjian_geoms, "DJ", "党建")
    d_defect = bow_tie(dangjian)

    folder = out / site.key / "departments"
    for name, layer in (("综治", zongzhi), ("城管", chengguan), ("党建", dangjian)):
        write_geojson(layer, folder / f"{name}.geojson")
    manifest.put(
        site.key,
        "departments",
        {
            "综治": {"features": len(zongzhi), "k": k, **z_defect},
            "城管": {"features": len(chengguan), **c_defect},
            "党建": {"features": len(dangjian), **d_defect},
        },
    )


def build_nanshan(src: Path, out: Path, full: bool, params: Params, manifest: Manifest) -> None:
    """Real buildings with heights and real OSM roads; communities are the blocks of the major roads."""
    site = NANSHAN
    buildings = read_source(src, site, "buildings")[["id", "height", "geometry"]]  # height_note is constant
    roads = read_source(src, site, "roads")[["id", "highway", "geometry"]]
    box = extent(site, buildings, full)
    outline = shapely.box(*box)
    buildings = select_by_point(buildings, outline)
    # Roads are kept whole (unclipped source coordinates): every road touching the study area.
    roads = roads[shapely.intersects(roads.geometry.values, outline)].sort_values("id").reset_index(drop=True)

    major = roads[roads["highway"].str.removesuffix("_link").isin(MAJOR_HIGHWAYS)]
    faces = road_faces(major, outline)
    block = is_block(faces, site.metric_epsg, params)
    blocks = list(faces[block])
    communities = communities_frame(blocks, community_codes(src, site, len(blocks)))

    # 党建 follows every road, residential included; tiny faces are dissolved into a neighbour.
    dangjian = dissolve_small(list(road_faces(roads, outline)), site.metric_epsg, params.dangjian_min_block_m2)

    write_geojson(roads, out / site.key / "roads.geojson")
    write_geojson(buildings, out / site.key / "buildings.geojson")
    write_geojson(communities, out / site.key / "communities.geojson")
    departments(site, out, buildings, outline, params, manifest, dangjian_geoms=dangjian)
    manifest.put(site.key, "extent", box)
    manifest.put(
        site.key,
        "road_faces",
        {
            "blocks": int(block.sum()),
            "road_space_left_uncovered": int((~block).sum()),
            "road_space_area_m2": round(float(area_m2(faces[~block], site.metric_epsg).sum())),
        },
    )


def build_gusu(src: Path, out: Path, full: bool, params: Params, manifest: Manifest) -> None:
    """Real buildings with floors, no roads; communities are Voronoi cells of building clusters."""
    site = GUSU
    epsg = site.metric_epsg
    buildings = read_source(src, site, "buildings")[["id", "floors", "height", "geometry"]]
    box = extent(site, buildings, full)
    buildings = select_by_point(buildings, shapely.box(*box))
    # The study area is the buildings' hull plus a margin: with no roads there is nothing better to follow.
    hull_m = to_metric([shapely.convex_hull(shapely.union_all(buildings.geometry.values))], epsg)[0]
    outline = to_geo([hull_m.buffer(params.gusu_hull_buffer_m)], epsg)[0]

    xy = shapely.get_coordinates(to_metric(shapely.centroid(buildings.geometry.values), epsg))
    k = max(8, round(len(buildings) / params.gusu_buildings_per_community))
    cells = voronoi_cells(kmeans(xy, k, rng_for("gusu-communities")), outline, epsg)
    communities = communities_frame(cells, community_codes(src, site, len(cells)))
    dirty, defects = dirty_communities(communities, epsg, params)

    write_geojson(buildings, out / site.key / "buildings.geojson")
    write_geojson(communities, out / site.key / "communities.geojson")
    write_geojson(dirty, out / site.key / "communities_dirty.geojson")
    departments(site, out, buildings, outline, params, manifest)
    manifest.put(site.key, "extent", box)
    manifest.put(site.key, "outline", f"convex hull of the buildings + {params.gusu_hull_buffer_m:g} m")
    manifest.put(site.key, "communities_dirty_defects", defects)


# ----------------------------------------------------------------------------------------------------------
# Verification


EXPECTED_FIELDS = {
    "roads": ["id", "highway"],
    "buildings": ["id", "height"],
    "communities": ["code", "name"],
    "communities_dirty": ["code", "name"],
    "综治": ["id", "name"],
    "城管": ["id", "name"],
    "党建": ["id", "name"],
}


def community_stats(buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> dict[str, int]:
    """How buildings sit on the communities: representative point in none; footprint across a line between
    two communities (more than ~0.01 m² in each); footprint partly outside every community (past the study
    area's outline, or into road space or a gap)."""
    geoms = buildings.geometry.values
    hit = communities.sindex.query(shapely.point_on_surface(geoms), predicate="within")
    pairs = communities.sindex.query(geoms, predicate="intersects")
    shared = shapely.area(shapely.intersection(geoms[pairs[0]], communities.geometry.values[pairs[1]]))
    in_two = np.bincount(pairs[0][shared > 1e-12], minlength=len(geoms)) >= 2  # 1e-12 deg² ≈ 0.01 m²
    rest = shapely.area(shapely.difference(geoms, shapely.union_all(communities.geometry.values)))
    return {
        "point_in_none": len(geoms) - len(np.unique(hit[0])),
        "across_community_line": int(in_two.sum()),
        "partly_outside_all": int((rest > 1e-12).sum()),
    }


def verify(src: Path, out: Path) -> bool:
    """Read every fixture back, check fields and CRS, compare source coordinates bit for bit, and print a
    summary with the two numbers tests care about most (buildings in no community, buildings across lines)."""
    ok = True
    total = 0
    print(f"{'file':44} {'n':>5} {'KB':>6} {'invalid':>7}  bounds")
    for path in sorted(out.rglob("*.geojson")):
        frame = gpd.read_file(path)
        stem = path.stem
        want = EXPECTED_FIELDS[stem] + (["floors"] if stem == "buildings" and "gusu" in path.parts else [])
        missing = [f for f in want if f not in frame.columns]
        ids = "code" if stem.startswith("communities") else "id"
        unique = frame[ids].is_unique or stem == "communities_dirty"
        bad = frame.crs is None or frame.crs.to_epsg() != 4326 or missing or not unique
        ok &= not bad
        size = path.stat().st_size
        total += size
        invalid = int((~shapely.is_valid(frame.geometry.values)).sum())
        b = ", ".join(f"{v:.4f}" for v in frame.total_bounds)
        print(
            f"{path.relative_to(out)!s:44} {len(frame):5d} {size / 1024:6.0f} {invalid:7d}  [{b}]"
            + (f"  PROBLEM missing={missing} unique={unique} crs={frame.crs}" if bad else "")
        )
    print(f"total {total / 1024:.0f} KB")

    for site, names in ((NANSHAN, ("buildings", "roads")), (GUSU, ("buildings",))):
        source = {n: read_source(src, site, n).set_index("id") for n in names}
        for n in names:
            written = gpd.read_file(out / site.key / f"{n}.geojson").set_index("id")
            same = all(
                np.array_equal(shapely.get_coordinates(g), shapely.get_coordinates(source[n].geometry.loc[i]))
                for i, g in written.geometry.items()
            )
            ok &= same
            print(f"{site.key}/{n}: source coordinates unchanged: {same}")
        buildings = gpd.read_file(out / site.key / "buildings.geojson")
        for name in ("communities", "communities_dirty"):
            path = out / site.key / f"{name}.geojson"
            if path.exists():
                st = community_stats(buildings, gpd.read_file(path))
                print(
                    f"{site.key}/{name}: {len(buildings)} buildings: {st['point_in_none']} with their point in no "
                    f"community, {st['across_community_line']} across a line between two communities, "
                    f"{st['partly_outside_all']} partly outside every community"
                )
    return ok


# ----------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "src", nargs="?", type=Path, default=DEFAULT_SRC, help=f"shared real data (default {DEFAULT_SRC})"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default tests/data/realdata)")
    parser.add_argument("--full", action="store_true", help="whole source extents (benchmarks); needs another --out")
    parser.add_argument("--verify-only", action="store_true", help="only check what is already in --out")
    args = parser.parse_args(argv)
    if args.full and args.out.resolve() == DEFAULT_OUT.resolve():
        parser.error("--full would overwrite the committed fixtures: give another --out")

    if not args.verify_only:
        params, manifest = Params(), Manifest()
        build_nanshan(args.src, args.out, args.full, params, manifest)
        build_gusu(args.src, args.out, args.full, params, manifest)
        manifest.put("build", "full", args.full)
        manifest.put("build", "seed", SEED)
        manifest.put("build", "params", params.__dict__)
        (args.out / "manifest.json").write_text(
            json.dumps(manifest.data, ensure_ascii=False, indent=1, default=list) + "\n"
        )
        print(
            json.dumps(
                {k: v for k, v in manifest.data.items() if k != "build"}, ensure_ascii=False, indent=1, default=list
            )
        )
    return 0 if verify(args.src, args.out) else 1


if __name__ == "__main__":
    sys.exit(main())
