"""Web Mercator tile maths (the XYZ scheme of OSM/MapLibre, EPSG:3857): tile bounds and the tiles a box touches."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Half the width of the EPSG:3857 world, in metres.
ORIGIN = 20037508.342789244
MAX_ZOOM = 24
MAX_LAT = 85.0511287798066


class TileError(ValueError):
    """A tile address outside the tile pyramid."""


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def __post_init__(self) -> None:
        if not 0 <= self.z <= MAX_ZOOM:
            raise TileError(f"zoom {self.z} is outside 0..{MAX_ZOOM}")
        n = 1 << self.z
        for name, v in (("x", self.x), ("y", self.y)):
            if not 0 <= v < n:
                raise TileError(f"tile {name}={v} is outside 0..{n - 1} at zoom {self.z}")

    @property
    def width_m(self) -> float:
        """Width of the tile in EPSG:3857 metres."""
        return 2 * ORIGIN / (1 << self.z)

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        w = self.width_m
        xmin = -ORIGIN + self.x * w
        ymax = ORIGIN - self.y * w
        return xmin, ymax - w, xmin + w, ymax

    def lonlat_bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees, grown by ``margin`` tile widths on each side."""
        xmin, ymin, xmax, ymax = self.mercator_bounds()
        pad = margin * self.width_m
        w, s = mercator_to_lonlat(max(xmin - pad, -ORIGIN), max(ymin - pad, -ORIGIN))
        e, n = mercator_to_lonlat(min(xmax + pad, ORIGIN), min(ymax + pad, ORIGIN))
        return w, s, e, n


def lonlat_to_mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    return lon * ORIGIN / 180.0, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * ORIGIN / math.pi


def mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    return x * 180.0 / ORIGIN, math.degrees(2 * math.atan(math.exp(y * math.pi / ORIGIN)) - math.pi / 2)


def tile_for(lon: float, lat: float, z: int) -> Tile:
    """The tile holding a point at zoom ``z``."""
    x, y = lonlat_to_mercator(lon, lat)
    n = 1 << z
    col = min(n - 1, max(0, int((x + ORIGIN) / (2 * ORIGIN) * n)))
    row = min(n - 1, max(0, int((ORIGIN - y) / (2 * ORIGIN) * n)))
    return Tile(z, col, row)


def boxes_intersect(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
