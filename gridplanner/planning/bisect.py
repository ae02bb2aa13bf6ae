"""Recursive bisection of an area holding too many households: straight cuts across its long axis, placed in
gaps between buildings where a gap gives a good enough split.

Works on lon/lat geometry; directions are taken in a local frame scaled by cos(latitude) so that "long axis"
and "perpendicular" mean what they do on the ground.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridplanner.planning.rules import SizeRule

# A cut that crosses buildings costs as much as this share of the households being out of balance.
_CROSSING_PENALTY = 0.08
# A split that leaves a side unable to meet the bounds costs this much.
_INFEASIBLE_PENALTY = 0.5
# Cut directions tried, as turns from across-the-long-axis, with what each costs in compactness.
_DIRECTIONS = ((0.0, 0.0), (np.pi / 2, 0.04), (np.pi / 4, 0.06), (-np.pi / 4, 0.06))
# Tried only when none of those gives both sides a feasible count: with a few large buildings (towers of
# hundreds of households) the sides' sums jump, and another angle orders the buildings differently.
_MORE_DIRECTIONS = tuple((t, 0.1) for t in np.linspace(-np.pi / 2, np.pi / 2, 17)[1:-1] if not np.isclose(abs(t) % (np.pi / 4), 0))


@dataclass(frozen=True)
class LocalFrame:
    """lon/lat <-> a local plane where one unit is one degree of latitude in both directions."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return float(np.cos(np.radians(self.lat0)))

    def to_local(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - self.lon0) * self.kx, xy[:, 1] - self.lat0])

    def to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] / self.kx + self.lon0, xy[:, 1] + self.lat0])


@dataclass
class Buildings:
    """What bisection needs to know about the buildings of one area, in the local frame."""

    points: np.ndarray  # (n, 2) representative points
    corners: np.ndarray  # (n, 4, 2) footprint bounding-box corners
    households: np.ndarray  # (n,)

    @classmethod
    def from_geometry(cls, frame: LocalFrame, footprints, points, households) -> Buildings:
        b = shapely.bounds(footprints)
        corners = np.stack(
            [b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1
        ).reshape(-1, 2)
        pts = shapely.get_coordinates(points)
        return cls(frame.to_local(pts), frame.to_local(corners).reshape(-1, 4, 2), np.asarray(households))


def _long_axis(piece_local) -> np.ndarray:
    rect = shapely.oriented_envelope(piece_local)
    xy = shapely.get_coordinates(rect)
    if len(xy) < 4:
        return np.array([1.0, 0.0])
    e1, e2 = xy[1] - xy[0], xy[2] - xy[1]
    axis = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    norm = np.hypot(*axis)
    if norm == 0:
        return np.array([1.0, 0.0])
    axis = axis / norm
    # A fixed sign keeps results independent of the envelope's vertex order.
    if axis[0] < 0 or (axis[0] == 0 and axis[1] < 0):
        axis = -axis
    return axis


def bisection_cuts(piece, members: np.ndarray, buildings: Buildings, frame: LocalFrame, rule: SizeRule) -> list:
    """Cut lines (lon/lat, clipped to ``piece``) splitting ``piece`` into parts of about the rule's target size.

    ``members`` index the buildings inside ``piece``. Each step splits across the long axis so that the
    households on each side suit ``k1`` and ``k2`` grids (``k1 + k2`` = grids wanted), then recurses.
    """
    return bisect(piece, members, buildings, frame, rule)[0]


def bisect(piece, members: np.ndarray, buildings: Buildings, frame: LocalFrame, rule: SizeRule, k: int | None = None,
           whole_sides: bool = False):
    """Like :func:`bisection_cuts`, also returning the final parts (polygons) in a list; ``k`` forces the
    number of parts wanted at the first step. ``whole_sides``: prefer cuts leaving each side in one piece
    (for parts that must become grids as they are; cells that are grouped later need not)."""
    cuts: list = []
    leaves: list = []
    stack = [(piece, np.asarray(members, dtype=np.intp), k)]
    while stack:
        area, idx, want = stack.pop()
        total = int(buildings.households[idx].sum())
        k_here = want if want is not None else rule.grid_count(total)
        split = None
        if k_here > 1 and len(idx) > 1:
            split = _best_split(area, idx, buildings, frame, rule, k_here, total, whole_sides)
        if split is None:
            leaves.append(area)
            continue
        line, left_area, right_area, left_idx, right_idx = split
        cuts.append(line)
        stack.append((right_area, right_idx, None))
        stack.append((left_area, left_idx, None))
    return cuts, leaves


def _best_split(area, idx, buildings: Buildings, frame: LocalFrame, rule: SizeRule, k: int, total: int,
                whole_sides: bool = False):
    local = shapely.transform(area, frame.to_local)
    long_axis = _long_axis(local)
    candidates = []
    # Across the long axis first (compact parts); other directions only when they balance clearly better.
    for directions in (_DIRECTIONS, _MORE_DIRECTIONS):
        for turn, penalty in directions:
            c, s_ = np.cos(turn), np.sin(turn)
            axis = np.array([long_axis[0] * c - long_axis[1] * s_, long_axis[0] * s_ + long_axis[1] * c])
            for score, position, order, j in _split_along(axis, idx, buildings, rule, k, total):
                candidates.append((score + penalty, len(candidates), axis, position, order, j))
        if any(c[0] < _INFEASIBLE_PENALTY for c in candidates):
            break
    if not candidates:
        return None
    candidates.sort(key=lambda c: (c[0], c[1]))
    if not whole_sides:
        _, _, axis, position, order, j = candidates[0]
        return _cut(area, local, idx, frame, axis, position, order, j)
    # A straight cut across a concave area can leave a side in pieces, each holding buildings; such a side
    # cannot be one grid and its pieces end up as small grids. The best cut that keeps each side in one piece
    # wins; failing that, the best cut.
    pts = frame.to_lonlat(buildings.points[idx])
    whole = max(_pieces_holding(area, pts), 1)
    first = None
    for _, _, axis, position, order, j in candidates[:_CANDIDATES_CHECKED]:
        split = _cut(area, local, idx, frame, axis, position, order, j)
        if first is None:
            first = split
        left_pts, right_pts = pts[np.asarray(order)[: j + 1]], pts[np.asarray(order)[j + 1:]]
        if _pieces_holding(split[1], left_pts) + _pieces_holding(split[2], right_pts) <= whole + 1:
            return split
    return first


# How many of the best-scoring cuts are tried for sides that stay in one piece.
_CANDIDATES_CHECKED = 8


def _pieces_holding(polygon, xy: np.ndarray) -> int:
    """How many parts of ``polygon`` hold at least one of the points ``xy`` (lon/lat)."""
    parts = shapely.get_parts(polygon)
    if len(parts) <= 1:
        return len(parts)
    return int(sum(bool(shapely.intersects_xy(p, xy[:, 0], xy[:, 1]).any()) for p in parts))


def _cut(area, local, idx, frame: LocalFrame, axis, position, order, j):
    """The cut line at ``position`` along ``axis`` and the two sides of ``area`` with their buildings."""
    normal = np.array([-axis[1], axis[0]])
    xy = shapely.get_coordinates(local)
    s = xy @ normal
    u = xy @ axis
    pad = 1.0 + float(np.ptp(s) + np.ptp(u))
    s0, s1 = s.min() - pad, s.max() + pad
    u0, u1 = u.min() - pad, u.max() + pad

    def to_geo(pairs):
        pts = np.array([a * axis + b * normal for a, b in pairs])
        return frame.to_lonlat(pts)

    line = shapely.LineString(to_geo([(position, s0), (position, s1)]))
    left_half = shapely.Polygon(to_geo([(u0, s0), (position, s0), (position, s1), (u0, s1)]))
    right_half = shapely.Polygon(to_geo([(position, s0), (u1, s0), (u1, s1), (position, s1)]))
    members = idx[np.asarray(order)]
    return (
        _overshoot(shapely.intersection(line, area), frame),
        shapely.intersection(area, left_half),
        shapely.intersection(area, right_half),
        members[: j + 1],
        members[j + 1 :],
    )


# How far a cut is drawn past the area's edge (degrees, ~1 cm): a cut ending exactly on an earlier cut may
# fall short of it by rounding and then fail to close a face; drawn a little past, it is always noded.
_OVERSHOOT = 1e-7


def _split_along(axis, idx, buildings: Buildings, rule: SizeRule, k: int, total: int, best: int = 3) -> list:
    """The ``best`` cuts across ``axis``, best first: (score, position, order of buildings along it, last
    index on the left) each."""
    t = buildings.points[idx] @ axis
    proj = buildings.corners[idx] @ axis
    lo, hi = proj.min(axis=1), proj.max(axis=1)
    order = np.lexsort((idx, t))  # ties broken by building index: deterministic
    t, lo, hi = t[order], lo[order], hi[order]
    hh = buildings.households[idx][order]
    left = np.cumsum(hh)[:-1]
    right = total - left
    k1 = k // 2
    k2 = k - k1
    target = total * k1 / k
    before_max = np.maximum.accumulate(hi)[:-1]
    after_min = np.minimum.accumulate(lo[::-1])[::-1][1:]
    gap = before_max < after_min
    separable = t[1:] > t[:-1]
    if not separable.any():
        return []
    lo_b, hi_b = rule.min_households, rule.max_households
    feasible = (left >= k1 * lo_b) & (left <= k1 * hi_b) & (right >= k2 * lo_b) & (right <= k2 * hi_b)
    score = np.abs(left - target) / max(total, 1) + _CROSSING_PENALTY * ~gap + _INFEASIBLE_PENALTY * ~feasible
    score[~separable] = np.inf
    out = []
    for j in np.argsort(score, kind="stable")[:best].tolist():
        if not np.isfinite(score[j]):
            break
        position = (before_max[j] + after_min[j]) / 2 if gap[j] else (t[j] + t[j + 1]) / 2
        # Keep the cut strictly between the two representative points, or they would land on the wrong side.
        if not t[j] < position < t[j + 1]:
            position = (t[j] + t[j + 1]) / 2
        out.append((float(score[j]), position, order, j))
    return out


def _overshoot(cut, frame: LocalFrame):
    parts = []
    for part in shapely.get_parts(cut):
        if shapely.get_type_id(part) != 1:
            continue
        xy = frame.to_local(shapely.get_coordinates(part))
        if len(xy) < 2:
            continue
        d = xy[-1] - xy[0]
        norm = np.hypot(*d)
        if norm == 0:
            continue
        d = d / norm * _OVERSHOOT
        xy[0] -= d
        xy[-1] += d
        parts.append(shapely.LineString(frame.to_lonlat(xy)))
    return shapely.MultiLineString(parts) if parts else shapely.LineString()
