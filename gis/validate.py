"""Geometry checks for incoming features: emptiness, type, validity (repaired and reported), location.

Every check returns or raises :class:`gis.errors.Problem` entries that name the feature, so callers can report
all problems of a file at once instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from gis.crs import to_storage
from gis.errors import Problem, VectorInputError

#: lon/lat box that holds China's land and sea territory with a margin (CGCS2000 / WGS84 degrees).
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

POLYGON, LINE, POINT, POLYGON_OR_POINT = "polygon", "line", "point", "polygon_or_point"
_ACCEPTED = {
    POLYGON: {"Polygon", "MultiPolygon"},
    LINE: {"LineString", "MultiLineString"},
    POINT: {"Point"},
    POLYGON_OR_POINT: {"Polygon", "MultiPolygon", "Point"},
}
_PART_TYPES = {POLYGON: (3, 6), LINE: (1, 5), POINT: (0, 4), POLYGON_OR_POINT: (3, 6, 0)}


@dataclass
class CheckResult:
    """Checked features in CGCS2000 (EPSG:4490) and the repairs made to them."""

    data: gpd.GeoDataFrame
    repairs: list[Problem] = field(default_factory=list)


def _idents(gdf: gpd.GeoDataFrame, id_field: str | None) -> list[str | None]:
    if id_field and id_field in gdf:
        return [None if v is None else str(v) for v in gdf[id_field].tolist()]
    return [None] * len(gdf)


def check_features(
    gdf: gpd.GeoDataFrame,
    source: str,
    kind: str,
    *,
    id_field: str | None = None,
    bounds: tuple[float, float, float, float] = CHINA_BOUNDS,
) -> CheckResult:
    """Check ``gdf`` for use as ``kind`` (polygon, line, point, polygon_or_point) and return it in EPSG:4490.

    Raises :class:`VectorInputError` naming ``source`` and every bad feature: missing or empty geometry, a
    geometry of the wrong type, coordinates outside ``bounds`` (with a hint when lon and lat look swapped), or
    invalid geometry that cannot be repaired into the wanted type. Invalid geometry that can be repaired (a
    self-intersecting ring, say) is repaired with ``make_valid`` and reported in ``repairs``.

    >>> import shapely
    >>> bowtie = shapely.Polygon([(120, 30), (120.01, 30.01), (120.01, 30), (120, 30.01)])
    >>> res = check_features(gpd.GeoDataFrame(geometry=[bowtie], crs=4490), "x.geojson", "polygon")
    >>> res.data.geometry.iat[0].geom_type, len(res.repairs)
    ('MultiPolygon', 1)
    """
    if kind not in _ACCEPTED:
        raise ValueError(f"unknown kind {kind!r}")
    if len(gdf) == 0:
        raise VectorInputError(source, "contains no features")
    idents = _idents(gdf, id_field)
    geoms = gdf.geometry.values
    problems: list[Problem] = []

    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        problems.append(Problem("empty or missing geometry", int(i), idents[i]))

    types = np.asarray(shapely.get_type_id(geoms))
    wrong = ~missing & ~np.isin(types, _PART_TYPES[kind])
    for i in np.flatnonzero(wrong):
        problems.append(Problem(f"is a {geoms[i].geom_type}, expected {kind.replace('_', ' or ')}", int(i), idents[i]))
    if problems:
        # A file of the wrong geometry type gives one problem per feature; say it once in words too.
        if wrong.all():
            raise VectorInputError(source, f"layer holds {geoms[0].geom_type} features, expected {kind.replace('_', ' or ')}")
        raise VectorInputError(source, problems)

    try:
        stored = to_storage(gdf)
    except Exception as exc:
        raise VectorInputError(source, f"cannot transform to CGCS2000: {exc}") from None
    geoms = stored.geometry.values

    problems += _location_problems(geoms, idents, bounds)
    if problems:
        raise VectorInputError(source, problems)

    repairs: list[Problem] = []
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        for i in np.flatnonzero(invalid):
            reason = shapely.is_valid_reason(geoms[i])
            fixed = _repair(geoms[i], kind)
            if fixed is None:
                problems.append(Problem(f"invalid geometry that cannot be repaired ({reason})", int(i), idents[i]))
            else:
                geoms[i] = fixed
                repairs.append(Problem(f"repaired invalid geometry ({reason})", int(i), idents[i]))
        if problems:
            raise VectorInputError(source, problems)
        stored = stored.set_geometry(gpd.GeoSeries(geoms, index=stored.index, crs=stored.crs))
    return CheckResult(stored, repairs)


def _location_problems(geoms: np.ndarray, idents: list[str | None], bounds) -> list[Problem]:
    minx, miny, maxx, maxy = bounds
    b = shapely.bounds(geoms)
    inside = (b[:, 0] >= minx) & (b[:, 2] <= maxx) & (b[:, 1] >= miny) & (b[:, 3] <= maxy)
    problems = []
    for i in np.flatnonzero(~inside):
        x, y = b[i, 0], b[i, 1]
        swapped = minx <= y <= maxx and miny <= x <= maxy
        hint = " (longitude and latitude look swapped)" if swapped else ""
        problems.append(Problem(f"coordinates ({x:.6f}, {y:.6f}) lie outside China{hint}", int(i), idents[i]))
    return problems


def _repair(geom, kind: str):
    """``make_valid`` keeping only the parts of the wanted dimension, or None when nothing of it is left."""
    fixed = shapely.make_valid(geom, method="structure") if kind in (POLYGON, POLYGON_OR_POINT) else shapely.make_valid(geom)
    want = {POLYGON: 2, POLYGON_OR_POINT: 2, LINE: 1, POINT: 0}[kind]
    if geom.geom_type == "Point":
        want = 0
    parts = [p for p in shapely.get_parts(fixed) if shapely.get_dimensions(p) == want and not p.is_empty]
    if not parts:
        return None
    if want == 2:
        return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]
    if want == 1:
        return shapely.line_merge(shapely.MultiLineString(parts)) if len(parts) > 1 else parts[0]
    return parts[0]
