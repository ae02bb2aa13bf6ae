"""The precision model: every geometry Gridplanner stores or writes lies on a 1e-7° grid (about 1 cm), with
community outlines cut into edges short enough that a lon/lat edge and its chord in a metric CRS agree.

Why a model at all. Grids are computed and stored in CGCS2000 lon/lat (EPSG:4490) but measured, drawn and
checked in a metric CRS (a Gauss–Krüger zone): ``ST_Transform``, QGIS and every area figure move each vertex and
join the moved vertices by straight lines. A straight lon/lat edge is slightly curved once projected (about
1 cm off its chord over 1 km at 30°N, growing as the square of its length), so two things break in the metric
CRS that hold in lon/lat:

* a grid vertex placed on a long community edge (where a cut or a road meets the outline) lies on the lon/lat
  edge but off the metric chord: the grids no longer tile the projected community (square metres per vertex
  on kilometre-long edges);
* a vertex closer to some other edge than that edge's bow can end up on the other side of it: a valid polygon
  self-intersects once projected.

The model removes both causes:

* **Snap rounding to** :data:`GRID_DEG` (GEOS ``set_precision`` / ``union_all(grid_size=...)``): every
  vertex lies on the grid and no vertex lies within half a grid cell (≈ 5 mm) of an edge it is not on, so
  projection, which moves vertices relative to edges by at most the edges' bow, cannot make edges cross
  while that bow stays below 5 mm;
* **short community edges** (:data:`MAX_OUTLINE_EDGE_DEG`, ≈ 11 m): an outline edge bows by a few
  micrometres, so a vertex placed on it is off its metric chord by micrometres and the grids of a community
  tile it to ~1e-5 m² per such vertex in both CRSes;
* **inner edges no longer than** :data:`MAX_INNER_EDGE_DEG` (≈ 110 m): they bow by well under a millimetre,
  far less than the 5 mm clearance.

Communities are put on the model when they are imported or read (:func:`normalize_polygons`), buildings,
roads and rivers on the grid (:func:`snap`); every grid coverage is settled onto it before it is written
(:func:`gis.coverage.settle`), and the self-check measures the result in both CRSes
(:func:`gis.coverage.coverage_report`). The functions are idempotent: a geometry already on the model comes back
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import shapely

from gis.crs import STORAGE_CRS, transform
from gis.errors import Problem, VectorInputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from pyproj import CRS

    CRSLike = CRS | int | str

#: The snap-rounding grid in degrees: ≈ 1.1 cm north–south, 1.1 cm × cos(latitude) east–west.
GRID_DEG = 1e-7
#: Longest community outline edge (degrees, ≈ 11 m): its bow in a Gauss–Krüger zone stays below ~3 µm up to
#: 54°N, so the triangle between the lon/lat edge and its metric chord at a vertex placed on it is < 2e-5 m².
MAX_OUTLINE_EDGE_DEG = 1e-4
#: The same limit for data drawn in a projected CRS (metres), applied before it is moved to lon/lat: an edge
#: straight in the CRS it was drawn in stays (to micrometres) on its line once in lon/lat.
MAX_EDGE_M = 10.0
#: Longest inner grid edge (degrees, ≈ 110 m): bows by < 0.3 mm, a twentieth of the snap-rounding clearance.
MAX_INNER_EDGE_DEG = 1e-3

# Densifying at slightly less than the limit leaves room for the snap (≤ 0.71 grid cells per vertex), so a
# densified and snapped geometry passes the limit and a second normalisation changes nothing.
_DENSIFY_SHARE = 0.99


def longest_edge(geoms: ArrayLike) -> np.ndarray:
    """The length of the longest edge of each geometry, in its coordinate units (0 for points and empties).

    >>> longest_edge([shapely.box(0, 0, 3, 1), shapely.Point(0, 0)]).tolist()
    [3.0, 0.0]
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms))
    if len(geoms) == 0:
        return out
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    lines = np.concatenate([rings, parts[shapely.get_dimensions(parts) == 1]])
    line_owner = np.concatenate([owner[ring_owner], owner[shapely.get_dimensions(parts) == 1]])
    if len(lines) == 0:
        return out
    xy, k = shapely.get_coordinates(lines, return_index=True)
    same = k[1:] == k[:-1]
    seg = np.hypot(*(xy[1:] - xy[:-1])[same].T)
    np.maximum.at(out, line_owner[k[1:][same]], seg)
    return out


def densify(geoms: ArrayLike, max_edge: float) -> np.ndarray:
    """``geoms`` with every edge longer than ``max_edge`` cut into equal pieces shorter than it. The shape is
    unchanged (new vertices lie on the old edges, to the last bit), and an edge gets the same new vertices
    whichever way it is walked, so two polygons sharing an edge still share it vertex for vertex. Geometries
    whose edges are all short enough come back as they are.

    >>> densify([shapely.LineString([(0, 0), (1, 0)])], 0.3)[0].wkt
    'LINESTRING (0 0, 0.25 0, 0.5 0, 0.75 0, 1 0)'
    >>> a, b = densify([shapely.LineString([(0, 0), (1, 0.3)]), shapely.LineString([(1, 0.3), (0, 0)])], 0.1)
    >>> bool((shapely.get_coordinates(a) == shapely.get_coordinates(b)[::-1]).all())
    True
    >>> densify([shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)], [[(0.4, 0.4), (0.6, 0.4), (0.6, 0.6)]])], 0.6)[0].wkt
    'POLYGON ((0 0, 0.5 0, 1 0, 1 0.5, 1 1, 0.5 1, 0 1, 0 0.5, 0 0), (0.4 0.4, 0.6 0.4, 0.6 0.6, 0.4 0.4))'
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    long = np.flatnonzero(longest_edge(geoms) > max_edge)
    if len(long) == 0:
        return geoms
    step = max_edge * _DENSIFY_SHARE
    types = shapely.get_type_id(geoms[long])
    # Polygons and lines go through one array operation each (GeoArrow-style ragged arrays); anything else
    # (collections) one by one.
    for kinds in ((3, 6), (1,)):
        sel = long[np.isin(types, kinds)]
        if len(sel):
            geoms[sel] = _densified_ragged(geoms[sel], step)
    rest = long[~np.isin(types, (1, 3, 6))]
    for i in rest.tolist():
        geoms[i] = _densified(geoms[i], step)
    return geoms


def _densified(geom, step: float):
    """A geometry collection (or multi-line) densified part by part."""
    parts = shapely.get_parts(geom)
    dense = densify(parts, step / _DENSIFY_SHARE)
    if shapely.get_type_id(geom) == 7:
        return shapely.GeometryCollection(list(dense))
    return type(geom)(list(dense))


def _densified_ragged(geoms: np.ndarray, step: float) -> np.ndarray:
    """Polygons (or linestrings) densified in one pass over their coordinates."""
    was_single = shapely.get_type_id(geoms) == 3
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    starts = offsets[0]  # where each ring (polygons) or line (linestrings) begins in ``coords``
    new_coords, new_starts = _densified_runs(coords, starts, step)
    out = shapely.from_ragged_array(kind, new_coords, (new_starts, *offsets[1:]))
    if kind == shapely.GeometryType.MULTIPOLYGON:
        out[was_single] = shapely.get_geometry(out[was_single], 0)
    return out


def _densified_runs(coords: np.ndarray, starts: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Runs of coordinates (``coords[starts[k]:starts[k+1]]``) with each edge longer than ``step`` cut into
    equal pieces, the new points interpolated from the edge's lexicographically smaller end."""
    xy = coords[:, :2]
    n = len(xy)
    last = np.zeros(n, dtype=bool)
    last[starts[1:] - 1] = True  # the final vertex of a run starts no edge
    a = xy[:-1]
    b = xy[1:]
    edge = ~last[:-1]
    pieces = np.ones(n, dtype=np.int64)
    length = np.hypot(*(b - a).T)
    pieces[:-1][edge] = np.maximum(np.ceil(length[edge] / step).astype(np.int64), 1)
    out_start = np.concatenate([[0], np.cumsum(pieces)])
    total = int(out_start[-1])
    out = np.empty((total, 2))
    out[out_start[:-1]] = xy
    split = np.flatnonzero(pieces > 1)
    if len(split):
        k = pieces[split]
        owner = np.repeat(split, k - 1)
        j = np.arange(len(owner)) - np.repeat(np.cumsum(k - 1) - (k - 1), k - 1) + 1
        t = j / pieces[owner]
        p, q = xy[owner], xy[owner + 1]
        flip = (q[:, 0] < p[:, 0]) | ((q[:, 0] == p[:, 0]) & (q[:, 1] < p[:, 1]))
        lo = np.where(flip[:, None], q, p)
        hi = np.where(flip[:, None], p, q)
        # From the smaller end the j-th point is (n - j)/n of the way: computed as such, not as 1 - j/n, so the
        # edge walked the other way gives the very same floats.
        tt = np.where(flip, (pieces[owner] - j) / pieces[owner], t)
        out[out_start[owner] + j] = lo + tt[:, None] * (hi - lo)
    return out, out_start[starts]


def snap(geoms: ArrayLike, grid: float = GRID_DEG) -> np.ndarray:
    """``geoms`` snap-rounded to ``grid`` (GEOS ``set_precision``: valid output, parts thinner than the grid
    collapse, repeated vertices go).

    GEOS's precision reducer can fail on a degenerate polygon ("unable to assign free hole to a shell"); such a
    geometry is rounded vertex by vertex and then made valid, keeping its polygonal parts.

    >>> snap([shapely.Point(120.123456789, 30.1)])[0].wkt
    'POINT (120.1234568 30.1)'
    """
    geoms = np.asarray(geoms, dtype=object)
    try:
        return shapely.set_precision(geoms, grid)
    except shapely.errors.GEOSException:
        return np.array([_snap_one(g, grid) for g in geoms], dtype=object)


def _snap_one(geom, grid: float):
    try:
        return shapely.set_precision(geom, grid)
    except shapely.errors.GEOSException:
        pass
    rounded = shapely.make_valid(shapely.set_precision(geom, grid, mode="pointwise"), method="structure")
    dim = shapely.get_dimensions(geom)
    parts = [p for p in shapely.get_parts(rounded) if shapely.get_dimensions(p) == dim and not p.is_empty]
    if not parts:
        return type(geom)()
    if dim == 2:
        polys = [q for p in parts for q in shapely.get_parts(p)]
        return shapely.set_precision(polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys), grid)
    return shapely.set_precision(shapely.union_all(parts), grid)


def grid_round(xy: np.ndarray, grid: float = GRID_DEG) -> np.ndarray:
    """Coordinates rounded to ``grid`` exactly as GEOS's precision model rounds them (half up, with the scale
    1/grid taken as a whole number when it is one), so a vertex can be found again after snap rounding.

    >>> grid_round(np.array([[120.12345675, 30.00000004]])).tolist()
    [[120.1234568, 30.0]]
    """
    scale = 1.0 / grid
    if abs(scale - round(scale)) < 1e-6 * scale:
        scale = float(round(scale))
    return np.floor(np.asarray(xy, dtype=float) * scale + 0.5) / scale


@dataclass
class Normalized:
    """Polygons put on the precision model and what that did to each (only entries for changed ones)."""

    geoms: np.ndarray
    changes: list[dict] = field(default_factory=list)
    #: Positions of polygons the model collapsed to nothing (thinner than the grid everywhere).
    collapsed: list[int] = field(default_factory=list)

    def summary(self) -> dict:
        moved = [c["area_moved_m2"] for c in self.changes]
        return {
            "grid_deg": GRID_DEG,
            "max_edge_deg": MAX_OUTLINE_EDGE_DEG,
            "changed": len(self.changes),
            "snapped": sum(1 for c in self.changes if c["snapped"]),
            "vertices_added": int(sum(c["vertices_added"] for c in self.changes)),
            "largest_area_moved_m2": float(max(moved, default=0.0)),
            "collapsed": list(self.collapsed),
        }


#: Outlines with a vertex closer than this (degrees, ≈ 2 cm) to another vertex or to an edge it is not on are
#: snap-rounded to the grid: such near-misses (spikes, slivers, doubled vertices) are what folds once
#: projected. Outlines with more room keep their vertices exactly.
MIN_CLEARANCE_DEG = 2 * GRID_DEG


def normalize_polygons(geoms: ArrayLike, *, max_edge: float = MAX_OUTLINE_EDGE_DEG, grid: float = GRID_DEG,
                       joint: bool = False) -> Normalized:
    """Polygons (lon/lat) on the precision model.

    1. exactly repeated vertices and vertices within 1e-12° (0.1 µm) of the line through their neighbours
       are dropped (among them the ones step 4 adds, so normalising twice changes nothing the second time);
    2. a polygon with less clearance than :data:`MIN_CLEARANCE_DEG` (or invalid) is snap-rounded to ``grid``
       (GEOS ``set_precision``): its spikes, slivers and near-doubled vertices go, and it is valid by
       construction;
    3. a vertex a snapped polygon shares with another polygon is rounded the same way in that one too, so
       neighbours keep sharing their line (the other's remaining vertices stay exactly as they were);
    4. edges longer than ``max_edge`` are cut into equal pieces (vertices added on the edges: the shape is
       unchanged, and an edge shared by two polygons gets the same vertices in both).

    ``joint``: the polygons form a layer (communities) whose neighbours share lines. When any of them needs
    the snap, all are snap-rounded together (their outlines noded as one linework, every face going back to
    the polygon holding it), so the layer stays one coverage: a snap-rounded polygon's line bends through the
    grid points of its own near-misses, which a neighbour rounded alone would not follow. Polygons that
    overlapped by less than that are left one face each; gaps between them stay gaps.

    Each changed polygon is reported with whether a vertex of it was moved, the vertices added and the area
    that moved (|A − B| + |B − A| in m², at the local scale of a degree; 0 when only densified). A polygon
    that collapses entirely is listed in ``collapsed`` and kept as it was, for the caller to refuse with a
    clear message.

    >>> res = normalize_polygons([shapely.box(120, 30, 120.0003, 30.0001)])
    >>> len(shapely.get_coordinates(res.geoms[0])), res.changes[0]["vertices_added"], res.changes[0]["snapped"]
    (13, 8, False)
    >>> normalize_polygons(res.geoms).changes
    []
    >>> spike = shapely.Polygon([(120, 30), (120.001, 30), (120.001, 30.001), (120.0005, 30.001), (120.0005, 30.002), (120.00050000001, 30.001), (120, 30.001)])
    >>> res = normalize_polygons([spike]); res.changes[0]["snapped"], res.geoms[0].equals(shapely.box(120, 30, 120.001, 30.001))
    (True, True)
    """
    geoms = np.asarray(geoms, dtype=object)
    base = shapely.simplify(shapely.remove_repeated_points(geoms, 0.0), 1e-12)
    rough = (shapely.minimum_clearance(base) < MIN_CLEARANCE_DEG) | ~shapely.is_valid(base)
    rounded = base.copy()
    if rough.any() and joint and len(base) > 1:
        rounded = _snap_together(base, grid)
        rough = np.ones(len(base), dtype=bool)
    elif rough.any():
        rounded[rough] = snap(base[rough], grid)
        rounded = _shared_rounding(base, rounded, rough, grid)
    if rough.any():
        rounded[rough] = drop_threads(rounded[rough], grid)
    # Compared as normalised: GEOS's rounding also puts rings in its own order, which moves nothing.
    snapped = ~shapely.equals_exact(rounded, base, 0.0, normalize=True)
    out = densify(rounded, max_edge)
    differs = np.flatnonzero(~shapely.equals_exact(out, geoms, 0.0, normalize=True))
    gone = differs[shapely.is_empty(out[differs]) | (shapely.area(out[differs]) == 0)]
    out[gone] = geoms[gone]
    changed = np.setdiff1d(differs, gone)
    bounds = shapely.bounds(geoms[changed])
    scale = 111_320.0**2 * np.cos(np.radians((bounds[:, 1] + bounds[:, 3]) / 2))
    moved = np.zeros(len(changed))
    measure = np.flatnonzero(snapped[changed] & shapely.is_valid(geoms[changed]))
    if len(measure):
        a, b = out[changed[measure]], geoms[changed[measure]]
        # Both differences, snap-rounded on a 1e-12° grid (0.1 µm): GEOS's floating overlay can miss a
        # millimetre band along a long outline entirely (0.45 m² of a real community's 0.88 m² reported as 0).
        moved[measure] = (shapely.area(shapely.difference(a, b, grid_size=1e-12))
                          + shapely.area(shapely.difference(b, a, grid_size=1e-12)))
    added = shapely.get_num_coordinates(out[changed]) - shapely.get_num_coordinates(geoms[changed])
    before, after = shapely.get_num_geometries(geoms[changed]), shapely.get_num_geometries(out[changed])
    changes = [
        {"index": int(i), "snapped": bool(snapped[i]), "vertices_added": int(v), "area_moved_m2": round(float(m * k), 6),
         "parts_before": int(pb), "parts_after": int(pa)}
        for i, v, m, k, pb, pa in zip(changed.tolist(), added.tolist(), moved.tolist(), scale.tolist(), before.tolist(), after.tolist())
    ]
    collapsed = gone.tolist()
    return Normalized(out, changes, collapsed)


def drop_threads(geoms: ArrayLike, grid: float = GRID_DEG) -> np.ndarray:
    """``geoms`` without the polygon parts thinner than ``grid`` everywhere (a part that an inward buffer of
    half a cell empties); a geometry made only of such parts becomes empty.

    Snap rounding keeps a part whose vertices land on distinct grid points however thin it is: a spike 1e-8°
    off its line became an 18 m × 2 mm triangle of its own. Any later rounding of lines through it (a
    vertex added on its long edge) collapses it, so a grid drawn for it would vanish and leave a gap; it is
    noise of the input, not ground anyone can be responsible for.

    >>> thin = shapely.Polygon([(120, 30), (120.0002, 30.00000002), (120.0001, 30)])
    >>> [g.geom_type for g in drop_threads([shapely.MultiPolygon([shapely.box(120, 30.001, 120.001, 30.002), thin]), thin])]
    ['Polygon', 'Polygon']
    >>> drop_threads([thin])[0].is_empty
    True
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    polygonal = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))
    if not len(polygonal):
        return geoms
    parts, owner = shapely.get_parts(geoms[polygonal], return_index=True)
    thin = shapely.is_empty(shapely.buffer(parts, -grid / 2))
    for j in np.unique(owner[thin]):
        keep = parts[(owner == j) & ~thin]
        i = polygonal[j]
        geoms[i] = shapely.Polygon() if len(keep) == 0 else keep[0] if len(keep) == 1 else shapely.MultiPolygon(list(keep))
    return geoms


def _snap_together(geoms: np.ndarray, grid: float) -> np.ndarray:
    """Polygons snap-rounded as one linework and rebuilt from its faces: each face goes to the polygon
    holding its interior point (the one overlapping it most where several do); faces in none are gaps."""
    lines = shapely.get_parts(shapely.boundary(geoms))
    edges = shapely.get_parts(shapely.union_all(lines, grid_size=grid))
    faces = shapely.get_parts(shapely.polygonize(edges[shapely.get_dimensions(edges) == 1]))
    if len(faces) == 0:
        return snap(geoms, grid)
    inner = shapely.point_on_surface(faces)
    f, g = shapely.STRtree(geoms).query(faces, predicate="intersects")
    share = shapely.area(shapely.intersection(faces[f], shapely.make_valid(geoms[g])))
    holds = shapely.intersects(inner[f], geoms[g])
    order = np.lexsort((g, -share, ~holds, f))
    f, g, share = f[order], g[order], share[order]
    first = np.r_[True, f[1:] != f[:-1]] & (share > 0.5 * shapely.area(faces[f]))
    owner = np.full(len(faces), -1, dtype=np.intp)
    owner[f[first]] = g[first]
    out = geoms.copy()
    for k in range(len(geoms)):
        mine = faces[owner == k]
        if len(mine) == 0:
            out[k] = snap([geoms[k]], grid)[0]
            continue
        try:
            union = shapely.coverage_union_all(mine) if len(mine) > 1 else mine[0]
        except shapely.errors.GEOSException:
            union = shapely.union_all(mine)
        if shapely.get_type_id(union) == 6 and shapely.get_num_geometries(union) == 1:
            union = shapely.get_geometry(union, 0)
        out[k] = union
    return out


def _shared_rounding(base: np.ndarray, rounded: np.ndarray, rough: np.ndarray, grid: float) -> np.ndarray:
    """``rounded`` with the vertices other polygons share with a snapped (rough) one rounded the same way in
    those polygons (pointwise; one the rounding would leave invalid is snapped whole)."""
    shared = set(_coordinate_keys(shapely.get_coordinates(base[rough])).tolist())
    out = rounded.copy()
    for i in np.flatnonzero(~rough).tolist():
        xy = shapely.get_coordinates(base[i])
        hit = np.isin(_coordinate_keys(xy), list(shared))
        if not hit.any():
            continue
        xy[hit] = grid_round(xy[hit], grid)
        moved = shapely.remove_repeated_points(shapely.set_coordinates(base[i], xy), 0.0)
        out[i] = moved if shapely.is_valid(moved) else snap([base[i]], grid)[0]
    return out


def _coordinate_keys(xy: np.ndarray) -> np.ndarray:
    """One hashable value per coordinate pair (the same floats, the same key)."""
    return np.ascontiguousarray(xy[:, :2], dtype=np.float64).view(np.complex128).ravel()


def square_metres_per_square_degree(geom: shapely.Geometry) -> float:
    """The local area of one square degree at ``geom``'s latitude (a figure for reports, not for measuring).

    >>> round(square_metres_per_square_degree(shapely.Point(120, 0)) / 1e10, 3)
    1.239
    """
    lat = 0.0 if shapely.is_empty(geom) else float(np.mean(shapely.bounds(geom)[[1, 3]]))
    return 111_320.0**2 * float(np.cos(np.radians(lat)))


def normalize_outlines(geoms: ArrayLike, labels: ArrayLike, metric_crs: CRSLike, source: str) -> tuple[np.ndarray, dict]:
    """Region outlines (communities) on the precision model, each checked to be a valid polygon in lon/lat
    and in ``metric_crs``; bad ones raise :class:`gis.errors.VectorInputError` naming ``source`` and each
    feature by position and ``labels[i]``. Returns the outlines and a summary with an entry per changed one
    (``index`` into ``geoms``)."""
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(types, (3, 6)) | shapely.is_empty(geoms))
    problems = [Problem(f"is a {geoms[i].geom_type if geoms[i] is not None else 'missing geometry'}, expected a polygon", int(i), labels[i]) for i in bad.tolist()]
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    invalid = invalid[~np.isin(invalid, bad)]
    problems += [Problem(f"invalid polygon ({shapely.is_valid_reason(geoms[i])}); import or check_features repairs it", int(i), labels[i]) for i in invalid.tolist()]
    if problems:
        raise VectorInputError(source, problems)
    norm = normalize_polygons(geoms, joint=True)
    problems = [Problem("collapses on the 1e-7° precision grid (thinner than about 1 cm everywhere)", i, labels[i]) for i in norm.collapsed]
    metric = transform(norm.geoms, STORAGE_CRS, metric_crs)
    for i in np.flatnonzero(~shapely.is_valid(metric)).tolist():
        problems.append(Problem(f"is not a valid polygon in {metric_crs.to_string()} ({shapely.is_valid_reason(metric[i])})", int(i), labels[i]))
    if problems:
        raise VectorInputError(source, problems)
    summary = norm.summary()
    summary["changed"] = [dict(c) for c in norm.changes]
    return norm.geoms, summary


def normalize_footprints(foot: ArrayLike) -> tuple[np.ndarray, dict]:
    """Building footprints on the precision model (:func:`normalize_polygons`); a footprint smaller than the
    grid cell becomes its point (no grid edge can follow it, but it is still counted). Points stay as given:
    no line follows them, and a point on a community line stays on it."""
    foot = np.asarray(foot, dtype=object)
    poly = np.flatnonzero(np.isin(shapely.get_type_id(foot), (3, 6)))
    out = foot.copy()
    tiny = np.zeros(0, dtype=np.intp)
    if len(poly):
        norm = normalize_polygons(foot[poly])
        out[poly] = norm.geoms
        tiny = poly[norm.collapsed]
        out[tiny] = shapely.point_on_surface(foot[tiny])
    changed = int((~shapely.equals_exact(out, foot, 0.0)).sum()) if len(foot) else 0
    return out, {"changed": changed, "as_points": int(len(tiny))}


def onto_outline(geoms: ArrayLike, region: shapely.Geometry, *, within: float = GRID_DEG) -> np.ndarray:
    """``geoms`` with every vertex closer than ``within`` to ``region``'s outline put on it (on the nearest
    outline vertex when one is that close, else on the nearest point of the outline).

    A footprint drawn a millimetre inside or outside a community line is, for every purpose here, on it;
    left where it is, rounding to the grid would either dent the community's outline or cut the footprint.
    A geometry the move would leave invalid is kept as it was.

    >>> sq = shapely.box(0, 0, 1, 1)
    >>> onto_outline([shapely.box(0.5, 0.2, 1.00000001, 0.4)], sq)[0].bounds
    (0.5, 0.2, 1.0, 0.4)
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    outline = shapely.boundary(region)
    near = np.flatnonzero(shapely.dwithin(geoms, outline, within))
    if len(near) == 0:
        return geoms
    corners = shapely.points(np.unique(shapely.get_coordinates(region), axis=0))
    corner_tree = shapely.STRtree(corners)
    for i in near.tolist():
        xy = shapely.get_coordinates(geoms[i])
        pts = shapely.points(xy)
        d = shapely.distance(pts, outline)
        move = np.flatnonzero((d > 0) & (d < within))
        if len(move) == 0:
            continue
        new = xy.copy()
        for k in move.tolist():
            hit = corner_tree.query(pts[k], predicate="dwithin", distance=within)
            if len(hit):
                c = corners[hit[np.argmin(shapely.distance(pts[k], corners[hit]))]]
                new[k] = (c.x, c.y)
            else:
                q = shapely.get_point(shapely.shortest_line(pts[k], outline), 1)
                new[k] = (q.x, q.y)
        moved = shapely.remove_repeated_points(shapely.set_coordinates(geoms[i], new), 0.0)
        if shapely.is_valid(moved) and not shapely.is_empty(moved):
            geoms[i] = moved
    return geoms


def weld(fixed: ArrayLike, region: shapely.Geometry, *, grid: float = GRID_DEG) -> np.ndarray:
    """Polygons (footprints) whose vertices lie within 1.5 grid cells of a vertex of ``region`` (their
    community) or of another of the polygons made to use that vertex.

    Snap rounding would put both in one cell or in neighbouring ones, and only one order of them along the
    line can be put back: a footprint clipped to a community line a hair beside one of its vertices would
    fold there. Such a vertex moves by at most 1.5 cells (≈ 1.6 cm); two vertices of one polygon are never
    welded, and a polygon the move would leave invalid stays as it was.

    >>> sq = shapely.box(0, 0, 1, 1)
    >>> weld([shapely.box(1.00000001, 0.2, 1.5, 0.4)], shapely.box(0, 0.2, 1, 0.4))[0].bounds
    (1.0, 0.2, 1.5, 0.4)
    """
    fixed = np.asarray(fixed, dtype=object)
    coords, owner = shapely.get_coordinates(fixed, return_index=True)
    if len(coords) == 0:
        return fixed
    reach = 1.5 * grid
    own = np.unique(shapely.get_coordinates(region), axis=0)
    target = coords.copy()
    # First onto the region's own vertices ...
    p, q = shapely.STRtree(shapely.points(own)).query(shapely.points(coords), predicate="dwithin", distance=reach)
    if len(p):
        d = np.hypot(*(coords[p] - own[q]).T)
        order = np.lexsort((q, d, p))
        p, q = p[order], q[order]
        first = np.r_[True, p[1:] != p[:-1]]
        target[p[first]] = own[q[first]]
    # ... then each onto a vertex of another fixed polygon near it (the lower-numbered polygon's). Two
    # vertices of one polygon are never welded: that would change its own shape.
    rest = np.flatnonzero(np.all(target == coords, axis=1))
    if len(rest) > 1:
        pts = shapely.points(coords[rest])
        a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=reach)
        keep = owner[rest[b]] < owner[rest[a]]
        a, b = a[keep], b[keep]
        if len(a):
            order = np.lexsort((b, owner[rest[b]], a))
            a, b = a[order], b[order]
            first = np.r_[True, a[1:] != a[:-1]]
            target[rest[a[first]]] = coords[rest[b[first]]]
    moved = np.any(target != coords, axis=1)
    if not moved.any():
        return fixed
    out = fixed.copy()
    for i in np.unique(owner[moved]).tolist():
        rows = owner == i
        geom = shapely.remove_repeated_points(shapely.set_coordinates(fixed[i], target[rows]), 0.0)
        if shapely.is_valid(geom) and not shapely.is_empty(geom) and shapely.area(geom) > 0:
            out[i] = geom
    return out
