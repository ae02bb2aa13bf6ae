"""Reading order of grids in a community: rows north→south, west→east within a row.

Each grid is placed by its representative point (``shapely.point_on_surface``: always inside the grid,
unlike the centroid of an L- or U-shaped grid), measured in a projected CRS. Rows are formed greedily
from the north: the northernmost unplaced point opens a row, and every point less than ``row_height``
below it joins that row. Within a row points go west to east (ties: north first, then input order).

``row_height`` defaults to half the median north–south extent of the community's grids, so a block of
similar grids laid out in rows is read row by row even when their points wobble a little; grids whose
points are further apart than that fall in separate rows.
"""

from __future__ import annotations

import numpy as np
import shapely


def default_row_height(geoms: np.ndarray) -> float:
    """Half the median north–south extent of ``geoms`` (projected, metres); 1.0 for degenerate input."""
    bounds = shapely.bounds(geoms)
    heights = bounds[:, 3] - bounds[:, 1]
    heights = heights[np.isfinite(heights) & (heights > 0)]
    return float(np.median(heights)) / 2 if len(heights) else 1.0


def reading_order(geoms: np.ndarray, row_height: float | None = None) -> np.ndarray:
    """Positions of ``geoms`` (projected) in reading order: ``geoms[order]`` are read first to last.

    >>> import shapely
    >>> cells = [shapely.box(x, y, x + 10, y + 10) for y in (0, 10) for x in (0, 10)]  # SW, SE, NW, NE
    >>> reading_order(np.array(cells)).tolist()
    [2, 3, 0, 1]
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    height = default_row_height(geoms) if row_height is None else float(row_height)
    if not height > 0:
        raise ValueError(f"row_height must be positive, got {row_height}")
    points = shapely.point_on_surface(geoms)
    x, y = shapely.get_x(points), shapely.get_y(points)
    by_north = np.lexsort((np.arange(n), x, -y))  # north first; ties west first, then input order
    row = np.empty(n, dtype=np.int64)
    current, top = -1, np.inf
    for i in by_north:
        if top - y[i] >= height:
            current, top = current + 1, y[i]
        row[i] = current
    return np.lexsort((np.arange(n), -y, x, row))
