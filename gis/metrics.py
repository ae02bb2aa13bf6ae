"""Quality figures for a partition: size balance, compactness, and how much of its boundary follows given lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from gis.crs import projected_crs_for

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def share_within(values: ArrayLike, lower: float, upper: float) -> float:
    """Share of ``values`` within ``[lower, upper]`` (NaN when there are none)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return float("nan")
    return float(((values >= lower) & (values <= upper)).mean())


def coefficient_of_variation(values: ArrayLike) -> float:
    """Standard deviation over mean (population form); NaN for no values or a zero mean."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0 or values.mean() == 0:
        return float("nan")
    return float(values.std() / values.mean())


def polsby_popper(polygons: ArrayLike) -> np.ndarray:
    """Polsby–Popper compactness 4πA/P² of each polygon (1 for a disc); measure in a projected CRS."""
    polygons = np.asarray(polygons, dtype=object)
    perimeter = shapely.length(polygons)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * np.pi * shapely.area(polygons) / perimeter**2, np.nan)


def internal_boundaries(polygons: ArrayLike, regions: ArrayLike | None = None) -> shapely.Geometry:
    """The linework shared between polygons, minus the outline of ``regions`` (default: of the polygons' union)."""
    polygons = np.asarray(polygons, dtype=object)
    all_edges = shapely.union_all(shapely.boundary(polygons))
    outline = shapely.boundary(shapely.union_all(polygons)) if regions is None else shapely.union_all(
        shapely.boundary(np.asarray(regions, dtype=object))
    )
    return shapely.difference(all_edges, outline)


def share_on_lines(edges: ArrayLike, lines: ArrayLike, tolerance: float) -> float:
    """Share of the length of ``edges`` lying within ``tolerance`` of ``lines`` (NaN when ``edges`` is empty)."""
    total = shapely.length(edges)
    if total == 0:
        return float("nan")
    lines = np.asarray(lines if lines is not None else [], dtype=object)
    if len(lines) == 0:
        return 0.0
    near = shapely.union_all(shapely.buffer(lines, tolerance))
    return float(shapely.length(shapely.intersection(edges, near)) / total)


def partition_quality(
    polygons: gpd.GeoSeries,
    values: ArrayLike,
    lower: float,
    upper: float,
    *,
    lines: gpd.GeoSeries | None = None,
    regions: gpd.GeoSeries | None = None,
    tolerance_m: float = 5.0,
    counted: ArrayLike | None = None,
) -> dict:
    """All figures for a partition in one dict: share within bounds, CV, Polsby–Popper mean/min, share on lines.

    ``values`` are the sizes checked against ``[lower, upper]``; ``counted`` (bool mask) limits the size
    figures to some polygons (e.g. those a size rule applies to). Shapes are measured in a projected CRS.
    Internal boundaries exclude the outlines of ``regions`` (the areas being partitioned).
    """
    crs = projected_crs_for(polygons)
    geoms = polygons.to_crs(crs).values
    values = np.asarray(values, dtype=float)
    mask = np.ones(len(values), dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    pp = polsby_popper(geoms)
    edges = internal_boundaries(geoms, None if regions is None else regions.to_crs(crs).values)
    line_geoms = None if lines is None or len(lines) == 0 else lines.to_crs(crs).values
    return {
        "polygons": int(len(geoms)),
        "share_within": share_within(values[mask], lower, upper),
        "cv": coefficient_of_variation(values[mask]),
        "polsby_popper_mean": float(np.nanmean(pp)) if len(pp) else float("nan"),
        "polsby_popper_min": float(np.nanmin(pp)) if len(pp) else float("nan"),
        "internal_boundary_km": float(shapely.length(edges) / 1000),
        "share_on_lines": share_on_lines(edges, line_geoms, tolerance_m),
    }
