"""Helpers around GEOS overlay for polygon arrays: polygon parts of overlay results, thinness, shared borders,
checked coverage cleaning, unions of neighbouring pieces (used by the merge and by anyone cleaning layers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    from collections.abc import Callable
    from numpy.typing import ArrayLike

#: Areas below this (m²) are floating-point dust from overlay operations, not real pieces.
DUST_M2 = 1e-4


def chunked(map: Callable, fn: Callable, *arrays: np.ndarray, parts: int = 2) -> np.ndarray:
    """``fn(*arrays)`` for an element-wise ``fn``, run as ``parts`` contiguous chunks through ``map`` (a thread
    pool's: GEOS releases the GIL, so the chunks run on separate cores) and joined in order."""
    n = len(arrays[0])
    if n < 2 * parts:
        return fn(*arrays)
    bounds = np.linspace(0, n, parts + 1).astype(int)
    pieces = list(map(lambda k: fn(*(a[bounds[k] : bounds[k + 1]] for a in arrays)), range(parts)))
    return np.concatenate(pieces)


def polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The single polygons inside ``geoms`` (collections and multi-polygons opened) and the input index of each."""
    parts, index = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    # Overlay results can be GeometryCollections holding MultiPolygons; open a second level.
    inner, inner_index = shapely.get_parts(parts, return_index=True)
    index = index[inner_index]
    poly = shapely.get_type_id(inner) == 3
    inner, index = inner[poly], index[poly]
    keep = shapely.area(inner) > DUST_M2
    return inner[keep], index[keep]


def thinner_than(geoms: np.ndarray, width: float) -> np.ndarray:
    """Whether each polygon's largest inscribed circle is narrower than ``width``.

    Every point of a polygon lies within its inradius r of the boundary, so area <= r x perimeter: polygons
    with 2 x area / perimeter >= width are thick enough for certain. For the rest, the polygon shrunk by half
    the width is empty exactly when it is thinner (cheaper than finding the circle).
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms), dtype=bool)
    if len(geoms) == 0:
        return out
    maybe = np.flatnonzero(2 * shapely.area(geoms) < width * shapely.length(geoms))
    if len(maybe):
        out[maybe] = shapely.is_empty(shapely.buffer(geoms[maybe], -width / 2, quad_segs=2))
    return out


def shared_border(geom: shapely.Geometry, others: np.ndarray) -> np.ndarray:
    """Length of the border ``geom`` shares with each of ``others`` (0 where they only touch at points)."""
    others = np.asarray(others, dtype=object)
    if len(others) == 0:
        return np.zeros(0)
    return shapely.length(shapely.intersection(shapely.boundary(geom), shapely.boundary(others)))


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with the lines and points that overlays leave in GeometryCollections dropped."""
    geoms = np.asarray(geoms, dtype=object).copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):  # rare: only where an overlay touched along an edge
        parts, _ = polygon_parts(geoms[i : i + 1])
        geoms[i] = shapely.MultiPolygon(list(parts)) if len(parts) else shapely.Polygon()
    return geoms


def clean_coverage(geoms: ArrayLike, gap_width: float = 0.0, expected_area: float | None = None,
                   grids: tuple = (None, 1e-6, 1e-4, 1e-3), noise_area: float = 0.01) -> np.ndarray:
    """GEOS's ``coverage_clean``, checked: the cleaned pieces must cover ``expected_area`` (default: the area of
    the union of ``geoms``) and each must keep what no other polygon covered; else it is redone with every
    vertex snapped to each of ``grids`` in turn (the default, 1 µm, 0.1 mm, 1 mm, is for metric
    coordinates; pass degree-sized ones for lon/lat, and ``noise_area``, the area in the coordinates' units
    below which a change counts as noise, default 0.01 m², in square degrees).

    On rare inputs GEOS 3.14's cleaner throws a TopologyException, silently drops a face (seen: a 4 ha
    piece vanished) or hands a face only one polygon covered to its neighbour (seen: a 0.6 ha part of a
    multipart polygon given to the polygon beside it, the total area unchanged); snapping every
    vertex to a tiny grid first avoids these without moving anything measurably. If every attempt fails
    the checks, the attempt closest to them is returned.

    >>> a, b = shapely.box(0, 0, 2, 1), shapely.box(1, 0, 3, 1)
    >>> [g.area for g in clean_coverage([a, b])]
    [2.0, 1.0]
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return geoms
    expected = float(shapely.area(shapely.union_all(geoms))) if expected_area is None else expected_area
    tolerance = noise_area + 1e-7 * expected
    # What each polygon may lose: its overlaps with the others (an upper bound where several overlap).
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = i != j
    fine = next((g for g in grids if g is not None), None)
    try:
        shared = np.bincount(i[pair], weights=shapely.area(_robust(shapely.intersection, geoms[i[pair]], geoms[j[pair]], fine)),
                             minlength=len(geoms))
    except shapely.errors.GEOSException:
        # Pieces GEOS cannot overlay even snap-rounded (invalid ones): judged by the total area alone.
        shared = np.full(len(geoms), np.inf)
    slack = shared + noise_area + 1e-7 * shapely.area(geoms)
    best, best_err = None, np.inf
    for grid in grids:
        try:
            cleaned = shapely.coverage_clean(geoms if grid is None else shapely.set_precision(geoms, grid), gap_width=gap_width)
        except shapely.errors.GEOSException:
            continue
        err = abs(float(shapely.area(cleaned).sum()) - expected)
        try:
            lost = np.maximum(shapely.area(_robust(shapely.difference, geoms, cleaned, fine)) - slack, 0.0)
        except shapely.errors.GEOSException:
            lost = np.zeros(len(geoms))  # as above: the total area alone
        if err <= tolerance and not lost.any():
            return cleaned
        if err + lost.sum() < best_err:
            best, best_err = cleaned, err + lost.sum()
    if best is None:
        raise shapely.errors.GEOSException("coverage_clean failed on every precision grid")
    return best


def _robust(op, a, b, grid):
    """``op(a, b)``, redone snap-rounded on ``grid`` where GEOS's floating overlay throws (non-noded input)."""
    try:
        return op(a, b)
    except shapely.errors.GEOSException:
        if grid is None:
            raise
        return op(a, b, grid_size=grid)


def bbox_candidates(bounds: np.ndarray, i: int, alive: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Indices of live rows (not ``i``) whose bounding box meets row ``i``'s: the only possible neighbours."""
    b = bounds[i]
    meets = (bounds[:, 0] <= b[2] + eps) & (bounds[:, 2] >= b[0] - eps) & (bounds[:, 1] <= b[3] + eps) & (bounds[:, 3] >= b[1] - eps)
    meets &= alive
    meets[i] = False
    return np.flatnonzero(meets)


def approx_width(geom: shapely.Geometry) -> float:
    """2 x area / perimeter: a thin strip's width (cheap; exact for long strips, low for compact shapes)."""
    return float(2 * shapely.area(geom) / max(shapely.length(geom), 1e-12))


#: Pieces whose edges run this close (m) without sharing vertices are snapped together before a union.
SNAP_M = 0.005


def merged(*geoms: shapely.Geometry) -> shapely.Geometry:
    """The union of neighbouring pieces of a clean coverage (GEOS coverage union: shared edges vanish exactly).

    Pieces that only run along each other within :data:`SNAP_M` (edges not noded together, as beside a
    split polygon) are snapped onto the largest first: their overlay would leave them apart."""
    arr = np.array(geoms, dtype=object)
    try:
        union = shapely.coverage_union_all(arr)
    except shapely.errors.GEOSException:
        union = shapely.Polygon()
    if shapely.get_type_id(union) not in (3, 6) or shapely.is_empty(union):
        union = polygonal(np.array([shapely.union_all(arr)], dtype=object))[0]
    if shapely.get_type_id(union) == 6 and shapely.get_num_geometries(union) > 1 and len(arr) > 1:
        big = arr[int(np.argmax(shapely.area(arr)))]
        snapped = shapely.snap(arr, big, SNAP_M)
        again = polygonal(np.array([shapely.union_all(shapely.make_valid(snapped))], dtype=object))[0]
        if shapely.get_num_geometries(again) < shapely.get_num_geometries(union):
            union = again
    if shapely.get_type_id(union) == 6 and shapely.get_num_geometries(union) == 1:
        union = shapely.get_geometry(union, 0)
    return union
