"""Department grid layers that overlap and disagree the way real ones do (input for 多网合一)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import STRtree

from gis.crs import projected_crs_for
from gridplanner.sampledata.shapes import edge_neighbours, rng_for, shift_each, spread_seeds, voronoi_cells
from gridplanner.sampledata.world import to_storage_rounded

#: Departments that draw their own grids, in the order generate_department_layers uses them.
DEPARTMENTS = ["综治", "城管", "党建", "民政", "应急", "环保", "信访", "市场监管", "卫健", "警务"]
DEPT_PREFIX = {"综治": "ZZ", "城管": "CG", "党建": "DJ", "民政": "MZ", "应急": "YJ", "环保": "HB", "信访": "XF",
               "市场监管": "SJ", "卫健": "WJ", "警务": "JW"}


def points_inside(rng: np.random.Generator, geom: shapely.Geometry, n: int) -> np.ndarray:
    """``n`` uniform random points inside ``geom`` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = shapely.bounds(geom)
    shapely.prepare(geom)
    out = np.empty((0, 2))
    while len(out) < n:
        m = max(2 * (n - len(out)), 16)
        p = np.column_stack([rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)])
        out = np.vstack([out, p[shapely.contains_xy(geom, p[:, 0], p[:, 1])]])
    return out[:n]


def split_each(rng: np.random.Generator, geoms: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each polygon into ``counts[i]`` Voronoi parts from spread-out seeds; returns parts and their owner."""
    parts, owner = [], []
    for i, (g, k) in enumerate(zip(geoms, counts)):
        if k <= 1:
            parts.append(g)
            owner.append(i)
            continue
        cand = points_inside(rng, g, max(20 * k, 60))
        seeds = cand[spread_seeds(rng, cand, k)]
        cells = shapely.intersection(voronoi_cells(seeds, g), g)
        parts.extend(cells)
        owner.extend([i] * len(cells))
    return np.array(parts, dtype=object), np.array(owner)


def jitter(rng: np.random.Generator, geoms: np.ndarray, shift: float = 2.5, tolerance: float = 4.0) -> np.ndarray:
    """Each polygon simplified and moved on its own: shared edges now disagree by metres (slivers, overlaps)."""
    geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    return shift_each(geoms, rng.normal(0, shift, len(geoms)), rng.normal(0, shift, len(geoms)))


def bowtie(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom``'s outer ring with two neighbouring vertices swapped: a self-intersecting (invalid) polygon."""
    ring = shapely.get_coordinates(shapely.get_exterior_ring(geom if geom.geom_type == "Polygon" else
                                                             max(geom.geoms, key=lambda p: p.area)))[:-1]
    for i in range(len(ring) - 1):
        swapped = ring.copy()
        swapped[[i, i + 1]] = swapped[[i + 1, i]]
        poly = shapely.Polygon(np.vstack([swapped, swapped[:1]]))
        if not shapely.is_valid(poly):
            return poly
    minx, miny, maxx, maxy = shapely.bounds(geom)  # a triangle, say: fall back to the classic bowtie
    return shapely.Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)])


def zongzhi_layer(rng: np.random.Generator, communities: gpd.GeoDataFrame, households: np.ndarray) -> gpd.GeoDataFrame:
    """综治 grids: about one per 400 households per community, edges jittered, with three planted defects.

    Defects (ids in ``attrs["defects"]``): one grid reaching into the neighbouring community, one bowtie
    (self-intersecting) ring, one small hole left uncovered between grids.
    """
    geoms = communities.geometry.values
    counts = np.maximum(1, np.round(households / 400)).astype(int)
    parts, owner = split_each(rng, geoms, counts)
    parts = jitter(rng, parts)
    frame = gpd.GeoDataFrame({"owner": owner}, geometry=parts, crs=communities.crs)
    frame["seq"] = frame.groupby("owner").cumcount() + 1
    frame["dept_id"] = [f"ZZ-{i + 1:04d}" for i in range(len(frame))]
    frame["name"] = [f"{communities['name'].iat[o]}第{s}网格" for o, s in zip(frame["owner"], frame["seq"])]
    defects: dict[str, str] = {}
    order = rng.permutation(len(frame))
    urban = (communities["class"] == "urban").to_numpy()
    nb = edge_neighbours(geoms)
    # 1) a grid that crosses into a neighbouring community (drawn over a street-front block, say).
    for i in order:
        o = frame["owner"].iat[i]
        if not urban[o] or counts[o] < 2:
            continue
        for m in nb[o]:
            shared = shapely.intersection(shapely.boundary(geoms[o]), shapely.boundary(geoms[m]))
            p = shapely.line_interpolate_point(shapely.line_merge(shared), 0.5, normalized=True) if shared.geom_type in (
                "LineString", "MultiLineString") else None
            if p is None or p.is_empty or shapely.distance(frame.geometry.iat[i], p) > 5:
                continue
            bulge = shapely.intersection(shapely.buffer(p, 90), geoms[m])
            frame.loc[frame.index[i], "geometry"] = shapely.union(frame.geometry.iat[i], bulge)
            defects["crosses_community"] = frame["dept_id"].iat[i]
            break
        if defects:
            break
    # 2) an invalid bowtie ring.
    i = next(i for i in order if frame["dept_id"].iat[i] not in defects.values())
    frame.loc[frame.index[i], "geometry"] = bowtie(frame.geometry.iat[i])
    defects["bowtie"] = frame["dept_id"].iat[i]
    # 3) a small uncovered hole where two grids of one community meet.
    for i in order:
        if frame["dept_id"].iat[i] in defects.values() or counts[frame["owner"].iat[i]] < 3:
            continue
        sib = frame[(frame["owner"] == frame["owner"].iat[i]) & (frame.index != frame.index[i])]
        g = frame.geometry.iat[i]
        near = sib[sib.distance(g) < 1].head(1)
        if near.empty or near["dept_id"].iat[0] in defects.values():
            continue
        p = shapely.centroid(shapely.intersection(shapely.buffer(g, 3), shapely.buffer(near.geometry.iat[0], 3)))
        hole = shapely.buffer(p, 25)
        hit = frame.intersects(hole) & ~frame["dept_id"].isin(defects.values())
        frame.loc[hit, "geometry"] = frame.loc[hit, "geometry"].difference(hole)
        defects["gap_near"] = frame["dept_id"].iat[i]
        break
    frame = frame[["dept_id", "name", "geometry"]]
    frame.attrs["defects"] = defects
    return frame


def chengguan_layer(rng: np.random.Generator, communities: gpd.GeoDataFrame, outline: shapely.Geometry) -> gpd.GeoDataFrame:
    """城管 blocks: 400–600 m rectangles on a slightly turned grid, clipped to the district, blind to communities."""
    minx, miny, maxx, maxy = shapely.bounds(outline)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = np.hypot(maxx - minx, maxy - miny) / 2
    us = np.cumsum(np.concatenate([[-half], rng.uniform(400, 600, int(2 * half / 400) + 2)]))
    vs = np.cumsum(np.concatenate([[-half], rng.uniform(400, 600, int(2 * half / 400) + 2)]))
    a = rng.uniform(-0.06, 0.06)
    c, s = np.cos(a), np.sin(a)
    boxes = []
    for u0, u1 in zip(us[:-1], us[1:]):
        for v0, v1 in zip(vs[:-1], vs[1:]):
            corners = np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1), (u0, v0)])
            boxes.append(np.column_stack([cx + corners[:, 0] * c - corners[:, 1] * s, cy + corners[:, 0] * s + corners[:, 1] * c]))
    blocks = shapely.intersection(shapely.polygons(np.array(boxes)), outline)
    frame = gpd.GeoDataFrame(geometry=blocks, crs=communities.crs).explode(index_parts=False)
    frame = frame[(frame.geom_type == "Polygon") & (frame.area > 500)].reset_index(drop=True)
    # Named after the street holding the block's centre, as 城管 teams are organised by street.
    cent = frame.geometry.representative_point().values
    idx = STRtree(communities.geometry.values).query(cent, predicate="within")
    street = np.full(len(frame), "", dtype=object)
    street[idx[0]] = communities["street_name"].to_numpy()[idx[1]]
    frame["id"] = np.arange(1, len(frame) + 1)
    counter: dict[str, int] = {}
    labels = []
    for st in street:
        counter[st] = counter.get(st, 0) + 1
        labels.append(f"{st or '示范区'}城管责任区{counter[st]:02d}")
    frame["名称"] = labels
    return frame[["id", "名称", "geometry"]]


def dangjian_layer(rng: np.random.Generator, communities: gpd.GeoDataFrame, households: np.ndarray) -> gpd.GeoDataFrame:
    """党建 grids: fewer, larger (one per ~1,500 households), half of them drawn short of their neighbours (gaps)."""
    counts = np.maximum(1, np.round(households / 1500)).astype(int)
    parts, owner = split_each(rng, communities.geometry.values, counts)
    shrink = np.where(rng.random(len(parts)) < 0.5, -rng.uniform(5, 30, len(parts)), 0.0)
    parts = shapely.simplify(shapely.buffer(parts, shrink, join_style="mitre"), 3.0)
    frame = gpd.GeoDataFrame({"owner": owner}, geometry=parts, crs=communities.crs)
    frame["seq"] = frame.groupby("owner").cumcount() + 1
    frame["code"] = [f"DJ{communities['code'].iat[o]}{s:02d}" for o, s in zip(frame["owner"], frame["seq"])]
    frame["name"] = [f"{communities['name'].iat[o]}党建网格{s}" for o, s in zip(frame["owner"], frame["seq"])]
    return frame[["code", "name", "geometry"]]


def generate_department_layers(communities: gpd.GeoDataFrame, n_layers: int, polygons_per_layer: int,
                               seed: int) -> dict[str, gpd.GeoDataFrame]:
    """``n_layers`` department layers of about ``polygons_per_layer`` polygons each over ``communities``.

    Layers alternate between community-aligned grids (Voronoi cells cut at community boundaries) and blocks
    blind to communities; every layer is jittered by metres so neighbours overlap and leave slivers, ~1% of
    polygons are missing (gaps) and ~0.1% are invalid bowties. Keys are department names (综治, 城管, ...;
    repeated names get a number). Returned in EPSG:4490 with fields ``dept_id`` and ``name``.
    """
    if n_layers < 1 or polygons_per_layer < 1:
        raise ValueError("n_layers and polygons_per_layer must be at least 1")
    crs = projected_crs_for(communities)
    comm = communities.to_crs(crs)
    geoms = comm.geometry.values
    outline = shapely.coverage_union_all(geoms)
    shapely.prepare(outline)
    extent = shapely.envelope(outline).buffer(1000)
    tree = STRtree(geoms)
    out = {}
    for layer in range(n_layers):
        rng = rng_for(seed, f"department-layer-{layer}")
        dept = DEPARTMENTS[layer % len(DEPARTMENTS)]
        key = dept if layer < len(DEPARTMENTS) else f"{dept}{layer // len(DEPARTMENTS) + 1}"
        aligned = layer % 2 == 0
        n_seeds = max(int(polygons_per_layer / 1.3) if aligned else polygons_per_layer, 1)
        pieces = _layer_pieces(rng, outline, extent, geoms, tree, n_seeds, aligned)
        if aligned and abs(len(pieces) - polygons_per_layer) > 0.1 * polygons_per_layer:
            # Cutting cells at community boundaries adds pieces; aim again with the ratio just seen.
            n_seeds = max(int(n_seeds * polygons_per_layer / len(pieces)), 1)
            pieces = _layer_pieces(rng, outline, extent, geoms, tree, n_seeds, aligned)
        pieces = pieces[rng.random(len(pieces)) > 0.01]  # lost polygons: gaps
        pieces = jitter(rng, pieces, shift=2.0, tolerance=3.0)
        bad = np.flatnonzero(rng.random(len(pieces)) < 0.001)
        pieces[bad] = [bowtie(g) for g in pieces[bad]]
        prefix = DEPT_PREFIX[dept]
        frame = gpd.GeoDataFrame({"dept_id": [f"{prefix}-{i + 1:05d}" for i in range(len(pieces))],
                                  "name": [f"{dept}网格{i + 1}" for i in range(len(pieces))]}, geometry=pieces, crs=crs)
        out[key] = to_storage_rounded(frame)
    return out


def _layer_pieces(rng: np.random.Generator, outline: shapely.Geometry, extent: shapely.Geometry, geoms: np.ndarray,
                  tree: STRtree, n_seeds: int, aligned: bool) -> np.ndarray:
    """Voronoi cells of random seeds in ``outline``: cut at community boundaries (aligned) or only at the edge."""
    cells = voronoi_cells(points_inside(rng, outline, n_seeds), extent)
    if aligned:
        ci, gi = tree.query(cells, predicate="intersects")
        pieces = shapely.intersection(cells[ci], geoms[gi])
    else:
        inside = shapely.contains_properly(outline, cells)
        pieces = np.where(inside, cells, shapely.intersection(cells, outline))
    pieces = shapely.get_parts(pieces)
    return pieces[(shapely.get_type_id(pieces) == 3) & (shapely.area(pieces) > 1.0)]


def department_households(communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Households per community as a department would count them: known values, gaps filled by the median."""
    hh = buildings["households"].astype("Float64")
    res = (buildings["use"] == "residential").to_numpy()
    filled = hh.fillna(float(hh[res].median())).to_numpy(float) * res
    idx = STRtree(communities.geometry.values).query(shapely.centroid(buildings.geometry.values), predicate="within")
    return np.bincount(idx[1], weights=filled[idx[0]], minlength=len(communities))


__all__ = ["generate_department_layers", "zongzhi_layer", "chengguan_layer", "dangjian_layer"]
