"""Editing grid polygons by hand: split along a line, merge, reshape a shared boundary, move buildings.

Pure functions over shapely geometries in any one coordinate system (the store's lon/lat works: every
operation is topological, and tolerances are given in the same units). New boundaries are built by noding
all linework at once (:func:`gis.coverage.polygon_faces`) and re-assembling faces, so the pieces of an edit
share their vertices exactly. Buildings are never split: a building crossed by a new boundary goes whole to
one side, or the edit is refused with :class:`EditError` saying why.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import nearest_points

from gis.coverage import polygon_faces, shared_edges

# Areas below this share of the edited polygon are floating-point noise, not pieces.
_NOISE = 1e-9


class EditError(ValueError):
    """An edit that cannot be made as asked; the message says why, for the person drawing."""


def snap_line(line: LineString, reference, tolerance: float) -> LineString:
    """``line`` with each vertex moved onto the nearest vertex of ``reference`` within ``tolerance``, and each
    end that did not land on a vertex pushed ``tolerance`` further on, so a line drawn to (not quite onto) a
    boundary still crosses it."""
    if line.is_empty or len(line.coords) < 2:
        raise EditError("the line needs at least two distinct points")
    coords = np.asarray(line.coords, dtype=float)[:, :2]
    targets = shapely.get_coordinates(reference)
    snapped = np.zeros(len(coords), dtype=bool)
    if tolerance > 0 and len(targets):
        for i, c in enumerate(coords):
            d = np.hypot(targets[:, 0] - c[0], targets[:, 1] - c[1])
            k = int(np.argmin(d))
            if d[k] <= tolerance:
                coords[i], snapped[i] = targets[k], True
    for end, prev in ((0, 1), (len(coords) - 1, len(coords) - 2)):
        if not snapped[end] and tolerance > 0:
            direction = coords[end] - coords[prev]
            norm = np.hypot(*direction)
            if norm > 0:
                coords[end] = coords[end] + direction / norm * tolerance
    # Two vertices snapped onto one leave a zero-length segment; drop the repeat.
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
    coords = coords[keep]
    if len(coords) < 2:
        raise EditError("the line collapses to a point after snapping: draw it longer")
    return LineString(coords)


def assign_to_parts(parts: Sequence, buildings: Sequence) -> np.ndarray:
    """For each building, the index of the part holding more than half of it (a point: the part covering it),
    or -1 when no part does."""
    parts = np.asarray(parts, dtype=object)
    buildings = np.asarray(buildings, dtype=object)
    out = np.full(len(buildings), -1, dtype=np.intp)
    if not len(parts) or not len(buildings):
        return out
    areal = shapely.area(buildings) > 0
    for i, b in enumerate(buildings):
        if areal[i]:
            shares = shapely.area(shapely.intersection(parts, b))
            k = int(np.argmax(shares))
            if shares[k] > 0.5 * b.area:
                out[i] = k
        else:
            hit = np.flatnonzero(shapely.covers(parts, shapely.point_on_surface(b)))
            if len(hit):
                out[i] = int(hit[0])
    return out


def _single(geom, what: str) -> Polygon:
    """``geom`` as one valid polygon, dropping noise pieces; EditError when it really is in pieces."""
    if geom.is_empty:
        raise EditError(f"{what} would be empty")
    parts = shapely.get_parts(shapely.make_valid(geom))
    parts = parts[shapely.get_type_id(parts) == 3]
    areas = shapely.area(parts)
    if not len(parts):
        raise EditError(f"{what} would have no area")
    parts = parts[areas > _NOISE * areas.sum()]
    if len(parts) != 1:
        raise EditError(f"{what} would fall into {len(parts)} pieces; a grid must be one polygon")
    return parts[0]


def _assemble(faces: np.ndarray, side: np.ndarray, buildings: np.ndarray, cut: np.ndarray, winner: np.ndarray):
    """Faces relabelled so each cut building's faces go to ``winner``, unioned into two polygons."""
    side = side.copy()
    if cut.any():
        points = shapely.point_on_surface(faces)
        for b, w in zip(buildings[cut], winner[cut]):
            side[shapely.covers(b, points)] = w
    return [shapely.coverage_union_all(faces[side == s]) for s in (0, 1)]


def _cut_buildings(pieces: Sequence, buildings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which footprints have area on both pieces (``cut``), and the piece holding most of each (``winner``)."""
    if not len(buildings):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.intp)
    shares = np.stack([shapely.area(shapely.intersection(buildings, p)) for p in pieces], axis=1)
    total = shapely.area(buildings)
    cut = (shares > 1e-6 * np.maximum(total, 1e-30)[:, None]).sum(axis=1) >= 2
    return cut, np.argmax(shares, axis=1)


def split_polygon_by_line(polygon: Polygon, line: LineString, buildings: Sequence = (), *, tolerance: float = 0.0) -> tuple[Polygon, Polygon]:
    """``polygon`` cut in two along ``line``, which must cross it once (its ends outside or snapped onto the
    boundary within ``tolerance``). A building footprint crossed by the line goes whole to the side holding
    most of it; the two parts returned share their new boundary exactly."""
    if polygon.is_empty or polygon.geom_type != "Polygon":
        raise EditError("only a single polygon can be split")
    line = snap_line(line, polygon.boundary, tolerance)
    if not line.intersects(polygon):
        raise EditError("the line does not touch the grid")
    halves = polygon_faces(polygon, [line])
    halves = halves[shapely.area(halves) > _NOISE * polygon.area]
    if len(halves) < 2:
        raise EditError("the line does not cross the grid: draw it from one side of the grid to the other")
    if len(halves) > 2:
        raise EditError(f"the line cuts the grid into {len(halves)} pieces; a split makes two, so cross the grid once")
    buildings = np.asarray([b for b in buildings if b.intersects(polygon) and b.area > 0], dtype=object)
    clipped = shapely.intersection(buildings, polygon) if len(buildings) else buildings
    faces = halves
    if len(clipped):
        # Building outlines become linework too, so a building's faces can change side as one.
        faces = polygon_faces(polygon, [line, *shapely.boundary(clipped)])
        faces = faces[shapely.area(faces) > 0]
    side = np.argmax(np.stack([shapely.area(shapely.intersection(faces, h)) for h in halves], axis=1), axis=1)
    cut, winner = _cut_buildings(halves, clipped)
    a, b = _assemble(faces, side, clipped, cut, winner)
    return _single(a, "one side of the split"), _single(b, "one side of the split")


def merge_polygons(polygons: Sequence) -> Polygon:
    """The union of polygons that form one connected group along shared edges (touching at a point is not
    enough); EditError naming the polygons (by position) that are not connected."""
    polygons = np.asarray(polygons, dtype=object)
    if len(polygons) < 2:
        raise EditError("merging needs at least two grids")
    a, b, _ = shared_edges(polygons)
    # Connected components by union-find over the shared-edge pairs.
    parent = list(range(len(polygons)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a, b):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(polygons)):
        groups.setdefault(root(i), []).append(i)
    if len(groups) > 1:
        parts = sorted(groups.values(), key=len, reverse=True)
        raise EditError(f"the grids are not all adjacent (sharing an edge): they form {len(parts)} separate groups {parts}")
    return _single(shapely.union_all(polygons), "the merged grid")


def reshape_shared_boundary(a: Polygon, b: Polygon, line: LineString, buildings: Sequence = (), *, tolerance: float = 0.0) -> tuple[Polygon, Polygon]:
    """Neighbours ``a`` and ``b`` with their shared boundary replaced by ``line``.

    The line is snapped to the vertices of both polygons within ``tolerance`` and must run across their union
    from edge to edge, dividing it into exactly two pieces; the piece overlapping ``a`` most becomes the new
    ``a``. The union of the two is unchanged, both stay single polygons, and a line through a building is
    refused (buildings are never split).
    """
    if a.geom_type != "Polygon" or b.geom_type != "Polygon":
        raise EditError("both grids must be single polygons")
    shared = shapely.intersection(a.boundary, b.boundary)
    if shapely.length(shared) <= 0:
        raise EditError("the two grids are not neighbours: they share no boundary")
    union = _single(shapely.union_all([a, b]), "the two grids together")
    reference = shapely.union_all([a.boundary, b.boundary])
    line = snap_line(line, reference, tolerance)
    faces = polygon_faces(union, [line])
    faces = faces[shapely.area(faces) > _NOISE * union.area]
    if len(faces) != 2:
        raise EditError(
            f"the new boundary divides the two grids into {len(faces)} pieces; draw it across them from edge to edge (ends within {tolerance:g} of a corner or beyond the edge) so it makes exactly two"
        )
    overlap = np.array([[shapely.area(shapely.intersection(f, g)) for g in (a, b)] for f in faces])
    first_is_a = overlap[0, 0] + overlap[1, 1] >= overlap[0, 1] + overlap[1, 0]
    new_a, new_b = (faces[0], faces[1]) if first_is_a else (faces[1], faces[0])
    buildings = np.asarray(list(buildings), dtype=object)
    if len(buildings):
        cut, _ = _cut_buildings([new_a, new_b], buildings)
        if cut.any():
            raise EditError(f"the new boundary would cut through buildings {np.flatnonzero(cut).tolist()}; draw it around them")
    new_a, new_b = _single(new_a, "the first grid"), _single(new_b, "the second grid")
    if shapely.area(shapely.symmetric_difference(shapely.union_all([new_a, new_b]), union)) > 1e-6 * union.area:
        raise EditError("the reshaped grids do not cover exactly what the two grids covered")
    return new_a, new_b


def move_buildings(source: Polygon, target: Polygon, moved: Sequence, others: Sequence = (), *, reach: float) -> tuple[Polygon, Polygon, np.ndarray]:
    """Move the ``moved`` buildings from ``source`` to its neighbour ``target`` by moving their boundary.

    The area handed over is the convex hull of the buildings and the nearest stretch (``reach`` either side)
    of the shared boundary, within ``source``. Other buildings (``others``) that this area crosses are taken
    along whole; returns the new source, the new target and the indexes of the ``others`` carried along.
    EditError when the grids are not neighbours or either would fall into pieces.
    """
    shared = shapely.line_merge(shapely.intersection(source.boundary, target.boundary))
    if shapely.length(shared) <= 0:
        raise EditError("the buildings' grid and the target grid are not neighbours: they share no boundary")
    moved = np.asarray(list(moved), dtype=object)
    if not len(moved):
        raise EditError("no buildings to move")
    # A building given as a point still needs an area to hand over.
    moved = np.where(shapely.area(moved) > 0, moved, shapely.buffer(moved, reach / 10))
    others = np.asarray(list(others), dtype=object)
    other_idx = np.flatnonzero(shapely.intersects(others, source)) if len(others) else np.zeros(0, dtype=np.intp)
    others = others[other_idx]
    carried = np.zeros(len(others), dtype=bool)
    region = None
    for _ in range(5):
        taken = shapely.union_all(np.concatenate([moved, others[carried]]) if carried.any() else moved)
        near = nearest_points(shared, taken)[0]
        stretch = shapely.intersection(shared, near.buffer(reach))
        region = shapely.intersection(shapely.convex_hull(shapely.union_all([taken, stretch])), source)
        if not len(others):
            break
        inside = shapely.area(shapely.intersection(others, region))
        crossed = (inside > 1e-6 * np.maximum(shapely.area(others), 1e-30)) & ~carried
        if not crossed.any():
            break
        carried |= crossed
    else:
        raise EditError("the buildings cannot be handed over without cutting other buildings; reshape the boundary by hand")
    new_target = _single(shapely.union_all([target, region]), "the target grid")
    new_source = _single(shapely.difference(source, region), "what is left of the buildings' grid")
    return new_source, new_target, other_idx[carried]
