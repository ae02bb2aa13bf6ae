"""Small shapely helpers the merge steps share: polygon parts, widths, shared borders."""

from __future__ import annotations

import numpy as np
import shapely

#: Areas below this (m²) are floating-point dust from overlay operations, not real pieces.
DUST_M2 = 1e-4


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


def widths(geoms: np.ndarray) -> np.ndarray:
    """The diameter of each polygon's largest inscribed circle: how thick it is at its thickest."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return np.zeros(0)
    return 2.0 * shapely.length(shapely.maximum_inscribed_circle(geoms))


def shared_border(geom, others: np.ndarray) -> np.ndarray:
    """Length of the border ``geom`` shares with each of ``others`` (0 where they only touch at points)."""
    others = np.asarray(others, dtype=object)
    if len(others) == 0:
        return np.zeros(0)
    return shapely.length(shapely.intersection(shapely.boundary(geom), shapely.boundary(others)))


def single_polygon(geom):
    """``geom`` as one Polygon: the union of touching parts, else its largest part (callers merge the rest)."""
    if geom.geom_type == "Polygon":
        return geom
    parts, _ = polygon_parts(np.array([geom], dtype=object))
    if len(parts) == 1:
        return parts[0]
    return parts[np.argmax(shapely.area(parts))]


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """``geoms`` with the lines and points that overlays leave in GeometryCollections dropped."""
    geoms = np.asarray(geoms, dtype=object).copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):  # rare: only where an overlay touched along an edge
        parts, _ = polygon_parts(geoms[i : i + 1])
        geoms[i] = shapely.MultiPolygon(list(parts)) if len(parts) else shapely.Polygon()
    return geoms


def containing_index(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (the first one for points on a shared edge), -1 for none."""
    out = np.full(len(points), -1)
    if len(points) == 0 or len(polygons) == 0:
        return out
    p, c = shapely.STRtree(polygons).query(points, predicate="intersects")
    p, first = np.unique(p, return_index=True)
    out[p] = c[first]
    return out
