"""Query parameters shared by routes, parsed by one rule each."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import HTTPException, Query

BBox = tuple[float, float, float, float]

#: ``?plan=``: read a plan other than the published one.
PlanParam = Annotated[int | None, Query(description="plan id to read instead of the published plan", examples=[3])]
#: ``?offset=``: items skipped (pages run in a stable order; ``limit`` says how many follow).
OffsetParam = Annotated[int, Query(ge=0, description="items skipped")]


def limit_param(most: int, what: str = "items"):
    """``?limit=`` of a route whose pages hold at most ``most`` ``what``."""
    return Annotated[int, Query(ge=1, le=most, description=f"{what} per page, at most {most}")]


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
