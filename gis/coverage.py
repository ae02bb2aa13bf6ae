"""Polygonal coverages: build noded faces from linework, find shared edges, and check a coverage against its region.

A *coverage* here is a set of polygons that tile a region: no overlaps, no gaps, and matching vertices along
shared edges, as GEOS's coverage tools (``coverage_is_valid``, ``coverage_union``) require.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely import STRtree

from gis.crs import transform
from gis.precision import GRID_DEG, MAX_INNER_EDGE_DEG, densify, grid_round, square_metres_per_square_degree

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from pyproj import CRS

    CRSLike = CRS | int | str


def polygon_faces(region: shapely.Geometry, lines: ArrayLike | None = None) -> np.ndarray:
    """The faces into which ``lines`` cut ``region``: single polygons that form a valid coverage of it.

    All linework (the region's boundary and the lines clipped to the region) is noded in one union, so
    neighbouring faces share exactly the same vertices. Faces lying in holes of the region are dropped.
    The order of the result depends only on the input.
    """
    parts = [shapely.boundary(region)]
    if lines is not None and len(lines):
        lines = np.asarray(lines, dtype=object)
        lines = lines[~shapely.is_empty(lines) & ~shapely.is_missing(lines)]
        if len(lines):
            # Clip to a box around the region, not to the region itself: lines far outside add nothing but
            # noding work, while an exact clip would end lines on the outline by rounding, not always on it.
            minx, miny, maxx, maxy = shapely.bounds(region)
            pad = 1e-6 * max(maxx - minx, maxy - miny, 1e-9)
            clipped = shapely.clip_by_rect(lines, minx - pad, miny - pad, maxx + pad, maxy + pad)
            clipped = clipped[~shapely.is_empty(clipped)]
            parts.extend(clipped.tolist())
    noded = shapely.union_all(shapely.get_parts(np.asarray(parts, dtype=object)))
    edges = shapely.get_parts(noded)
    edges = edges[shapely.get_dimensions(edges) == 1]
    faces = shapely.get_parts(shapely.polygonize(edges))
    if len(faces) == 0:
        return faces
    inside = shapely.contains(region, shapely.point_on_surface(faces))
    # point_on_surface can land on the outline of a face with a thin spike (nearly coincident lines make
    # one); dropping such a face as outside would leave a gap. Faces that fail the test are looked at again
    # with a point strictly inside them, then by area. Rounding slivers (negligible area) are left as they are.
    unsure = np.flatnonzero(~inside & (shapely.area(faces) > _SLIVER * shapely.area(region)))
    if len(unsure):
        again = shapely.contains(region, interior_points(faces[unsure]))
        share = shapely.area(shapely.intersection(faces[unsure], region)) / shapely.area(faces[unsure])
        inside[unsure] = again | (share > 0.5)
    return faces[inside]


# Faces smaller than this share of the region are rounding slivers (1 cm² in a km²).
_SLIVER = 1e-10


def interior_points(polygons: ArrayLike) -> np.ndarray:
    """A point strictly inside each polygon where one can be found (else ``point_on_surface``'s point).

    ``point_on_surface`` can return a boundary point for a polygon with a thin spike (two nearly coincident
    cut lines make one): such a point then seems to lie in the neighbour, or outside the region. For those
    polygons the centroid of their largest triangle (constrained Delaunay) is used: strictly inside.
    """
    polygons = np.asarray(polygons, dtype=object)
    points = shapely.point_on_surface(polygons)
    if len(polygons) == 0:
        return points
    bad = np.flatnonzero(~shapely.contains(polygons, points))
    for i in bad.tolist():
        triangles = shapely.get_parts(shapely.constrained_delaunay_triangles(polygons[i]))
        if len(triangles):
            retry = shapely.centroid(triangles[int(np.argmax(shapely.area(triangles)))])
            if shapely.contains(polygons[i], retry):
                points[i] = retry
    return points


def locate_points(points: ArrayLike, polygons: ArrayLike, *, nearest: bool = False) -> np.ndarray:
    """Index of the polygon holding each point: the lowest index where several do (a point on an edge two
    polygons share), -1 where none does, or with ``nearest`` the nearest polygon (in a coverage only
    floating-point noise leaves a point in no face of it).

    >>> polys = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    >>> locate_points(shapely.points([(0.5, 0.5), (1, 0.5), (5, 0.5)]), polys).tolist()
    [0, 0, -1]
    >>> locate_points(shapely.points([(5, 0.5)]), polys, nearest=True).tolist()
    [1]
    """
    points = np.asarray(points, dtype=object)
    polygons = np.asarray(polygons, dtype=object)
    out = np.full(len(points), -1, dtype=np.intp)
    if len(points) == 0 or len(polygons) == 0:
        return out
    tree = STRtree(polygons)
    p, g = tree.query(points, predicate="intersects")
    order = np.lexsort((g, p))
    p, g = p[order], g[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    out[p[first]] = g[first]
    missing = np.flatnonzero(out < 0)
    if nearest and len(missing):
        p2, g2 = tree.query_nearest(points[missing], return_distance=False, all_matches=False)
        out[missing[p2]] = g2
    return out


def shared_edges(polygons: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` with ``i < j`` of polygons that share boundary of positive length, and that length.

    Polygons that only touch at points are not neighbours. Lengths are in the units of the coordinates.
    """
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) < 2:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    tree = STRtree(polygons)
    a, b = tree.query(polygons, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.intersection(shapely.boundary(polygons[a]), shapely.boundary(polygons[b]))
    length = shapely.length(shared)
    pos = length > 0
    return a[pos], b[pos], length[pos]


def unmatched_edges(polygons: ArrayLike) -> np.ndarray:
    """Whether each polygon has an edge that does not match its neighbours' (``coverage_invalid_edges``),
    confirmed exactly.

    GEOS 3.14's CoverageValidator flags valid layouts: a ring touching itself at a vertex (a hole touching
    its shell, a pinched outline) where a neighbour's edge starts, with nothing overlapping. A flagged
    polygon counts here only when a neighbour really breaks the coverage, judged with exact predicates:
    their interiors intersect, or a vertex of one lies on the other's boundary without being a vertex of it
    (the lines are not noded alike). Polygons are assumed valid.

    >>> a = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)], [[(1, 1), (0.5, 0.8), (0.8, 0.5), (1, 1)]])
    >>> b = shapely.box(1, 0, 2, 1)
    >>> (~shapely.is_empty(shapely.coverage_invalid_edges([a, b]))).tolist(), unmatched_edges([a, b]).tolist()
    ([False, True], [False, False])
    >>> unmatched_edges([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 2)]).tolist()
    [True, True]
    """
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) < 2:
        return np.zeros(len(polygons), dtype=bool)
    flagged = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(polygons)))
    out = np.zeros(len(polygons), dtype=bool)
    if not len(flagged):
        return out
    tree = STRtree(polygons)
    boundary = shapely.boundary(polygons)

    def unshared(i: int, j: int) -> bool:
        # Vertices of j on i's boundary that are not vertices of i (point-on-line is an exact predicate).
        vi = {tuple(xy) for xy in shapely.get_coordinates(polygons[i]).tolist()}
        vj = shapely.get_coordinates(polygons[j])
        on = vj[shapely.intersects(shapely.points(vj), boundary[i])]
        return any(tuple(xy) not in vi for xy in on.tolist())

    for i in flagged.tolist():
        for j in tree.query(polygons[i], predicate="intersects").tolist():
            if j != i and (shapely.relate_pattern(polygons[i], polygons[j], "T********") or unshared(i, j) or unshared(j, i)):
                out[i] = True
                break
    return out


def coverage_problems(polygons: ArrayLike, region: shapely.Geometry | None = None, *, tolerance: float = 1e-9) -> dict:
    """What keeps ``polygons`` from being a clean coverage (of ``region``, when given).

    Returns a JSON-friendly dict: ``invalid`` (polygons not valid), ``not_single`` (not a single Polygon),
    ``invalid_edges`` (polygons whose edges do not match their neighbours', from ``coverage_invalid_edges``),
    ``overlap_area`` (sum of areas minus area of the union), ``gap_area`` and ``outside_area`` (region not
    covered / polygons outside the region) and ``ok``. Areas are in squared coordinate units; ``tolerance``
    is relative to the region's (else the union's) area.
    """
    polygons = np.asarray(polygons, dtype=object)
    out = {"count": int(len(polygons))}
    out["invalid"] = int((~shapely.is_valid(polygons)).sum()) if len(polygons) else 0
    out["not_single"] = int((shapely.get_type_id(polygons) != 3).sum()) if len(polygons) else 0
    if len(polygons):
        out["invalid_edges"] = int(unmatched_edges(polygons).sum()) if out["invalid"] == 0 else int((~shapely.is_empty(shapely.coverage_invalid_edges(polygons))).sum())
        out["coverage_valid"] = out["invalid"] == 0 and out["invalid_edges"] == 0
        union = shapely.union_all(polygons)
        out["overlap_area"] = float(max(shapely.area(polygons).sum() - union.area, 0.0))
    else:
        out["invalid_edges"] = 0
        out["coverage_valid"] = True
        union = shapely.Polygon()
        out["overlap_area"] = 0.0
    scale = union.area
    if region is not None:
        out["gap_area"] = float(shapely.difference(region, union).area)
        out["outside_area"] = float(shapely.difference(union, region).area)
        scale = region.area
    else:
        out["gap_area"] = out["outside_area"] = 0.0
    limit = tolerance * max(scale, 0.0)
    out["ok"] = bool(
        out["invalid"] == 0
        and out["not_single"] == 0
        and out["coverage_valid"]
        and out["overlap_area"] <= limit
        and out["gap_area"] <= limit
        and out["outside_area"] <= limit
    )
    return out


# --- the precision model applied to a coverage -----------------------------------------------------------


@dataclass
class Settled:
    """A coverage put on the precision model (:mod:`gis.precision`), in the input's order.

    ``lost`` lists polygons thinner than the grid everywhere (none of the region is left to them); their
    entries in ``polygons`` are empty. ``moved_area`` is the area (coordinate units²) that changed hands or
    was added or removed, per polygon.
    """

    polygons: np.ndarray
    lost: list[int]
    moved_area: np.ndarray


def settle(polygons: ArrayLike, region: shapely.Geometry, *, fixed: ArrayLike = (), grid: float = GRID_DEG, max_edge: float = MAX_INNER_EDGE_DEG,
           fit: bool = True) -> Settled:
    """``polygons`` (lon/lat, a coverage of ``region`` up to rounding) rebuilt on the precision model.

    All linework (the region's outline, the outlines of the ``fixed`` polygons and every polygon's edges, the
    inner ones cut to ``max_edge``) is snap-rounded together to ``grid`` and polygonized, so the faces share
    their vertices exactly and no vertex lies within half a cell of an edge it is not on. Each face goes to
    the polygon holding its interior point.

    Snap rounding bends a line through the grid point nearest to where another line meets it (up to 0.71
    cells off). For the lines that must stay exactly where they are, the region's outline and the ``fixed``
    polygons (building footprints the grids go around), every such vertex is then put back on the original
    line: the result tiles ``region`` as it is, and a footprint keeps its shape. Those lines should already be
    on the model (:func:`gis.precision.normalize_polygons`): their own vertices are kept as they are.

    >>> region = shapely.box(0, 0, 0.002, 0.001)
    >>> a = shapely.box(0, 0, 0.0010000000004, 0.001); b = shapely.box(0.001, 0, 0.002, 0.001)
    >>> s = settle([a, b], region)
    >>> [round(p.area / region.area, 6) for p in s.polygons], bool(shapely.coverage_is_valid(s.polygons))
    ([0.5, 0.5], True)
    """
    polygons = np.asarray(polygons, dtype=object)
    fixed = np.asarray(fixed, dtype=object)
    n = len(polygons)
    if n == 0:
        return Settled(polygons, [], np.zeros(0))
    given = polygons
    # Overlapping footprints are kept as one: their inner lines would pull each other's rounding apart.
    if len(fixed) > 1:
        fixed = _overlap_units(fixed)
    if fit:
        polygons = _fit(polygons, region, fixed)
    lines = [shapely.get_parts(shapely.boundary(region)), shapely.get_parts(densify(shapely.boundary(polygons), max_edge))]
    if len(fixed):
        lines.append(shapely.get_parts(shapely.boundary(fixed)))
    noded = shapely.union_all(np.concatenate(lines), grid_size=grid)
    edges = shapely.get_parts(noded)
    edges = edges[shapely.get_dimensions(edges) == 1]
    faces = shapely.get_parts(shapely.polygonize(edges))
    faces = faces[_inside(faces, region)]
    moves = _restorations(faces, region, fixed, grid)
    if moves:
        # The moves are made on the noded lines, which are then noded again in floating point: a vertex put
        # back beside another, or an edge folded by two moves, is settled by the noding, not left in a face.
        coords = shapely.get_coordinates(edges)
        keys = _keys(coords)
        hit = np.isin(keys, np.array(list(moves)))
        if hit.any():
            moved_to = np.array([moves[k] for k in keys[hit].tolist()])
            coords[hit] = np.c_[moved_to.real, moved_to.imag]
            edges = shapely.get_parts(shapely.union_all(shapely.set_coordinates(edges.copy(), coords)))
            edges = edges[shapely.get_dimensions(edges) == 1]
            faces = shapely.get_parts(shapely.polygonize(edges))
            faces = faces[_inside(faces, region)]
    owner = _owners(faces, polygons)
    owner = _one_part_each(faces, owner)
    out = np.empty(n, dtype=object)
    lost = []
    for k in range(n):
        mine = faces[owner == k]
        if len(mine) == 0:
            out[k] = shapely.Polygon()
            lost.append(k)
            continue
        geom = shapely.coverage_union_all(mine) if len(mine) > 1 else mine[0]
        if shapely.get_type_id(geom) == 6 and shapely.get_num_geometries(geom) == 1:
            geom = shapely.get_geometry(geom, 0)
        out[k] = geom
    moved = np.zeros(n)
    ok = ~shapely.is_empty(out)
    if ok.any():
        moved[ok] = shapely.area(shapely.symmetric_difference(out[ok], shapely.make_valid(given[ok])))
    return Settled(out, lost, moved)


def _fit(polygons: np.ndarray, region, fixed: np.ndarray) -> np.ndarray:
    """``polygons`` rebuilt from the faces their edges, the region's outline and the fixed polygons' outlines
    make, in floating point: a face goes to the polygon holding its interior point (or overlapping it most),
    a face in none to the neighbour sharing most boundary, and the faces inside a fixed polygon all to the
    polygon holding most of it. Edges that wander along the outline or along a footprint a fraction of a
    millimetre off it vanish into the faces beside them, so every polygon meets those lines on the lines
    themselves and no footprint is cut, and rounding cannot leave slivers between them."""
    parts = [shapely.get_parts(shapely.boundary(region)), shapely.get_parts(shapely.boundary(shapely.make_valid(polygons)))]
    if len(fixed):
        parts.append(shapely.get_parts(shapely.boundary(fixed)))
    lines = np.concatenate(parts)
    edges = shapely.get_parts(shapely.union_all(lines[shapely.get_dimensions(lines) == 1]))
    faces = shapely.get_parts(shapely.polygonize(edges[shapely.get_dimensions(edges) == 1]))
    faces = faces[_inside(faces, region)]
    owner = _one_part_each(faces, _owners(faces, polygons))
    if len(fixed) and len(faces):
        # ``fixed`` holds overlapping footprints as one unit already: their shared part cannot be in two grids.
        units = fixed
        f, k = STRtree(units).query(interior_points(faces), predicate="within")
        if len(f):
            area = shapely.area(faces)
            for j in np.unique(k).tolist():
                mine = f[k == j]
                took = np.bincount(owner[mine][owner[mine] >= 0], weights=area[mine][owner[mine] >= 0], minlength=len(polygons))
                if took.any():
                    owner[mine] = int(np.argmax(took))
            owner = _one_part_each(faces, owner)
    out = np.empty(len(polygons), dtype=object)
    for k in range(len(polygons)):
        mine = faces[owner == k]
        out[k] = shapely.coverage_union_all(mine) if len(mine) > 1 else (mine[0] if len(mine) else shapely.Polygon())
    return out


#: Two polygons overlap when they share more than this share of the smaller one's area. Footprints that
#: only touch (row houses, a wall's vertex on its neighbour's edge) share 1e-12 of it or less, from float
#: arithmetic alone; counting that as overlap ties buildings together that a grid boundary may run between.
OVERLAP_SHARE = 1e-6


def overlap_groups(polygons: ArrayLike, *, min_share: float = OVERLAP_SHARE) -> np.ndarray:
    """For each polygon, the lowest index among the polygons it overlaps (by area, more than ``min_share`` of
    the smaller one), transitively: overlapping footprints cannot be kept whole in different grids.

    >>> a, b, c = shapely.box(0, 0, 1, 1), shapely.box(0.5, 0, 1.5, 1), shapely.box(1.5, 0, 2, 1)
    >>> overlap_groups([a, b, c]).tolist()  # c only touches b
    [0, 0, 2]
    """
    polygons = np.asarray(polygons, dtype=object)
    n = len(polygons)
    root = np.arange(n)
    if n < 2:
        return root
    a, b = STRtree(polygons).query(polygons, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        shared = shapely.area(shapely.intersection(polygons[a], polygons[b]))
        keep = shared > min_share * np.minimum(shapely.area(polygons[a]), shapely.area(polygons[b]))
        a, b = a[keep], b[keep]

    def find(x):
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = find(x), find(y)
        if rx != ry:
            root[max(rx, ry)] = min(rx, ry)
    return np.array([find(i) for i in range(n)], dtype=np.intp)


def _overlap_units(polygons: np.ndarray) -> np.ndarray:
    """The unions of groups of overlapping polygons (:func:`overlap_groups`); one overlapping none is its own
    unit."""
    roots = overlap_groups(polygons)
    if (roots == np.arange(len(polygons))).all():
        return polygons
    return np.array([shapely.union_all(polygons[roots == r]) for r in np.unique(roots)], dtype=object)


def _inside(faces: np.ndarray, region) -> np.ndarray:
    """Which faces lie in ``region`` (faces in its holes do not)."""
    if len(faces) == 0:
        return np.zeros(0, dtype=bool)
    reps = interior_points(faces)
    inside = shapely.contains(region, reps)
    unsure = np.flatnonzero(~inside)
    if len(unsure):
        share = shapely.area(shapely.intersection(faces[unsure], region)) / np.maximum(shapely.area(faces[unsure]), 1e-300)
        inside[unsure] = share > 0.5
    return inside


def _keys(xy: np.ndarray) -> np.ndarray:
    """Coordinates as one hashable value each (exact: the same float pair, the same key)."""
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    return xy.view(np.complex128).ravel()


def _restorations(faces: np.ndarray, region, fixed: np.ndarray, grid: float) -> dict[complex, complex]:
    """Where each rounded vertex of the region's outline and of the fixed polygons' outlines goes back to:
    an own vertex to exactly itself, a vertex rounding added to a line to the nearest point of that line (to
    the crossing where it lies on two, to a vertex of the line within a cell of it). Keys and values are
    coordinates as :func:`_keys` makes them.

    Which vertices lie on a line is read from the faces, not from distances: the outline of the union of the
    faces inside a polygon is that polygon's rounded outline.
    """
    if len(faces) == 0:
        return {}
    # Vertices of the polygons themselves (a footprint clipped to the region has some on the region's outline).
    own_all = np.unique(np.concatenate([shapely.get_coordinates(region), shapely.get_coordinates(fixed)]), axis=0)
    own_tree = STRtree(shapely.points(own_all))
    own_keys = _keys(own_all)
    # Faces with a vertex that is no polygon's own: only a fixed polygon holding one can have anything to put back.
    coords, face_of = shapely.get_coordinates(faces, return_index=True)
    odd = np.zeros(len(faces), dtype=bool)
    odd[face_of[~np.isin(_keys(coords), own_keys)]] = True
    holders = [(region, np.arange(len(faces)))]
    if len(fixed):
        f, p = STRtree(fixed).query(interior_points(faces), predicate="within")
        order = np.argsort(p, kind="stable")
        f, p = f[order], p[order]
        ks, firsts = np.unique(p, return_index=True)
        for k, start, stop in zip(ks.tolist(), firsts.tolist(), np.r_[firsts[1:], len(p)].tolist()):
            mine = f[start:stop]
            if odd[mine].any():
                holders.append((fixed[k], mine))
    moves: dict[complex, complex] = {}
    on_lines: dict[complex, list[int]] = {}
    lines = [shapely.boundary(poly) for poly, _ in holders]
    for h, (poly, mine) in enumerate(holders):
        rounded = shapely.boundary(shapely.coverage_union_all(faces[mine]) if len(mine) > 1 else faces[mine[0]])
        spots = np.unique(_keys(shapely.get_coordinates(rounded)))
        # A vertex of any of the polygons stays where it is (a footprint touching the outline at one).
        spots = spots[~np.isin(spots, own_keys)]
        if len(spots) == 0:
            continue
        # A vertex on this polygon's line (its own, or another's lying on it), rounded, goes back to exactly
        # that vertex: the spot that is its rounding, computed as GEOS rounds.
        own = own_all[own_tree.query(lines[h], predicate="dwithin", distance=1e-6 * grid)]
        if len(own):
            image = dict(zip(_keys(grid_round(own, grid))[::-1].tolist(), _keys(own)[::-1].tolist()))
            moves.update((v, image[v]) for v in spots.tolist() if v in image)
        rest = np.array([v for v in spots.tolist() if v not in moves])
        if len(rest) == 0:
            continue
        # The union's outline also runs along lines inside the polygon where faces of other polygons (an
        # overlapping footprint) cut it: only vertices rounding moved off this polygon's own line qualify.
        near = rest[shapely.distance(shapely.points(np.c_[rest.real, rest.imag]), lines[h]) <= grid]
        for v in near.tolist():
            on_lines.setdefault(v, []).append(h)
    single: dict[int, list[complex]] = {}
    for v, hs in on_lines.items():
        if v in moves:
            continue
        if len(hs) == 1:
            single.setdefault(hs[0], []).append(v)
            continue
        # Where two of the lines cross, rounding leaves one vertex near the crossing: it goes back to the
        # crossing itself, on both lines (the nearest point of either alone would leave the other).
        spot = shapely.Point(v.real, v.imag)
        cross = shapely.get_parts(shapely.intersection(lines[hs[0]], lines[hs[1]]))
        cross = cross[shapely.get_type_id(cross) == 0] if len(cross) else cross
        if len(cross) and shapely.distance(spot, cross).min() <= 2 * grid:
            best = cross[int(np.argmin(shapely.distance(spot, cross)))]
            moves[v] = complex(best.x, best.y)
        else:
            single.setdefault(hs[0], []).append(v)
    for h, vs in single.items():
        vs = np.array(vs)
        nearest = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(shapely.points(np.c_[vs.real, vs.imag]), lines[h]), 1))
        # Put back within a cell of a vertex of the line, a vertex becomes that vertex: a millimetre-long
        # piece of outline beside a corner is what a projection can fold.
        own = own_all[own_tree.query(lines[h], predicate="dwithin", distance=1e-6 * grid)]
        if len(own):
            p, o = STRtree(shapely.points(own)).query(shapely.points(nearest), predicate="dwithin", distance=grid)
            if len(p):
                d = np.hypot(*(nearest[p] - own[o]).T)
                order = np.lexsort((o, d, p))
                p, o = p[order], o[order]
                first = np.r_[True, p[1:] != p[:-1]]
                nearest[p[first]] = own[o[first]]
        moves.update(zip(vs.tolist(), _keys(nearest).tolist()))
    return moves


def _owners(faces: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """The polygon each face belongs to: the one holding its interior point, else the one it overlaps most,
    else (rounding slivers in no polygon) -1 for :func:`_one_part_each` to settle by shared edge."""
    owner = np.full(len(faces), -1, dtype=np.intp)
    if len(faces) == 0:
        return owner
    valid = shapely.make_valid(polygons)
    tree = STRtree(valid)
    reps = interior_points(faces)
    f, p = tree.query(reps, predicate="within")
    count = np.bincount(f, minlength=len(faces))
    single = count[f] == 1
    owner[f[single]] = p[single]
    unsure = np.flatnonzero(count != 1)
    if len(unsure):
        f, p = tree.query(faces[unsure], predicate="intersects")
        if len(f):
            share = shapely.area(shapely.intersection(faces[unsure][f], valid[p]))
            order = np.lexsort((p, -share, f))
            f, p, share = f[order], p[order], share[order]
            first = np.r_[True, f[1:] != f[:-1]] & (share > 0)
            owner[unsure[f[first]]] = p[first]
    return owner


def _one_part_each(faces: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Owners changed so that every polygon's faces are edge-connected: faces with no owner, and the smaller
    pieces of a polygon that rounding cut apart, go to the neighbour sharing most boundary with them."""
    owner = owner.copy()
    pi, pj, length = shared_edges(faces)
    nbrs: dict[int, dict[int, float]] = {}
    for a, b, ln in zip(pi.tolist(), pj.tolist(), length.tolist()):
        nbrs.setdefault(a, {})[b] = ln
        nbrs.setdefault(b, {})[a] = ln
    area = shapely.area(faces)
    for _ in range(len(faces) + 1):
        changed = False
        # Components of faces with one owner (unowned faces are components of their own).
        seen = np.zeros(len(faces), dtype=bool)
        comps: dict[int, list[list[int]]] = {}
        for start in range(len(faces)):
            if seen[start]:
                continue
            comp, todo = [], [start]
            seen[start] = True
            while todo:
                f = todo.pop()
                comp.append(f)
                if owner[f] < 0:
                    continue
                for o in nbrs.get(f, {}):
                    if not seen[o] and owner[o] == owner[f]:
                        seen[o] = True
                        todo.append(o)
            comps.setdefault(int(owner[start]), []).append(comp)
        for k, parts in comps.items():
            strays = parts if k < 0 else sorted(parts, key=lambda c: (-area[c].sum(), c[0]))[1:]
            for comp in strays:
                touch: dict[int, float] = {}
                for f in comp:
                    for o, ln in nbrs.get(f, {}).items():
                        if owner[o] >= 0 and owner[o] != k:
                            touch[int(owner[o])] = touch.get(int(owner[o]), 0.0) + ln
                if touch:
                    owner[comp] = max(touch.items(), key=lambda kv: (kv[1], -kv[0]))[0]
                    changed = True
        if not changed:
            break
    return owner


# --- the hard rules, measured in lon/lat and in a metric CRS ---------------------------------------------

#: Gap, overlap or outside area (m²) per region at or below which a coverage counts as exact.
EXACT_M2 = 0.01

#: The measures are taken with snap-rounded overlay on these grids (about 0.1 µm), not floating overlay:
#: GEOS floating overlay can return a wrong answer without raising. On a generated community whose 12 grids
#: have exactly its area, with no overlap and nothing outside, ``difference(community, union)`` returned a
#: 0.05 m² triangle 1 m long that snap-rounding on any grid from 1e-12° to 1e-10° does not find. Snapping
#: moves a vertex by at most half a grid step, which changes an area by far less than :data:`EXACT_M2`.
MEASURE_GRID_DEG = 1e-12
MEASURE_GRID_M = 1e-7


def coverage_report(polygons: ArrayLike, region: shapely.Geometry, metric_crs: CRSLike, *, source_crs: CRSLike = 4490, tolerance_m2: float = EXACT_M2) -> dict:
    """The hard rules of a coverage of ``region`` checked in its own CRS (lon/lat) and in ``metric_crs``.

    Per CRS: polygons not valid, not a single Polygon, edges not matching their neighbours'
    (``coverage_invalid_edges``), and the overlap, gap (region not covered) and outside areas in m² (lon/lat
    areas at the local scale of a degree). ``ok`` when every count is 0 and every area at most
    ``tolerance_m2``. Never raises on bad geometry: a GEOS failure is reported as ``error``.

    >>> from pyproj import CRS
    >>> r = coverage_report([shapely.box(120, 30, 120.001, 30.001)], shapely.box(120, 30, 120.001, 30.001), CRS(4549))
    >>> r["ok"], r["lonlat"]["gap_m2"], r["metric"]["invalid"]
    (True, 0.0, 0)
    """
    polygons = np.asarray(polygons, dtype=object)
    out: dict = {"count": int(len(polygons))}
    scale = square_metres_per_square_degree(region)
    metric = transform(np.r_[polygons, np.array([region], dtype=object)], source_crs, metric_crs)
    for name, geoms, reg, unit, grid in (("lonlat", polygons, region, scale, MEASURE_GRID_DEG),
                                         ("metric", metric[:-1], metric[-1], 1.0, MEASURE_GRID_M)):
        out[name] = _rules(geoms, reg, unit, grid)
    worst = [out[n] for n in ("lonlat", "metric")]
    out["ok"] = all(
        "error" not in w and w["invalid"] == 0 and w["not_single"] == 0 and w["invalid_edges"] == 0
        and w["overlap_m2"] <= tolerance_m2 and w["gap_m2"] <= tolerance_m2 and w["outside_m2"] <= tolerance_m2
        for w in worst
    )
    return out


def _rules(geoms: np.ndarray, region, unit: float, grid: float) -> dict:
    res = {
        "invalid": int((~shapely.is_valid(geoms)).sum()),
        "not_single": int((shapely.get_type_id(geoms) != 3).sum()),
    }
    try:
        valid = geoms if res["invalid"] == 0 else shapely.make_valid(geoms)
        res["invalid_edges"] = int(unmatched_edges(valid).sum())
        union = shapely.union_all(valid, grid_size=grid)
        res["overlap_m2"] = float(max(shapely.area(valid).sum() - union.area, 0.0) * unit)
        res["gap_m2"] = float(shapely.area(shapely.difference(region, union, grid_size=grid)) * unit)
        res["outside_m2"] = float(shapely.area(shapely.difference(union, region, grid_size=grid)) * unit)
    except shapely.errors.GEOSException as exc:
        res.update(invalid_edges=-1, overlap_m2=float("nan"), gap_m2=float("nan"), outside_m2=float("nan"), error=str(exc))
    return res


#: A footprint counts as inside its polygon when what lies outside is under this area (m²) or nowhere wider
#: than :data:`FOOTPRINT_SLIVER_M`. A vertex placed on a footprint edge is off the edge's metric chord by
#: micrometres, and a long footprint edge given without intermediate vertices bows off the grid's densified
#: copy by a lens a few hundredths of a millimetre thick (about 0.001 m² along a 50 m wall at 30°N): such
#: slivers are the two CRSes disagreeing, not a grid line through the building, which leaves a piece
#: centimetres or metres across.
FOOTPRINT_OUTSIDE_M2 = 1e-4
FOOTPRINT_SLIVER_M = 1e-3


def footprints_outside(footprints: ArrayLike, polygons: ArrayLike, owner: ArrayLike, metric_crs: CRSLike, *, source_crs: CRSLike = 4490,
                       tolerance_m2: float = FOOTPRINT_OUTSIDE_M2, sliver_m: float = FOOTPRINT_SLIVER_M) -> dict:
    """How many footprints stick out of the polygon ``owner`` gives them, in lon/lat and in ``metric_crs``.

    A footprint sticks out when more than ``tolerance_m2`` of it lies outside and that part is somewhere wider
    than ``sliver_m`` (default :data:`FOOTPRINT_SLIVER_M`). Points and footprints without an owner (-1) are not counted. Returns ``{"lonlat": n, "metric": n,
    "worst_m2": largest area outside}``.

    >>> from pyproj import CRS
    >>> grid = [shapely.box(120, 30, 120.001, 30.001)]
    >>> inside, across = shapely.box(120.0002, 30.0002, 120.0003, 30.0003), shapely.box(120.0009, 30.0002, 120.0011, 30.0003)
    >>> r = footprints_outside([inside, across], grid, [0, 0], CRS(4549))
    >>> r["lonlat"], r["metric"]
    (1, 1)
    """
    footprints = np.asarray(footprints, dtype=object)
    polygons = np.asarray(polygons, dtype=object)
    owner = np.asarray(owner, dtype=np.intp)
    use = np.flatnonzero((owner >= 0) & (shapely.get_dimensions(footprints) == 2))
    out = {"lonlat": 0, "metric": 0, "worst_m2": 0.0}
    if len(use) == 0:
        return out
    fp = footprints[use]
    scale = square_metres_per_square_degree(shapely.union_all(polygons))
    # Each polygon is moved and prepared once, not once per footprint it holds.
    metric = transform(np.r_[fp, polygons], source_crs, metric_crs)
    for name, f, polys, unit in (("lonlat", fp, polygons.copy(), scale), ("metric", metric[: len(use)], metric[len(use):], 1.0)):
        shapely.prepare(polys)
        h = polys[owner[use]]
        inside = shapely.covered_by(f, h)
        rest = np.flatnonzero(~inside)
        if len(rest) == 0:
            continue
        piece = shapely.difference(shapely.make_valid(f[rest]), shapely.make_valid(h[rest]))
        outside = shapely.area(piece) * unit
        big = outside > tolerance_m2
        if big.any():
            # Wider than the sliver width somewhere: shrunk by half of it, something is left.
            half = sliver_m / 2 / (np.sqrt(unit) if unit != 1.0 else 1.0)
            big[big] = ~shapely.is_empty(shapely.buffer(piece[big], -half, quad_segs=2))
        out[name] = int(big.sum())
        out["worst_m2"] = max(out["worst_m2"], float(outside.max()))
    return out


#: Footprints as given (not as put on the precision model, which moves a vertex by up to 0.71 grid cells, and
#: one within a grid cell of a community line onto it) are whole when nothing wider than this is outside.
GIVEN_FOOTPRINT_SLIVER_M = 0.015


def partition_report(polygons: ArrayLike, polygon_region: ArrayLike, regions: ArrayLike, metric_crs: CRSLike, *, footprints: ArrayLike | None = None, source_crs: CRSLike = 4490,
                     tolerance_m2: float = EXACT_M2, sliver_m: float = GIVEN_FOOTPRINT_SLIVER_M) -> dict:
    """The hard rules of a whole partition, checked in lon/lat and in ``metric_crs``: ``polygons`` (grids),
    ``polygon_region`` (the index into ``regions`` each belongs to), ``regions`` (communities) and optionally
    ``footprints`` (buildings, each judged within the region it overlaps most).

    Returns totals per CRS (invalid and multipart polygons, regions whose coverage is off by more than
    ``tolerance_m2``, the worst gap, overlap and outside area) and, with footprints, how many lie in no
    polygon, and how many are cut (more than :data:`FOOTPRINT_OUTSIDE_M2` of their part in their region lies
    outside the polygon holding most of it, and somewhere wider than ``sliver_m``: footprints as given may
    differ from those the grids were made around by the precision model's rounding). ``ok`` when all of
    those are zero.
    """
    polygons = np.asarray(polygons, dtype=object)
    regions = np.asarray(regions, dtype=object)
    polygon_region = np.asarray(polygon_region, dtype=np.intp)
    order = np.argsort(polygon_region, kind="stable")
    starts = np.searchsorted(polygon_region[order], np.arange(len(regions) + 1))
    out: dict = {"polygons": int(len(polygons)), "regions": int(len(regions))}
    for crs in ("lonlat", "metric"):
        out[crs] = {"invalid": 0, "not_single": 0, "regions_off": 0, "worst_gap_m2": 0.0, "worst_overlap_m2": 0.0,
                    "worst_outside_m2": 0.0, "unmatched_edges": 0, "errors": 0}
    for r in range(len(regions)):
        mine = polygons[order[starts[r]:starts[r + 1]]]
        rep = coverage_report(mine, regions[r], metric_crs, source_crs=source_crs, tolerance_m2=tolerance_m2)
        for crs in ("lonlat", "metric"):
            c, t = rep[crs], out[crs]
            t["invalid"] += c["invalid"]
            t["not_single"] += c["not_single"]
            t["unmatched_edges"] += max(c["invalid_edges"], 0)
            t["errors"] += int("error" in c)
            for key in ("gap", "overlap", "outside"):
                if np.isfinite(c[f"{key}_m2"]):
                    t[f"worst_{key}_m2"] = max(t[f"worst_{key}_m2"], c[f"{key}_m2"])
            t["regions_off"] += int(max(c["gap_m2"], c["overlap_m2"], c["outside_m2"]) > tolerance_m2 or "error" in c)
    ok = all(out[c]["invalid"] == out[c]["not_single"] == out[c]["regions_off"] == out[c]["unmatched_edges"] == 0
             for c in ("lonlat", "metric"))
    if footprints is not None:
        out["footprints"] = _footprint_rules(np.asarray(footprints, dtype=object), polygons, polygon_region, regions, metric_crs, source_crs, sliver_m)
        f = out["footprints"]
        ok = ok and f["in_no_polygon"] == 0 and f["cut_lonlat"] == 0 and f["cut_metric"] == 0
    out["ok"] = bool(ok)
    return out


def _footprint_rules(footprints, polygons, polygon_region, regions, metric_crs, source_crs, sliver_m) -> dict:
    region_of = majority_owner(footprints, regions)
    holder = np.full(len(footprints), -1, dtype=np.intp)
    f, p = STRtree(polygons).query(footprints, predicate="intersects")
    same = polygon_region[p] == region_of[f]
    f, p = f[same], p[same]
    share = shapely.area(shapely.intersection(footprints[f], polygons[p])) if len(f) else np.zeros(0)
    dims = shapely.get_dimensions(footprints[f]) if len(f) else np.zeros(0)
    share = np.where(dims == 2, share, 1.0)
    order = np.lexsort((p, -share, f))
    f, p = f[order], p[order]
    first = np.r_[True, f[1:] != f[:-1]] if len(f) else np.zeros(0, dtype=bool)
    holder[f[first]] = p[first]
    in_region = region_of >= 0
    out = {"footprints": int(len(footprints)), "outside_every_region": int((~in_region).sum()),
           "in_no_polygon": int((in_region & (holder < 0)).sum()), "cut_lonlat": 0, "cut_metric": 0}
    poly = np.flatnonzero((holder >= 0) & (shapely.get_dimensions(footprints) == 2))
    if len(poly):
        # A footprint crossing its region's outline (or spanning two parts of a multipart region) can only be
        # whole in a grid as its largest piece inside.
        # It is judged against the grid holding most of that piece, not of the whole footprint: across the gap
        # between two parts, another grid may hold more of the footprint in smaller pieces.
        part = largest_pieces(shapely.intersection(shapely.make_valid(footprints[poly]), regions[region_of[poly]]))
        res = footprints_outside(part, polygons, _largest_share(part, polygons, polygon_region, region_of[poly], holder[poly]),
                                 metric_crs, source_crs=source_crs, sliver_m=sliver_m)
        out["cut_lonlat"], out["cut_metric"], out["worst_outside_m2"] = res["lonlat"], res["metric"], res["worst_m2"]
    return out


def _largest_share(parts, polygons, polygon_region, region_of, fallback) -> np.ndarray:
    """For each of ``parts``, the polygon of its own region holding the largest area of it (``fallback``
    where none holds any area: an empty or degenerate piece)."""
    out = np.asarray(fallback, dtype=np.intp).copy()
    f, p = STRtree(polygons).query(parts, predicate="intersects")
    keep = polygon_region[p] == region_of[f]
    f, p = f[keep], p[keep]
    if len(f):
        share = shapely.area(shapely.intersection(parts[f], polygons[p]))
        order = np.lexsort((p, -share, f))
        f, p, share = f[order], p[order], share[order]
        first = np.r_[True, f[1:] != f[:-1]] & (share > 0)
        out[f[first]] = p[first]
    return out


def largest_pieces(geoms: np.ndarray) -> np.ndarray:
    """The largest polygon of each (multi)polygon or collection."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, owner = parts[poly], owner[poly]
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    if len(parts):
        order = np.lexsort((-shapely.area(parts), owner))
        first = np.r_[True, owner[order][1:] != owner[order][:-1]]
        out[owner[order][first]] = parts[order][first]
    return out


def followed_footprints(footprints: ArrayLike, polygons: ArrayLike, *, within: float = 2 * GRID_DEG) -> np.ndarray:
    """The polygonal footprints that some polygon's boundary touches, runs along or passes within ``within``
    of (rounding may move it that far): the ones :func:`settle` must keep exactly (pass them as ``fixed``)."""
    footprints = np.asarray(footprints, dtype=object)
    polygons = np.asarray(polygons, dtype=object)
    poly = np.flatnonzero(shapely.get_dimensions(footprints) == 2) if len(footprints) else np.zeros(0, dtype=np.intp)
    if len(poly) == 0 or len(polygons) == 0:
        return np.zeros(0, dtype=object)
    touched = STRtree(footprints[poly]).query(shapely.boundary(polygons), predicate="dwithin", distance=within)[1]
    return footprints[poly[np.unique(touched)]]


#: Vertices this close (degrees, ≈ 1 µm) to another polygon's edge lie on it (put there by float arithmetic).
_ON_EDGE_DEG = 1e-11


def match_across(polygons: ArrayLike, regions: ArrayLike, metric_crs: CRSLike | None = None, *, source_crs: CRSLike = 4490) -> np.ndarray:
    """``polygons`` (lon/lat; each region's own coverage settled separately) with the vertices that lie on the
    regions' outlines shared across them: a vertex where one region's grids meet its outline is inserted
    into the neighbouring region's polygon along that outline. The shapes do not change (the vertex lies on
    the edge already); the district's polygons then form one coverage edge for edge, in every CRS. A polygon
    the insertion would leave invalid (in lon/lat, or in ``metric_crs`` when given) is kept as it was.

    >>> left = [shapely.box(0, 0, 1, 0.5), shapely.box(0, 0.5, 1, 1)]; right = [shapely.box(1, 0, 2, 1)]
    >>> out = match_across(left + right, [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> bool(shapely.coverage_is_valid(np.array(left + right))), bool(shapely.coverage_is_valid(out))
    (False, True)
    """
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) < 2:
        return polygons
    outlines = shapely.get_parts(shapely.boundary(np.asarray(regions, dtype=object)))
    pts = shapely.points(np.unique(shapely.get_coordinates(polygons), axis=0))
    on = np.unique(STRtree(outlines).query(pts, predicate="dwithin", distance=_ON_EDGE_DEG)[0])
    if len(on) == 0:
        return polygons
    pts = pts[on]
    poly, pt = STRtree(pts).query(shapely.boundary(polygons), predicate="dwithin", distance=_ON_EDGE_DEG)
    out = polygons.copy()
    if len(poly) == 0:
        return out
    order = np.argsort(poly, kind="stable")
    poly, pt = poly[order], pt[order]
    touched = np.unique(poly)
    for g in touched.tolist():
        out[g] = shapely.snap(polygons[g], shapely.multipoints(pts[pt[poly == g]]), _ON_EDGE_DEG)
    bad = ~shapely.is_valid(out[touched])
    if metric_crs is not None:
        bad |= ~shapely.is_valid(transform(out[touched], source_crs, metric_crs))
    out[touched[bad]] = polygons[touched[bad]]
    return out


def majority_owner(geoms: ArrayLike, regions: ArrayLike) -> np.ndarray:
    """The index of the region each geometry overlaps most (a point: the region holding it; ties: the lower
    index), -1 for none.

    By share rather than by a representative point: which side of a line a point falls on moves with a
    footprint's vertices, the larger share does not.

    >>> regions = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    >>> majority_owner([shapely.box(0.8, 0.1, 1.5, 0.2), shapely.Point(1.5, 0.5), shapely.Point(5, 5)], regions).tolist()
    [1, 1, -1]
    """
    geoms = np.asarray(geoms, dtype=object)
    owner = np.full(len(geoms), -1, dtype=np.intp)
    if len(geoms) == 0:
        return owner
    regions = np.asarray(regions, dtype=object)
    f, r = STRtree(regions).query(geoms, predicate="intersects")
    if len(f):
        # Most footprints lie inside one region: their share is their area, no overlay needed.
        shapely.prepare(regions)
        many = np.bincount(f, minlength=len(geoms))[f] > 1
        poly = shapely.get_dimensions(geoms[f]) == 2
        share = np.where(poly, shapely.area(geoms[f]), 0.0)
        need = np.flatnonzero(poly & (many | ~shapely.covered_by(geoms[f], regions[r])))
        if len(need):
            share[need] = shapely.area(shapely.intersection(geoms[f[need]], regions[r[need]]))
        order = np.lexsort((r, -share, f))
        f, r, share = f[order], r[order], share[order]
        first = np.r_[True, f[1:] != f[:-1]]
        # A footprint touching a region only along its outline is not in it; a point on an outline is.
        real = (share > 0) | (shapely.get_dimensions(geoms[f]) < 2)
        owner[f[first & real]] = r[first & real]
    return owner
