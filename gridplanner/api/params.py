"""Query parameters shared by routes, parsed by one rule each."""

from __future__ import annotations

import math

from fastapi import HTTPException

BBox = tuple[float, float, float, float]


def parse_bbox(value: str | None, *, status: int = 422) -> BBox | None:
    """``west,south,east,north`` in degrees -> a tuple; None when absent. Four finite numbers with
    -180 ≤ west ≤ east ≤ 180 and -90 ≤ south ≤ north ≤ 90 (a box of zero width is a point: allowed).
    Anything else is answered ``status`` (422; the OGC API – Features routes answer 400) naming the value.

    >>> parse_bbox("120.1,30.2,120.2,30.3")
    (120.1, 30.2, 120.2, 30.3)
    >>> parse_bbox("120.2,30.2,120.1,30.3")
    Traceback (most recent call last):
    ...
    fastapi.exceptions.HTTPException: 422: bbox '120.2,30.2,120.1,30.3' is not west,south,east,north in degrees (west <= east, south <= north)
    """
    if value is None:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise HTTPException(status, detail=f"bbox must be four numbers west,south,east,north; got {value!r}")
    w, s, e, n = parts
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise HTTPException(status, detail=f"bbox {value!r} is not west,south,east,north in degrees (west <= east, south <= north)")
    return w, s, e, n
