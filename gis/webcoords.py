"""Web-map coordinate systems used in China: WGS84 / CGCS2000, GCJ-02 (AMap, Tencent) and BD-09 (Baidu).

GCJ-02 is WGS84 shifted by a published nonlinear offset (hundreds of metres); BD-09 is GCJ-02 with a
further rotation and scaling. The forward formulas are the ones every open-source converter uses
(eviltransform, coordtransform); the inverses have no closed form, so they are solved by fixed-point
iteration until the forward transform of the answer reproduces the input to ~1e-10 degrees (≈ 1e-5 m).

CGCS2000 and WGS84 agree to well under a metre for mapping, so they are treated as the same system here:
use pyproj for real datum work. Points outside the rough China box (the usual ``out_of_china`` rule) are
not offset, as the web maps themselves do.

All functions take scalars or numpy arrays (broadcast together) and return float64 arrays (numpy
scalars or 0-d arrays for scalar input: wrap in float() when a Python float is needed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# Iterative inverses stop when the step is below this (degrees) or after _MAX_ITER rounds.
_TOLERANCE_DEG = 1e-11
_MAX_ITER = 30

WGS84, CGCS2000, GCJ02, BD09 = "wgs84", "cgcs2000", "gcj02", "bd09"
_ALIASES = {
    "wgs84": WGS84,
    "wgs-84": WGS84,
    "epsg:4326": WGS84,
    "4326": WGS84,
    "cgcs2000": WGS84,  # within a metre of WGS84; see module docstring
    "epsg:4490": WGS84,
    "4490": WGS84,
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "gcj": GCJ02,
    "bd09": BD09,
    "bd-09": BD09,
    "bd09ll": BD09,
}
#: Names accepted by :func:`transform` (case-insensitive).
SYSTEMS = (WGS84, CGCS2000, GCJ02, BD09)

Array = np.ndarray


def normalise_system(name: str) -> str:
    """The canonical name (``wgs84``, ``gcj02`` or ``bd09``) of a coordinate system name.

    >>> normalise_system("EPSG:4490"), normalise_system("GCJ-02")
    ('wgs84', 'gcj02')
    """
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown coordinate system {name!r}; use one of wgs84, cgcs2000, gcj02, bd09, EPSG:4326, EPSG:4490")
    return _ALIASES[key]


def _arrays(lon, lat) -> tuple[Array, Array]:
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon.astype(float, copy=True), lat.astype(float, copy=True)


#: The rough China box (min lon, min lat, max lon, max lat) inside which the GCJ-02 offset applies.
_BOX = (72.004, 0.8293, 137.8347, 55.8271)


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> Array:
    """True where a point lies outside the box in which the GCJ-02 offset applies.

    >>> out_of_china([116.4, 2.35], [39.9, 48.85]).tolist()
    [False, True]
    """
    lon, lat = _arrays(lon, lat)
    return (lon < _BOX[0]) | (lon > _BOX[2]) | (lat < _BOX[1]) | (lat > _BOX[3])


def _gcj_delta(lon, lat, m=np):
    """The GCJ-02 offset (dlon, dlat in degrees) at WGS84 ``lon``, ``lat`` inside China, computed with the
    functions of ``m``: numpy for arrays, :mod:`math` for one point (ten times quicker than 0-d arrays)."""
    x, y = lon - 105.0, lat - 35.0
    sx = m.sqrt(m.fabs(x))
    common = 20.0 * m.sin(6.0 * x * m.pi) + 20.0 * m.sin(2.0 * x * m.pi)
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlat += common * 2.0 / 3.0
    dlat += (20.0 * m.sin(y * m.pi) + 40.0 * m.sin(y / 3.0 * m.pi)) * 2.0 / 3.0
    dlat += (160.0 * m.sin(y / 12.0 * m.pi) + 320.0 * m.sin(y * m.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    dlon += common * 2.0 / 3.0
    dlon += (20.0 * m.sin(x * m.pi) + 40.0 * m.sin(x / 3.0 * m.pi)) * 2.0 / 3.0
    dlon += (150.0 * m.sin(x / 12.0 * m.pi) + 300.0 * m.sin(x / 30.0 * m.pi)) * 2.0 / 3.0

    rad = lat / 180.0 * m.pi
    magic = 1.0 - _EE * m.sin(rad) ** 2
    sqrt_magic = m.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * m.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * m.cos(rad) * m.pi)
    return dlon, dlat


def _gcj_offset(lon: Array, lat: Array) -> tuple[Array, Array]:
    """The GCJ-02 offset (dlon, dlat in degrees) at WGS84 ``lon``, ``lat``; zero outside China."""
    dlon, dlat = _gcj_delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """WGS84 (or CGCS2000) lon/lat to GCJ-02.

    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    >>> round(float(lon), 9), round(float(lat), 9)
    (121.531541859, 31.175303984)
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward: Callable[[Array, Array], tuple[Array, Array]], lon: Array, lat: Array, start) -> tuple[Array, Array]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from ``start``.

    Converges because each forward transform is the identity plus a slowly varying offset (its Jacobian
    differs from I by ~1e-5), so each round shrinks the error by that factor.
    """
    x, y = start
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = lon - fx, lat - fy
        x, y = x + ex, y + ey
        if np.all(np.abs(ex) < _TOLERANCE_DEG) and np.all(np.abs(ey) < _TOLERANCE_DEG):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """GCJ-02 lon/lat to WGS84, by iteration (round trip error ~1e-6 m)."""
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat, (lon - dlon, lat - dlat))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """GCJ-02 lon/lat to BD-09 (Baidu's BD09LL); not offset outside China.

    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(float(lon), 9), round(float(lat), 9)
    (116.410369494, 39.921336994)
    """
    lon, lat = _arrays(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    outside = out_of_china(lon, lat)
    return (
        np.where(outside, lon, z * np.cos(theta) + 0.0065),
        np.where(outside, lat, z * np.sin(theta) + 0.006),
    )


def _bd09_to_gcj02_approx(lon: Array, lat: Array) -> tuple[Array, Array]:
    # Baidu's published inverse: off by up to ~0.2 m over China; the starting point of the iteration.
    x, y = lon - 0.0065, lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """BD-09 lon/lat to GCJ-02, refined by iteration past Baidu's approximate inverse."""
    lon, lat = _arrays(lon, lat)
    outside = out_of_china(lon, lat)
    gx, gy = _invert(gcj02_to_bd09, lon, lat, _bd09_to_gcj02_approx(lon, lat))
    return np.where(outside, lon, gx), np.where(outside, lat, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """WGS84 (or CGCS2000) lon/lat to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Array, Array]:
    """BD-09 lon/lat to WGS84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {WGS84: None, GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}
_FROM_WGS84 = {WGS84: None, GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}
_DIRECT = {(GCJ02, BD09): gcj02_to_bd09, (BD09, GCJ02): bd09_to_gcj02}


def transform(lon: ArrayLike, lat: ArrayLike, src: str, dst: str) -> tuple[Array, Array]:
    """Convert lon/lat between ``wgs84``, ``cgcs2000``, ``gcj02`` and ``bd09`` (or ``EPSG:4326``/``EPSG:4490``).

    >>> lon, lat = transform([116.404], [39.915], "BD09", "gcj02")
    >>> round(float(lon[0]), 5), round(float(lat[0]), 5)
    (116.39763, 39.90866)
    """
    src, dst = normalise_system(src), normalise_system(dst)
    lon, lat = _arrays(lon, lat)
    if src == dst:
        return lon, lat
    if (src, dst) in _DIRECT:
        return _DIRECT[(src, dst)](lon, lat)
    to_wgs, from_wgs = _TO_WGS84[src], _FROM_WGS84[dst]
    if to_wgs is not None:
        lon, lat = to_wgs(lon, lat)
    if from_wgs is not None:
        lon, lat = from_wgs(lon, lat)
    return lon, lat


def to_cgcs2000(lon: ArrayLike, lat: ArrayLike, crs: str = WGS84) -> tuple[Array, Array]:
    """lon/lat in ``crs`` (any name :func:`normalise_system` takes) as CGCS2000 lon/lat arrays, which we treat
    as WGS84: the two differ by centimetres, far below the web-map offsets this module removes.

    >>> lon, lat = to_cgcs2000([121.531541859], [31.175303984], "gcj02")
    >>> round(float(lon[0]), 7), round(float(lat[0]), 7)
    (121.5272106, 31.1774276)
    """
    return transform(lon, lat, crs, WGS84)


def _in_china(lon: float, lat: float) -> bool:
    """:func:`out_of_china`'s box negated, on floats."""
    return _BOX[0] <= lon <= _BOX[2] and _BOX[1] <= lat <= _BOX[3]


def to_wgs84_point(lon: float, lat: float, src: str) -> tuple[float, float]:
    """One point from ``src`` to WGS84 / CGCS2000 as Python floats: what :func:`transform` gives, without the
    cost of numpy on single numbers for GCJ-02 (the single lookup's hot path).

    >>> x, y = to_wgs84_point(121.531541859, 31.175303984, "gcj02")
    >>> round(x, 7), round(y, 7)
    (121.5272106, 31.1774276)
    """
    src = normalise_system(src)
    lon, lat = float(lon), float(lat)
    if src == WGS84:
        return lon, lat
    if src != GCJ02 or not _in_china(lon, lat):
        x, y = transform(lon, lat, src, WGS84)
        return float(x), float(y)
    dlon, dlat = _gcj_delta(lon, lat, math)
    x, y = lon - dlon, lat - dlat
    for _ in range(_MAX_ITER):  # as _invert does, on floats
        # the forward transform has no offset outside the box, so near its edge an iterate can leave it
        dx, dy = _gcj_delta(x, y, math) if _in_china(x, y) else (0.0, 0.0)
        ex, ey = lon - (x + dx), lat - (y + dy)
        x, y = x + ex, y + ey
        if abs(ex) < _TOLERANCE_DEG and abs(ey) < _TOLERANCE_DEG:
            break
    return x, y


def transform_geometries(geoms: ArrayLike, src: str, dst: str) -> shapely.Geometry | np.ndarray:
    """``geoms`` (a shapely geometry or array of them, lon/lat) converted from ``src`` to ``dst``.

    Every vertex is moved; the offsets vary over hundreds of kilometres, so shapes keep their form.
    """
    src_n, dst_n = normalise_system(src), normalise_system(dst)
    if src_n == dst_n:
        return geoms

    def _move(coords: Array) -> Array:
        lon, lat = transform(coords[:, 0], coords[:, 1], src_n, dst_n)
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, _move)
