"""Polygonal coverages: build noded faces from linework, find shared edges, and check a coverage against its region.

A *coverage* here is a set of polygons that tile a region: no overlaps, no gaps, and matching vertices along
shared edges, as GEOS's coverage tools (``coverage_is_valid``, ``coverage_union``) require.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree


def polygon_faces(region, lines=None) -> np.ndarray:
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


def interior_points(polygons) -> np.ndarray:
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
    bad = np.flatnonzero(~shapely.contains(polygons, points))
    if len(bad):
        retry = shapely.point_on_surface(shapely.buffer(polygons[bad], 0))
        good = ~shapely.is_empty(retry) & shapely.contains(polygons[bad], retry)
        points[bad[good]] = retry[good]
    return points


def shared_edges(polygons) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def coverage_problems(polygons, region=None, *, tolerance: float = 1e-9) -> dict:
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
        bad_edges = shapely.coverage_invalid_edges(polygons)
        out["invalid_edges"] = int((~shapely.is_empty(bad_edges)).sum())
        out["coverage_valid"] = bool(shapely.coverage_is_valid(polygons))
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
