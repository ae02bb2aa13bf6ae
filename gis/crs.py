"""Coordinate reference systems: storage in CGCS2000, measurement in a local Gauss–Krüger zone."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: CGCS2000 geographic, the national datum; what the store and every output use.
STORAGE_CRS = CRS.from_epsg(4490)
WGS84 = CRS.from_epsg(4326)

# EPSG:4534 is "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; each further code moves the central meridian 3° east
# up to EPSG:4554 (CM 135E). These zone variants carry no zone prefix in the false easting, so metres stay small.
_GK3_FIRST_EPSG = 4534
_GK3_FIRST_CM = 75
_GK3_LAST_CM = 135


def gauss_kruger_crs(lon: float) -> CRS:
    """The CGCS2000 3-degree Gauss–Krüger zone whose central meridian is nearest ``lon``.

    >>> gauss_kruger_crs(120.1).to_epsg()
    4549
    """
    cm = int(round(lon / 3.0) * 3)
    cm = min(max(cm, _GK3_FIRST_CM), _GK3_LAST_CM)
    return CRS.from_epsg(_GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // 3)


def projected_crs_for(data: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """A metric CRS for measuring ``data``: the Gauss–Krüger zone of its centre (UTM outside China's zones).

    >>> import shapely; s = gpd.GeoSeries([shapely.box(120, 30, 120.1, 30.1)], crs=4490)
    >>> projected_crs_for(s).to_epsg()
    4549
    """
    geo = data.to_crs(STORAGE_CRS) if data.crs is not None and not CRS(data.crs).is_geographic else data
    minx, miny, maxx, maxy = geo.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise ValueError("cannot choose a projected CRS for empty data")
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    if _GK3_FIRST_CM - 1.5 <= lon <= _GK3_LAST_CM + 1.5:
        return gauss_kruger_crs(lon)
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def to_storage(data: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``data`` in CGCS2000 lon/lat (EPSG:4490).

    Data drawn in a projected CRS has its edges cut to :data:`gis.precision.MAX_EDGE_M` there first: moved
    vertex by vertex, a long straight edge would otherwise become the lon/lat line between its ends,
    millimetres off the line it was drawn as.
    """
    if data.crs is None:
        raise ValueError("data has no CRS")
    crs = CRS(data.crs)
    if crs == STORAGE_CRS:
        return data
    if not crs.is_geographic:
        from gis.precision import MAX_EDGE_M, densify  # gis.precision measures with this module

        geoms = np.asarray(data.geometry.values, dtype=object)
        data = data.set_geometry(gpd.GeoSeries(densify(geoms, MAX_EDGE_M), index=data.index, crs=data.crs))
    return data.to_crs(STORAGE_CRS)


def area_m2(data: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS | None = None) -> np.ndarray:
    """Areas in square metres, measured in ``crs`` (default: :func:`projected_crs_for` the data)."""
    crs = crs or projected_crs_for(data)
    return shapely.area(data.to_crs(crs).geometry.values if isinstance(data, gpd.GeoDataFrame) else data.to_crs(crs).values)


def length_m(data: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS | None = None) -> np.ndarray:
    """Lengths (perimeters for polygons) in metres, measured in ``crs``."""
    crs = crs or projected_crs_for(data)
    return shapely.length(data.to_crs(crs).geometry.values if isinstance(data, gpd.GeoDataFrame) else data.to_crs(crs).values)


def transform(geoms: ArrayLike, source: CRS | int | str, target: CRS | int | str) -> np.ndarray:
    """Shapely geometries moved from ``source`` to ``target`` vertex by vertex (what ``ST_Transform`` and GIS
    software do: straight edges stay straight between the moved vertices).

    >>> p = transform([shapely.Point(120, 30)], 4490, 4549)[0]
    >>> round(p.x), round(p.y)
    (500000, 3320113)
    """
    geoms = np.asarray(geoms, dtype=object)
    t = _transformer(CRS(source).to_wkt(), CRS(target).to_wkt())
    return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


@lru_cache(maxsize=64)
def _transformer(source_wkt: str, target_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS(source_wkt), CRS(target_wkt), always_xy=True)
