"""Batch lookups from memory: an STRtree over the grids of a published (or archived) plan, built once per plan
in each server process.

A plan stops changing when it is published (only drafts are edited, and a publish writes the codes before it
flips the status), so an index stays right for as long as its plan exists. It is keyed by the plan's identity:
database, id, creation time, version and publication time; a plan deleted and another created with the same id
(after ``TRUNCATE ... RESTART IDENTITY``) differs in creation time. Drafts are always answered by SQL.

Answers are those of the SQL in :func:`gridplanner.lookup.service.lookup_points`: a point belongs to every grid it
intersects (boundary included) and the lowest code wins, in the database's own order of codes (the index keeps
the grids in ``ORDER BY code`` order and takes the first hit).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

#: Indexes kept per process: the published plan and one or two others that callers name with ``plan=``.
MAX_PLANS = 3


@dataclass(frozen=True)
class PlanIndex:
    key: tuple
    codes: np.ndarray  # grid codes in the database's ORDER BY code order
    tree: shapely.STRtree  # over the grids in that same order

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
        """The lowest code of the grids each point intersects, None where none does; in input order."""
        n = len(lon)
        if n == 0:
            return []
        hit_point, hit_grid = self.tree.query(shapely.points(lon, lat), predicate="intersects")
        first = np.full(n, len(self.codes), dtype=np.int64)
        np.minimum.at(first, hit_point, hit_grid)
        # One slot past the last code stands for "no grid".
        return np.append(self.codes, None)[first].tolist()


_KEY_SQL = "SELECT current_database(), id, created_at, version, published_at, status FROM grid_plans WHERE id = :p"
_GRIDS_SQL = "SELECT code, ST_AsBinary(geom) FROM grids WHERE plan_id = :p AND code IS NOT NULL ORDER BY code"

_cache: OrderedDict[tuple, PlanIndex] = OrderedDict()
_lock = threading.Lock()


def plan_index(session: Session, plan_id: int) -> PlanIndex | None:
    """The index of plan ``plan_id``, loaded through ``session`` when this process has none yet; None for a
    draft (or a plan that does not exist)."""
    row = session.execute(text(_KEY_SQL), {"p": plan_id}).first()
    if row is None or row.status == "draft":
        return None
    key = tuple(row[:5])
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
        # Loading under the lock: concurrent first requests wait for one load instead of each doing it.
        rows = session.execute(text(_GRIDS_SQL), {"p": plan_id}).all()
        codes = np.array([r[0] for r in rows], dtype=object)
        geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
        index = PlanIndex(key, codes, shapely.STRtree(geoms))
        _cache[key] = index
        while len(_cache) > MAX_PLANS:
            _cache.popitem(last=False)
        return index


def clear() -> None:
    with _lock:
        _cache.clear()
