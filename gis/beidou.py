"""GB/T 39409-2020 Beidou grid location code (北斗网格位置码), two-dimensional: encode and decode.

The earth between 88°S and 88°N is divided in 10 nested levels of lon x lat cells:

====== =============== ========== ======================= =====================
level  cell size        divisions  digits of this level    code length (total)
====== =============== ========== ======================= =====================
1      6° x 4°          60 x 22    2-digit column 01–60 +  4
                                   row letter A–V
2      30′ x 30′        12 x 8     hex column, row         6
3      15′ x 10′        2 x 3      one digit 0–5 (Z order) 7
4      1′ x 1′          15 x 10    hex column, row         9
5      4″ x 4″          15 x 15    hex column, row         11
6      2″ x 2″          2 x 2      one digit 0–3 (Z order) 12
7–10   1/4″ … 1/2048″   8 x 8      octal column, row       14, 16, 18, 20
====== =============== ========== ======================= =====================

The code starts with the hemisphere letter ``N`` or ``S`` (latitude ≥ 0 is ``N``); the lengths above count
it. Level 1 is the 1:1,000,000 map sheet: column ``floor(lon / 6°) + 31`` (01–60, 31 starts at the prime
meridian going east) and row letter ``A + floor(|lat| / 4°)``. From level 2 on every hemisphere is folded
onto the north-east one (|lon|, |lat| measured from the cell corner nearest the equator and the prime
meridian), so columns count away from the prime meridian and rows away from the equator. The Z-order
digit of levels 3 and 6 is ``row * 2 + column``. Example, from the standard and the libraries following it:
116°18′45.37″E 39°59′35.38″N at level 8 is ``N50J47539B825534``.

Coordinates are counted in integer units of 1/2048″ (the level-10 cell), so cell membership is exact and
free of floating-point drift. Polar caps (|lat| ≥ 88°), which the standard codes separately, are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: Integer units per arc-second: the level-10 cell edge is one unit.
UNITS_PER_SECOND = 2048
_U = UNITS_PER_SECOND

# Cell edge per level in arc-seconds (lon, lat); index 0 unused.
_LON_SECONDS = (0, 21600, 1800, 900, 60, 4, 2, 1 / 4, 1 / 32, 1 / 256, 1 / 2048)
_LAT_SECONDS = (0, 14400, 1800, 600, 60, 4, 2, 1 / 4, 1 / 32, 1 / 256, 1 / 2048)
#: Cell edge per level in 1/2048″ units (exact integers).
LON_SIZE_UNITS = np.array([round(s * _U) for s in _LON_SECONDS], dtype=np.int64)
LAT_SIZE_UNITS = np.array([round(s * _U) for s in _LAT_SECONDS], dtype=np.int64)
#: Columns and rows of each level inside its parent (level 1: of the whole hemisphere).
DIVISIONS = ((0, 0), (60, 22), (12, 8), (2, 3), (15, 10), (15, 15), (2, 2), (8, 8), (8, 8), (8, 8), (8, 8))
#: Total code length at each level, the hemisphere letter included.
CODE_LENGTH = (1, 4, 6, 7, 9, 11, 12, 14, 16, 18, 20)
LEVEL_OF_LENGTH = {n: level for level, n in enumerate(CODE_LENGTH) if level}
MAX_LEVEL = 10
#: Latitude limit of the ordinary (non-polar) grid, degrees.
POLAR_LIMIT = 88.0

_HALF_TURN_UNITS = 180 * 3600 * _U
_POLAR_UNITS = int(POLAR_LIMIT * 3600 * _U)
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


class BeidouCodeError(ValueError):
    """A string that is not a valid Beidou grid location code; the message says why."""

    def __init__(self, code: str, reason: str):
        self.code, self.reason = code, reason
        super().__init__(f"Beidou code {code!r}: {reason}")


@dataclass(frozen=True)
class BeidouCell:
    """A decoded Beidou grid cell: its level and lon/lat bounds in degrees."""

    code: str
    level: int
    west: float
    south: float
    east: float
    north: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.west + self.east) / 2, (self.south + self.north) / 2)

    def polygon(self) -> shapely.Polygon:
        return shapely.box(*self.bounds)

    def contains(self, lon: float, lat: float) -> bool:
        """True if (lon, lat) lies in the cell (edges included)."""
        return self.west <= lon <= self.east and self.south <= lat <= self.north


def cell_size_degrees(level: int) -> tuple[float, float]:
    """The (lon, lat) edge of a level's cells in degrees.

    >>> cell_size_degrees(2)
    (0.5, 0.5)
    """
    _check_level(level)
    return (float(LON_SIZE_UNITS[level]) / 3600 / _U, float(LAT_SIZE_UNITS[level]) / 3600 / _U)


def _check_level(level: int) -> None:
    if not isinstance(level, (int, np.integer)) or not 1 <= level <= MAX_LEVEL:
        raise ValueError(f"Beidou level must be an integer 1–{MAX_LEVEL}, got {level!r}")


def encode(lon: ArrayLike, lat: ArrayLike, level: int = 10) -> str | np.ndarray:
    """The Beidou grid location code of each point at ``level`` (1–10).

    Scalars give a ``str``; arrays give a numpy array of ``str`` of the same shape.

    >>> encode(116 + 18 / 60 + 45.37 / 3600, 39 + 59 / 60 + 35.38 / 3600, 8)
    'N50J47539B825534'
    >>> encode([116.39, 121.47], [39.9, 31.23], 3).tolist()
    ['N50J475', 'N51H263']
    """
    _check_level(level)
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    shape = lon_a.shape
    lon_a, lat_a = lon_a.ravel(), lat_a.ravel()
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a)) | (np.abs(lon_a) > 180) | (np.abs(lat_a) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"not a lon/lat point: ({lon_a[i]}, {lat_a[i]})")
    # Fold onto the north-east hemisphere, in whole level-10 units.
    x = np.minimum(np.floor(np.abs(lon_a) * 3600 * _U).astype(np.int64), _HALF_TURN_UNITS - 1)
    y = np.floor(np.abs(lat_a) * 3600 * _U).astype(np.int64)
    polar = y >= _POLAR_UNITS
    if polar.any():
        i = int(np.flatnonzero(polar)[0])
        raise ValueError(f"latitude {lat_a[i]} is in the polar cap (|lat| ≥ {POLAR_LIMIT}°), which this coder does not cover")

    n = len(x)
    out = np.empty((n, CODE_LENGTH[level]), dtype=np.uint8)
    out[:, 0] = np.where(lat_a >= 0, ord("N"), ord("S"))
    col1 = x // LON_SIZE_UNITS[1]
    sheet = np.where(lon_a >= 0, col1 + 31, 30 - col1)
    out[:, 1] = ord("0") + sheet // 10
    out[:, 2] = ord("0") + sheet % 10
    out[:, 3] = ord("A") + y // LAT_SIZE_UNITS[1]
    for lv in range(2, level + 1):
        ncol, nrow = DIVISIONS[lv]
        col = (x // LON_SIZE_UNITS[lv]) % ncol
        row = (y // LAT_SIZE_UNITS[lv]) % nrow
        at = CODE_LENGTH[lv - 1]
        if lv in (3, 6):
            out[:, at] = ord("0") + row * 2 + col
        else:
            out[:, at] = _HEX[col]
            out[:, at + 1] = _HEX[row]
    codes = out.view(f"S{CODE_LENGTH[level]}").ravel().astype(str)
    return str(codes[0]) if scalar else codes.reshape(shape)


def _digit(code: str, ch: str, base: int, limit: int, what: str) -> int:
    try:
        value = int(ch, base)
    except ValueError:
        raise BeidouCodeError(code, f"{what} {ch!r} is not a base-{base} digit") from None
    if value >= limit:
        raise BeidouCodeError(code, f"{what} {ch!r} is out of range (must be below {limit})")
    return value


def decode(code: str) -> BeidouCell:
    """The cell a Beidou grid location code stands for (case-insensitive).

    >>> cell = decode("N50J475")
    >>> cell.level, round(cell.west, 4), round(cell.south, 4), round(cell.east, 4), round(cell.north, 4)
    (3, 116.25, 39.8333, 116.5, 40.0)
    """
    if not isinstance(code, str):
        raise BeidouCodeError(str(code), "not a string")
    text = code.strip().upper()
    if len(text) not in LEVEL_OF_LENGTH:
        raise BeidouCodeError(code, f"length {len(text)} is not a code length {sorted(LEVEL_OF_LENGTH)}")
    level = LEVEL_OF_LENGTH[len(text)]
    if text[0] not in "NS":
        raise BeidouCodeError(code, f"must start with hemisphere letter N or S, not {text[0]!r}")
    if not text[1:3].isdigit():
        raise BeidouCodeError(code, f"level 1 column {text[1:3]!r} is not two digits")
    sheet = int(text[1:3])
    if not 1 <= sheet <= 60:
        raise BeidouCodeError(code, f"level 1 column {sheet} is outside 01–60")
    row1 = ord(text[3]) - ord("A")
    if not 0 <= row1 < DIVISIONS[1][1]:
        raise BeidouCodeError(code, f"level 1 row letter {text[3]!r} is outside A–V")
    east = sheet >= 31
    x = (sheet - 31 if east else 30 - sheet) * int(LON_SIZE_UNITS[1])
    y = row1 * int(LAT_SIZE_UNITS[1])
    for lv in range(2, level + 1):
        ncol, nrow = DIVISIONS[lv]
        at = CODE_LENGTH[lv - 1]
        if lv in (3, 6):
            z = _digit(code, text[at], 10, ncol * nrow, f"level {lv} digit")
            row, col = divmod(z, 2)
        else:
            base = 8 if lv >= 7 else 16
            col = _digit(code, text[at], base, ncol, f"level {lv} column")
            row = _digit(code, text[at + 1], base, nrow, f"level {lv} row")
        x += col * int(LON_SIZE_UNITS[lv])
        y += row * int(LAT_SIZE_UNITS[lv])
    deg = 3600.0 * _U
    lo_x, hi_x = x / deg, (x + int(LON_SIZE_UNITS[level])) / deg
    lo_y, hi_y = y / deg, (y + int(LAT_SIZE_UNITS[level])) / deg
    west, east_ = (lo_x, hi_x) if east else (-hi_x, -lo_x)
    south, north = (lo_y, hi_y) if text[0] == "N" else (-hi_y, -lo_y)
    return BeidouCell(text, level, west, south, east_, north)


def level_of(code: str) -> int:
    """The level (1–10) of a code, from its length."""
    level = LEVEL_OF_LENGTH.get(len(code.strip()))
    if level is None:
        raise BeidouCodeError(code, f"length {len(code.strip())} is not a code length {sorted(LEVEL_OF_LENGTH)}")
    return level


def parent(code: str, level: int) -> str:
    """The code of the enclosing cell at a coarser ``level`` (the code's prefix).

    >>> parent("N50J47539B825534", 3)
    'N50J475'
    """
    _check_level(level)
    own = level_of(code)
    if level > own:
        raise ValueError(f"{code!r} is level {own}; it has no parent at level {level}")
    return code.strip().upper()[: CODE_LENGTH[level]]


def encode_geometries(geoms: ArrayLike, level: int = 7) -> np.ndarray:
    """The code of each geometry's representative point (``shapely.point_on_surface``, always inside it).

    ``geoms`` are lon/lat (CGCS2000 or WGS84). Missing or empty geometries are refused.

    >>> encode_geometries([shapely.box(116.31, 39.99, 116.32, 40.0)], 3).tolist()
    ['N50J475']
    """
    geoms = np.asarray(geoms, dtype=object)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise ValueError(f"geometry {int(np.flatnonzero(bad)[0])} is empty or missing: it has no location code")
    points = shapely.point_on_surface(geoms)
    return encode(shapely.get_x(points), shapely.get_y(points), level)
