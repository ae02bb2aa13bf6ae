"""Small geometry-array helpers."""

from __future__ import annotations

import numpy as np
import shapely


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons and lines promoted to their multi types; other geometries unchanged.

    >>> [g.geom_type for g in as_multi(np.array([shapely.box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])]))]
    ['MultiPolygon', 'MultiLineString']
    """
    out = np.asarray(geoms, dtype=object).copy()
    types = shapely.get_type_id(out)
    poly, line = types == 3, types == 1
    if poly.any():
        out[poly] = [shapely.MultiPolygon([g]) for g in out[poly]]
    if line.any():
        out[line] = [shapely.MultiLineString([g]) for g in out[line]]
    return out
