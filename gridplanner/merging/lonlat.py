"""Unified grids back to lon/lat, their edges on community lines laid on the community's own lon/lat edges.

The merge works in a metric CRS. Transforming its result back vertex by vertex is not enough: a straight
community edge in lon/lat is slightly curved in the metric CRS (about 1 cm off the chord over 1 km), so a
grid vertex the merge placed on the metric chord lands off the lon/lat edge, and the grids of a community no
longer union to it exactly. Here every grid vertex on a community line is mapped onto that line in lon/lat:
a community vertex to the community's own lon/lat vertex, a vertex between two to the same fraction of the
lon/lat edge. The mapping depends only on the metric coordinate, so grids sharing a vertex still share it.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.crs import STORAGE_CRS

#: Grid vertices within this distance (m) of a community line lie on it (the coverage cleaner's coarsest
#: fallback precision grid, 1 mm, moves a vertex by at most 0.71 mm) ...
ON_LINE_M = 2e-3
#: ... or within this many times the edge's own bow: how far the lon/lat edge, drawn in the metric CRS, strays
#: from the metric chord (vertices from the division engine, which works in lon/lat, lie on the bow).
BOW_FACTOR = 2.0


def grids_to_lonlat(grids: np.ndarray, communities: np.ndarray, communities_lonlat: np.ndarray, crs: CRS) -> np.ndarray:
    """``grids`` (in ``crs``) in EPSG:4490, vertices on community lines placed on the lon/lat lines.

    ``communities`` (in ``crs``) and ``communities_lonlat`` must be the same polygons vertex for vertex (one
    transformed from the other).
    """
    grids = np.asarray(grids, dtype=object)
    if len(grids) == 0:
        return grids
    xy = shapely.get_coordinates(grids)
    lon, lat = Transformer.from_crs(crs, STORAGE_CRS, always_xy=True).transform(xy[:, 0], xy[:, 1])
    out = np.c_[lon, lat]
    seg_m, seg_ll = _edges(communities, communities_lonlat)
    points = shapely.points(xy)
    # Community vertices first: exactly the community's own lon/lat vertex.
    ends_m, ends_ll = np.r_[seg_m[:, :2], seg_m[:, 2:]], np.r_[seg_ll[:, :2], seg_ll[:, 2:]]
    corners_m, first = np.unique(ends_m, axis=0, return_index=True)
    corners_ll = ends_ll[first]
    p, v = shapely.STRtree(shapely.points(corners_m)).query(points, predicate="dwithin", distance=ON_LINE_M)
    p, v = _nearest(p, v, shapely.distance(points[p], shapely.points(corners_m[v])))
    out[p] = corners_ll[v]
    on_corner = np.zeros(len(xy), dtype=bool)
    on_corner[p] = True
    # Then vertices along an edge: the same fraction of the lon/lat edge.
    rest = np.flatnonzero(~on_corner)
    lines = shapely.linestrings(seg_m.reshape(-1, 2, 2))
    mid = np.c_[Transformer.from_crs(STORAGE_CRS, crs, always_xy=True).transform(*((seg_ll[:, :2] + seg_ll[:, 2:]) / 2).T)]
    reach = ON_LINE_M + BOW_FACTOR * shapely.distance(lines, shapely.points(mid))
    p, s = shapely.STRtree(lines).query(points[rest], predicate="dwithin", distance=float(reach.max()))
    d = shapely.distance(points[rest[p]], lines[s])
    near = d <= reach[s]
    p, s = _nearest(p[near], s[near], d[near])
    a, b = seg_m[s, :2], seg_m[s, 2:]
    t = np.einsum("ij,ij->i", xy[rest[p]] - a, b - a) / np.einsum("ij,ij->i", b - a, b - a)
    t = np.clip(t, 0.0, 1.0)[:, None]
    out[rest[p]] = seg_ll[s, :2] + t * (seg_ll[s, 2:] - seg_ll[s, :2])
    placed = np.zeros(len(xy), dtype=bool)
    placed[np.flatnonzero(on_corner)] = True
    placed[rest[p]] = True
    # Two grids across a community line can carry two vertices a fraction of a millimetre apart (each side's
    # own, both kept by the coverage cleaner); placed on the line their order can flip into a zero-width
    # spike. They become one vertex (the same for every grid), and repeated vertices are dropped.
    out[placed] = _one_per_spot(out[placed])
    plain = np.c_[lon, lat]
    # A vertex of a millimetre-scale zigzag (or a zero-width spike) along a community line can cross its
    # neighbour when moved: the moved vertices of a grid left invalid, or no longer matching its neighbours,
    # keep their plain transform, wherever they occur (so grids sharing one still share it).
    _, vertex = np.unique(xy, axis=0, return_inverse=True)
    vertex = vertex.ravel()
    _, grid_of = shapely.get_coordinates(grids, return_index=True)
    for _ in range(4):
        result = _share_line_vertices(shapely.remove_repeated_points(shapely.set_coordinates(grids.copy(), out)), out[placed])
        bad = ~shapely.is_valid(result)
        if not bad.any():
            bad = ~shapely.is_empty(shapely.coverage_invalid_edges(result))
        if not bad.any():
            break
        undo = np.isin(vertex, vertex[np.isin(grid_of, np.flatnonzero(bad)) & np.any(out != plain, axis=1)])
        if not undo.any():
            break
        out[undo] = plain[undo]
        placed &= ~undo
    return result


#: Vertices placed on a community line closer than this (degrees, ~0.1 mm) are one vertex.
SAME_SPOT_DEG = 1e-9


def _one_per_spot(points: np.ndarray) -> np.ndarray:
    """``points`` (n x 2) with each replaced by the first (in sorted order) of the points within SAME_SPOT_DEG."""
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    geoms = shapely.points(unique)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=SAME_SPOT_DEG)
    first = np.arange(len(unique))
    np.minimum.at(first, a, b)
    return unique[first][inverse.ravel()]


#: Vertices placed on a community line this close (degrees, ~10 µm) to another grid's edge are added to it.
SHARE_DEG = 1e-10


def _share_line_vertices(grids: np.ndarray, on_lines: np.ndarray) -> np.ndarray:
    """``grids`` with every vertex placed on a community line also inserted into the other grids' edges it lies
    on. A point computed on a lon/lat edge is on it only to the last bit, so a grid across a community line
    that lacks the vertex would no longer match its neighbour edge for edge."""
    points = shapely.points(np.unique(on_lines, axis=0)) if len(on_lines) else np.zeros(0, dtype=object)
    if len(points) == 0:
        return grids
    p, g = shapely.STRtree(points).query(grids, predicate="dwithin", distance=SHARE_DEG)
    if len(p) == 0:
        return grids
    out = grids.copy()
    order = np.argsort(p, kind="stable")
    touched = np.unique(p)
    out[touched] = shapely.snap(grids[touched], shapely.multipoints(points[g[order]], indices=np.searchsorted(touched, p[order])), SHARE_DEG)
    return out


def _edges(metric: np.ndarray, lonlat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each community edge once, as (x0, y0, x1, y1) in the metric CRS and in lon/lat, in one orientation
    (the smaller metric end first) so an edge two communities share maps the same for both."""
    rings_m = shapely.get_rings(shapely.get_parts(metric))
    rings_ll = shapely.get_rings(shapely.get_parts(lonlat))
    cm, ring = shapely.get_coordinates(rings_m, return_index=True)
    cl = shapely.get_coordinates(rings_ll)
    same_ring = ring[1:] == ring[:-1]
    seg_m = np.c_[cm[:-1], cm[1:]][same_ring]
    seg_ll = np.c_[cl[:-1], cl[1:]][same_ring]
    swap = (seg_m[:, 2] < seg_m[:, 0]) | ((seg_m[:, 2] == seg_m[:, 0]) & (seg_m[:, 3] < seg_m[:, 1]))
    seg_m[swap] = seg_m[swap][:, [2, 3, 0, 1]]
    seg_ll[swap] = seg_ll[swap][:, [2, 3, 0, 1]]
    seg_m, first = np.unique(seg_m, axis=0, return_index=True)
    return seg_m, seg_ll[first]


def _nearest(p: np.ndarray, k: np.ndarray, distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point ``p`` found near several ``k``, the nearest (ties: the lowest ``k``)."""
    order = np.lexsort((k, distance, p))
    p, k = p[order], k[order]
    first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, dtype=bool)
    return p[first], k[first]
