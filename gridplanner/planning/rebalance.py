"""Grids outside the size rule redrawn together with a neighbour or two, building by building.

Straight cuts and whole blocks cannot always reach the bounds where buildings are large and few (towers of
hundreds of households): a grid of 208 households whose neighbours are full, or one of 625 in four towers.
Here such a grid and one or two neighbours are taken as a set; their buildings (overlapping ones as one unit)
get the Voronoi cells of their points inside the set's union, and a local search moves boundary units between
the set's grids, each kept in one piece, until no move leaves fewer grids outside the bounds (then less
excess, then a shorter shared boundary). Where that climb stalls and the set is small, every way of giving
its buildings to the grids is tried (:func:`_exact`), with the open land between the buildings as units of
its own so that a grid can reach round a neighbour's tower. Where the shaping around footprints undoes a
redraw (a large footprint lying across the cells drawn around points), it is drawn again on cells around the
footprints. The redraw is kept only when more of the set's grids end within bounds and every building stays
whole; the set's outer boundary never moves. On Shenzhen Nanshan these took the division engine from 98.1%
to 99.0% of grids within bounds where that is feasible (docs/benchmarks.md, "Real data").

:func:`balance` then evens out grids that are within bounds but far apart (480 beside 320 households), the
same way, pair by pair: the division engine's CV of households falls from 0.15 to 0.11 on Shenzhen Nanshan
and from 0.13 to 0.10 on the generated district, for a few per cent of the internal boundary that followed
roads (docs/benchmarks.md, "Real data").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely

from gis.coverage import interior_points, polygon_faces, shared_edges
from gridplanner.planning.bisect import LocalFrame
from gridplanner.planning.rules import SizeRule

#: Local-search moves per redraw at most (each is one unit changing grid).
MAX_MOVES = 400
#: Sets with at most this many ways to give their buildings to grids are searched whole (:func:`_exact`) ...
EXACT_LABELINGS = 1 << 16
#: ... trying this many labellings nearest the target at most, keeping the best of this many that work.
EXACT_TRIES = 400
EXACT_KEEP = 8
#: Open land is split off as units on a lattice of about this many points over a set, its step no less
#: than this (m) (see :func:`_open_land`).
OPEN_SEEDS = 48
OPEN_STEP_M = 15.0
#: Redraws tried per community at most.
MAX_SETS = 40
#: Balancing redraws tried per community at most (see :func:`balance`).
MAX_BALANCE_SETS = 40
#: ... plus this many per grid of the community.
BALANCE_SETS_PER_GRID = 2
#: The least drop in squared distance from the target (households²) a balancing redraw must bring (30²: a
#: grid 30 households nearer it); a pair is tried when evening it out would bring twice that. Smaller
#: moves are not worth a redrawn boundary.
BALANCE_GAIN = 900.0
#: A boundary this close (m) to a road or river follows it.
ON_LINE_M = 5.0
#: A footprint's cell is seeded along its outline (see :func:`_cells`) every this many metres ...
SAMPLE_STEP_M = 2.0
#: ... with at most this many seeds a footprint ...
MAX_SAMPLES = 200
#: ... on the outline drawn this far (m) inside the footprint.
SHRINK_M = 0.5
#: Metres per unit of the local frame (one degree of latitude).
_M_PER_UNIT = 111_320.0


def rebalance(geoms: list, basic: np.ndarray, members: list[np.ndarray], households: np.ndarray, points: np.ndarray,
              together: np.ndarray, rule: SizeRule, frame: LocalFrame,
              reshape: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray] | None],
              footprints: np.ndarray | None = None) -> tuple[list, list[np.ndarray]]:
    """New geometries and members for one community's grids (``geoms``, ``members``: building indices per grid).

    ``basic`` marks grids the size rule applies to (dedicated ones never change). ``households``, ``points``
    and ``together`` (the lowest index of each building's group of overlapping ones) are per building.
    ``reshape(union, cells, cell_group, buildings, building_group)`` turns the Voronoi cells and their groups
    into final faces, face groups and building groups that keep every footprint whole (the engine's
    shaping), or None when it cannot. ``footprints`` (per building, lon/lat; a point or empty where there is
    none): where the shaping undoes a redraw drawn on cells around the buildings' points, it is drawn again
    on cells around their footprints (see :func:`_cells`).
    """
    geoms = list(geoms)
    members = [np.asarray(m, dtype=np.intp) for m in members]
    # A set is tried once for as long as its grids stay as they are: a redraw that changes one of them gives
    # it a new version, and the sets it is in may be tried again (Shenzhen Nanshan 440305002008: a grid of
    # 523 beside one of 377, within bounds once one small building moves, had been tried before its
    # neighbour was redrawn).
    tried: set[tuple] = set()
    version = [0] * len(geoms)
    basic = np.asarray(basic, dtype=bool).copy()
    for _ in range(MAX_SETS):
        hh = np.array([int(households[m].sum()) for m in members])
        bad = [g for g in range(len(geoms)) if basic[g] and not rule.within(hh[g]) and not _one_giant(members[g], households, rule)]
        if not bad:
            break
        # Grids merged away (None) have no edges: an empty polygon in their place.
        pi, pj, length = shared_edges(np.array([g if g is not None else shapely.Polygon() for g in geoms], dtype=object))
        done = False
        for g in sorted(bad, key=lambda x: (-abs(hh[x] - rule.target), x)):
            for group, k in _candidate_sets(g, pi, pj, length, basic, hh, rule):
                key = (group, k, tuple(version[x] for x in group))
                if key in tried:
                    continue
                tried.add(key)
                result = _redraw(group, k, geoms, members, households, points, together, rule, frame, reshape,
                                 footprints=footprints)
                if result is None:
                    continue
                new_geoms, new_members = result
                for j, gi in enumerate(group):
                    geoms[gi], members[gi] = new_geoms[j], new_members[j]
                    version[gi] += 1
                    if new_geoms[j] is None:
                        basic[gi] = False
                # A set redrawn as one grid more: the new grid joins the list.
                for j in range(len(group), len(new_geoms)):
                    geoms.append(new_geoms[j])
                    members.append(new_members[j])
                    version.append(0)
                    basic = np.r_[basic, True]
                done = True
                break
            if done:
                break
        if not done:
            break
    return geoms, members


def _union(geoms: np.ndarray):
    """The union of neighbouring grids: GEOS's coverage union when their edges match, else the overlay.

    Before the final settling the grids' lines need not be noded alike (a vertex of one on the other's
    edge): the coverage union then returns the grids apart as a MultiPolygon, which made two grids sharing
    80 m of line look "not one piece" and barred the redraws across them (Shenzhen Nanshan 440305001001: 20
    of the 30 sets tried). The overlay is taken then."""
    try:
        union = shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:
        union = shapely.union_all(geoms)
    if shapely.get_type_id(union) != 3:
        union = shapely.union_all(geoms)
    if shapely.get_type_id(union) == 6 and shapely.get_num_geometries(union) == 1:
        union = shapely.get_geometry(union, 0)
    return union


def _one_giant(idx: np.ndarray, households: np.ndarray, rule: SizeRule) -> bool:
    """A grid that is out of bounds because it holds a building above the maximum: nothing can fix it."""
    return bool(len(idx) and (households[idx] > rule.max_households).any())


def _candidate_sets(g: int, pi, pj, length, basic, hh, rule: SizeRule) -> list[tuple[tuple[int, ...], int]]:
    """Connected sets of two, three and four grids around ``g`` (neighbours sharing most boundary first) and
    the number of grids each can be redrawn as within bounds: as many as it has, one fewer (two small grids
    whose neighbours are full become one) or one more."""
    nbrs: dict[int, dict[int, float]] = {}
    for a, b, ln in zip(pi.tolist(), pj.tolist(), length.tolist()):
        if basic[a] and basic[b]:
            nbrs.setdefault(a, {})[b] = nbrs.setdefault(a, {}).get(b, 0.0) + ln
            nbrs.setdefault(b, {})[a] = nbrs.setdefault(b, {}).get(a, 0.0) + ln
    sets: list[tuple[int, ...]] = []
    frontier = [(g,)]
    for _ in range(3):
        grown = []
        for s in frontier:
            touch: dict[int, float] = {}
            for x in s:
                for n, ln in nbrs.get(x, {}).items():
                    if n not in s:
                        touch[n] = touch.get(n, 0.0) + ln
            for n in sorted(touch, key=lambda n: (-touch[n], n))[:4]:
                t = tuple(sorted((*s, n)))
                if t not in sets and t not in grown:
                    grown.append(t)
        sets += grown
        frontier = grown[:8]
    out = []
    for s in sets:
        total = int(sum(hh[x] for x in s))
        for k in (len(s), len(s) - 1, len(s) + 1):
            if k >= 1 and k * rule.min_households <= total <= k * rule.max_households:
                out.append((s, k))
                break
    return out


def _redraw(group, k, geoms, members, households, points, together, rule, frame, reshape, *, balance: bool = False,
            footprints: np.ndarray | None = None, around_footprints: bool = False):
    """The set's grids redrawn as ``k`` grids (``k`` = its size or one fewer); None unless more of them end
    within bounds. A grid the set loses comes back empty (its geometry None), for the caller to drop.

    ``balance``: grids all within bounds redrawn as many, nearer the target: None unless all stay within
    bounds and their squared distance from the target drops by :data:`BALANCE_GAIN` or more."""
    union = _union(np.array([geoms[g] for g in group], dtype=object))
    if shapely.get_type_id(union) != 3:
        return None  # the set is not one piece (grids meeting at a point): nothing to redraw across
    idx = np.concatenate([members[g] for g in group])
    if len(idx) < k:
        return None
    # Units: a building, or a group of overlapping ones (they travel together).
    roots, inverse = np.unique(together[idx], return_inverse=True)
    unit_hh = np.bincount(inverse, weights=households[idx])
    unit_pt = shapely.get_coordinates(points[roots])
    if len(np.unique(unit_pt, axis=0)) < len(unit_pt) or len(roots) < len(group):
        return None  # two units at one point: their cells cannot be told apart
    start = np.empty(len(roots), dtype=np.intp)
    for j, g in enumerate(group):
        start[np.isin(roots, together[members[g]])] = j
    unit_fp = None
    if around_footprints:
        fp = np.asarray(footprints, dtype=object)[idx]
        unit_fp = np.empty(len(roots), dtype=object)
        for u in range(len(roots)):
            mine = fp[inverse == u]
            mine = mine[shapely.get_dimensions(mine) == 2]
            unit_fp[u] = mine[0] if len(mine) == 1 else shapely.union_all(mine) if len(mine) else shapely.Point()
    made = _cells(unit_pt, union, frame, unit_fp)
    if made is None:
        return None
    cells, cell_unit = made
    pi, pj, length = _unit_graph(cells, cell_unit)
    before = sum(rule.within(unit_hh[start == j].sum()) for j in range(len(group)))
    if balance:
        return _balanced(group, idx, start, unit_hh, cells, cell_unit, inverse, union, pi, pj, length, households, rule, reshape)
    if k < len(group):
        # The smallest grid gives its units to the neighbours they touch; grids are renumbered 0..k-1.
        start = _dissolve_smallest(start, unit_hh, pi, pj, len(group))
        if start is None:
            return None
    elif k > len(group):
        start = _split_largest(start, unit_hh, pi, pj, len(group))
    labels = _search(start, unit_hh, pi, pj, length, k, rule)
    after = sum(rule.within(unit_hh[labels == j].sum()) for j in range(k))
    if after < k:
        # From where the grids are now the climb can stall; start again from strips across the set.
        for axis in _axes(frame.to_local(unit_pt)):
            again = _search(_strips(frame.to_local(unit_pt) @ axis, unit_hh, k), unit_hh, pi, pj, length, k, rule)
            score = sum(rule.within(unit_hh[again == j].sum()) for j in range(k))
            if score > after and all(_connected(again, j, pi, pj) for j in range(k)):
                labels, after = again, score
            if after == k:
                break
    if after < k and k ** (len(unit_hh) - 1) <= EXACT_LABELINGS:
        # Searched whole, with the open land between the buildings as units of their own: a grid may then
        # reach buildings past a neighbour's tower instead of through its cell.
        opened = _open_land(unit_pt, union, frame, unit_fp)
        if opened is not None:
            exact = _exact(unit_hh, *_unit_graph(*opened), k, rule, n_units=int(opened[1].max()) + 1)
            if exact is not None:
                (cells, cell_unit), labels, after = opened, exact, k
    if after <= before:
        return None
    shaped = reshape(union, cells, labels[cell_unit], idx, labels[inverse])
    made = None
    if shaped is not None:
        faces, face_group, building_group = shaped
        if sum(rule.within(households[idx][building_group == j].sum()) for j in range(k)) > before:
            made = _grids_from_faces(faces, face_group, idx, building_group, k)
    if made is None:
        if footprints is not None and not around_footprints:
            # The shaping handed a building back (its footprint lay across cells drawn around points) or
            # left a grid in pieces: drawn again on cells around the footprints.
            return _redraw(group, k, geoms, members, households, points, together, rule, frame, reshape,
                           footprints=footprints, around_footprints=True)
        return None
    new_geoms, new_members = made
    # Grids the set lost come back empty (None), for the caller to drop.
    gone = max(k, len(group)) - k
    return new_geoms + [None] * gone, new_members + [np.zeros(0, dtype=np.intp)] * gone


def _grids_from_faces(faces, face_group, idx, building_group, k):
    """The ``k`` grids the shaped faces make, each one valid polygon, and their buildings; None otherwise."""
    new_geoms, new_members = [], []
    for j in range(k):
        mine = faces[face_group == j]
        if len(mine) == 0:
            return None
        geom = _union(mine) if len(mine) > 1 else mine[0]
        if shapely.get_type_id(geom) != 3 or not shapely.is_valid(geom):
            return None
        new_geoms.append(geom)
        new_members.append(idx[building_group == j])
    return new_geoms, new_members


def _spread(sums, rule: SizeRule) -> float:
    return float(((np.asarray(sums, dtype=float) - rule.target) ** 2).sum())


def _balanced(group, idx, start, unit_hh, cells, cell_unit, inverse, union, pi, pj, length, households, rule, reshape):
    k = len(group)
    before = _spread([unit_hh[start == j].sum() for j in range(k)], rule)
    labels = _search(start, unit_hh, pi, pj, length, k, rule, squared=True)
    sums = [unit_hh[labels == j].sum() for j in range(k)]
    if not all(rule.within(x) for x in sums) or _spread(sums, rule) > before - BALANCE_GAIN:
        return None
    shaped = reshape(union, cells, labels[cell_unit], idx, labels[inverse])
    if shaped is None:
        return None
    faces, face_group, building_group = shaped
    sums = [households[idx][building_group == j].sum() for j in range(k)]
    if not all(rule.within(x) for x in sums) or _spread(sums, rule) > before - BALANCE_GAIN:
        return None
    return _grids_from_faces(faces, face_group, idx, building_group, k)


def balance(geoms: list, basic: np.ndarray, members: list[np.ndarray], households: np.ndarray, points: np.ndarray,
            together: np.ndarray, rule: SizeRule, frame: LocalFrame,
            reshape: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray] | None],
            lines: np.ndarray | None = None, footprints: np.ndarray | None = None) -> tuple[list, list[np.ndarray]]:
    """Neighbouring grids, both within bounds but one well above the target and the other well below (their
    squared distance from it would drop by :data:`BALANCE_GAIN` or more were they even), redrawn building by
    building as :func:`rebalance` does, kept only when both stay within bounds and nearer the target, and
    their shared boundary follows as much of ``lines`` (roads, rivers: within :data:`ON_LINE_M`) as before:
    evening out never takes a boundary off a road. The pair's outer boundary never moves. Other arguments as
    for :func:`rebalance`."""
    geoms = list(geoms)
    members = [np.asarray(m, dtype=np.intp) for m in members]
    basic = np.asarray(basic, dtype=bool)
    tried: set[tuple] = set()
    near = None
    if lines is not None and len(lines):
        local = shapely.transform(np.asarray(lines, dtype=object), frame.to_local)
        near = shapely.buffer(shapely.union_all(local), ON_LINE_M / _M_PER_UNIT)
        shapely.prepare(near)

    def followed(a, b) -> float:
        shared = shapely.intersection(shapely.boundary(a), shapely.boundary(b))
        return float(shapely.length(shapely.intersection(shapely.transform(shared, frame.to_local), near)))

    budget = MAX_BALANCE_SETS + BALANCE_SETS_PER_GRID * len(geoms)
    changed = True
    while budget > 0 and changed:
        # Neighbours change only where a redraw succeeded: the pairs are listed again after each sweep.
        changed = False
        hh = np.array([int(households[m].sum()) for m in members])
        pi, pj, _ = shared_edges(np.array(geoms, dtype=object))
        pairs = []
        for a, b in zip(pi.tolist(), pj.tolist()):
            if not (basic[a] and basic[b] and rule.within(hh[a]) and rule.within(hh[b])):
                continue
            key = (min(a, b), max(a, b), int(hh[a]), int(hh[b]))
            gain = _spread([hh[a], hh[b]], rule) - _spread([(hh[a] + hh[b]) / 2] * 2, rule)
            if key not in tried and gain > 2 * BALANCE_GAIN:
                pairs.append((-gain, key))
        redrawn: set[int] = set()
        for _, key in sorted(set(pairs)):
            if budget <= 0:
                break
            if key[0] in redrawn or key[1] in redrawn:
                continue  # its households changed: judged again on the next sweep
            budget -= 1
            tried.add(key)
            group = (key[0], key[1])
            result = _redraw(group, 2, geoms, members, households, points, together, rule, frame, reshape, balance=True,
                             footprints=footprints)
            if result is None:
                continue
            if near is not None and followed(*result[0]) < followed(geoms[group[0]], geoms[group[1]]) - ON_LINE_M / _M_PER_UNIT:
                continue
            for j, gi in enumerate(group):
                geoms[gi], members[gi] = result[0][j], result[1][j]
            redrawn.update(group)
            changed = True
    return geoms, members


def _axes(xy: np.ndarray) -> list[np.ndarray]:
    """The set's long axis, the one across it and the two diagonals between (unit vectors)."""
    centred = xy - xy.mean(axis=0)
    if len(xy) < 2 or not np.isfinite(centred).all():
        return [np.array([1.0, 0.0])]
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    a, b = vt[0], np.array([-vt[0][1], vt[0][0]])
    return [a, b, (a + b) / np.sqrt(2), (a - b) / np.sqrt(2)]


def _strips(t: np.ndarray, unit_hh: np.ndarray, k: int) -> np.ndarray:
    """Units in ``k`` runs along ``t`` holding about equal households."""
    order = np.argsort(t, kind="stable")
    cum = np.cumsum(unit_hh[order])
    labels = np.empty(len(t), dtype=np.intp)
    labels[order] = np.minimum((cum - unit_hh[order] / 2) * k // max(cum[-1], 1), k - 1).astype(np.intp)
    return labels


def _connected(labels: np.ndarray, j: int, pi, pj) -> bool:
    """Whether the units labelled ``j`` form one piece."""
    mine = set(np.flatnonzero(labels == j).tolist())
    if not mine:
        return False
    nbrs: dict[int, list[int]] = {u: [] for u in mine}
    for a, b in zip(pi.tolist(), pj.tolist()):
        if a in mine and b in mine:
            nbrs[a].append(b)
            nbrs[b].append(a)
    start = next(iter(mine))
    seen, todo = {start}, [start]
    while todo:
        for w in nbrs[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return len(seen) == len(mine)


def _split_largest(labels: np.ndarray, unit_hh: np.ndarray, pi, pj, n: int) -> np.ndarray:
    """Labels with a new grid ``n`` grown inside the grid of most households, from its unit with fewest
    neighbours in it, until it holds about half of that grid's households."""
    sums = np.bincount(labels, weights=unit_hh, minlength=n)
    big = int(np.argmax(sums))
    mine = set(np.flatnonzero(labels == big).tolist())
    nbrs: dict[int, list[int]] = {u: [] for u in mine}
    for a, b in zip(pi.tolist(), pj.tolist()):
        if a in mine and b in mine:
            nbrs[a].append(b)
            nbrs[b].append(a)
    seed = min(mine, key=lambda u: (len(nbrs[u]), u))
    labels = labels.copy()
    taken, todo, total = {seed}, [seed], 0.0
    while todo and total < sums[big] / 2:
        u = todo.pop(0)
        labels[u] = n
        total += unit_hh[u]
        for w in nbrs[u]:
            if w not in taken:
                taken.add(w)
                todo.append(w)
    return labels


def _dissolve_smallest(labels: np.ndarray, unit_hh: np.ndarray, pi, pj, n: int) -> np.ndarray | None:
    """Labels with the grid of fewest households given away unit by unit to the grids its units touch
    (each unit to the neighbouring grid it shares most boundary with), the others renumbered 0..n-2."""
    sums = np.bincount(labels, weights=unit_hh, minlength=n)
    gone = int(np.argmin(sums))
    labels = labels.copy()
    for _ in range(len(labels)):
        left = np.flatnonzero(labels == gone)
        if len(left) == 0:
            break
        moved = False
        for u in left.tolist():
            touch: dict[int, int] = {}
            for a, b in zip(pi.tolist(), pj.tolist()):
                if a == u and labels[b] != gone:
                    touch[int(labels[b])] = touch.get(int(labels[b]), 0) + 1
                elif b == u and labels[a] != gone:
                    touch[int(labels[a])] = touch.get(int(labels[a]), 0) + 1
            if touch:
                labels[u] = max(touch.items(), key=lambda kv: (kv[1], -kv[0]))[0]
                moved = True
        if not moved:
            return None
    keep = [g for g in range(n) if g != gone]
    remap = {g: j for j, g in enumerate(keep)}
    return np.array([remap[int(x)] for x in labels], dtype=np.intp)


def _samples(unit_pt: np.ndarray, unit_fp: np.ndarray | None, frame: LocalFrame) -> tuple[np.ndarray, np.ndarray]:
    """Seeds of the units' cells in the local frame and the unit of each: a unit with a footprint is seeded
    every :data:`SAMPLE_STEP_M` along its outline drawn :data:`SHRINK_M` inside (so that two buildings
    sharing a wall do not seed the same line; a footprint too thin for that is seeded on its outline), with
    at most :data:`MAX_SAMPLES` seeds a footprint; every unit is also seeded at its point."""
    local = frame.to_local(unit_pt)
    if unit_fp is None:
        return local, np.arange(len(local), dtype=np.intp)
    poly = np.flatnonzero(shapely.get_dimensions(unit_fp) == 2)
    xy, owner = [local], [np.arange(len(local), dtype=np.intp)]
    if len(poly):
        shape = shapely.transform(unit_fp[poly], frame.to_local)
        inner = shapely.buffer(shape, -SHRINK_M / _M_PER_UNIT, join_style="mitre")
        shape = np.where(shapely.is_empty(inner) | (shapely.area(inner) < 0.25 * shapely.area(shape)), shape, inner)
        outline = shapely.boundary(shape)
        step = np.maximum(shapely.length(outline) / MAX_SAMPLES, SAMPLE_STEP_M / _M_PER_UNIT)
        pts, which = shapely.get_coordinates(shapely.segmentize(outline, step), return_index=True)
        xy.append(pts)
        owner.append(poly[which])
    xy, owner = np.concatenate(xy), np.concatenate(owner)
    _, first = np.unique(np.round(xy, 12), axis=0, return_index=True)
    first = np.sort(first)
    return xy[first], owner[first]


def _cells(unit_pt: np.ndarray, union, frame: LocalFrame, unit_fp: np.ndarray | None = None):
    """Faces of the units' cells inside ``union`` and the unit each face belongs to.

    A unit's cell is the part of the set nearer its footprint than any other's (the Voronoi cells of seeds
    along the outlines, dissolved per unit: momepy's morphological tessellation), or nearer its point where
    it has no footprint. Cells of points alone cut through large footprints: a tower's cell left part of it
    in its neighbour's, the shaping around buildings then handed it over whole, and a redraw that met the
    bounds on paper lost them (Shenzhen Nanshan 440305001018: 30 redraws). The cells are drawn in the local
    frame, where distances are metres up to scale, and noded together with the union's outline, so they form
    one clean coverage of it; a cell the outline cuts in pieces is several faces of one unit."""
    seeds, seed_unit = _samples(unit_pt, unit_fp, frame)
    outline = shapely.transform(union, frame.to_local)
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline, ordered=True)
    polys = shapely.get_parts(diagram)
    if len(polys) != len(seeds):
        return None
    if len(seeds) > len(unit_pt):
        order = np.argsort(seed_unit, kind="stable")
        bounds = np.searchsorted(seed_unit[order], np.arange(len(unit_pt) + 1))
        try:
            polys = np.array([shapely.coverage_union_all(polys[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])],
                             dtype=object)
        except shapely.errors.GEOSException:
            return None
    edges = shapely.transform(shapely.boundary(polys), frame.to_lonlat)
    faces = polygon_faces(union, edges)
    if len(faces) == 0:
        return None
    owner = shapely.STRtree(shapely.transform(polys, frame.to_lonlat)).query(interior_points(faces), predicate="within")
    unit = np.full(len(faces), -1, dtype=np.intp)
    unit[owner[0][::-1]] = owner[1][::-1]
    if (unit < 0).any():
        return None
    return faces, unit


def _search(start: np.ndarray, unit_hh: np.ndarray, pi, pj, length, k: int, rule: SizeRule, *, squared: bool = False) -> np.ndarray:
    """Units relabelled by hill climbing: move one unit on a boundary to a neighbouring grid (or, when no
    single move helps, one unit each way between two grids: a swap) while that leaves fewer grids out of
    bounds, then less excess, then a shorter boundary between grids; every grid stays in one piece."""
    labels = start.copy()
    n = len(labels)
    nbrs: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for a, b, ln in zip(pi.tolist(), pj.tolist(), length.tolist()):
        nbrs[a].append((b, ln))
        nbrs[b].append((a, ln))
    sums = np.bincount(labels, weights=unit_hh, minlength=k)

    def badness(s):
        # Out of bounds first, then by how much, then how far from the target: a grid left exactly on a
        # bound is one small building away from leaving it once footprints are shaped.
        over = np.maximum(s - rule.max_households, 0) + np.maximum(rule.min_households - s, 0)
        off = (s - rule.target) ** 2 if squared else np.abs(s - rule.target)
        return int((over > 0).sum()), float(over.sum()), float(off.sum())

    def gain(u, a, b):
        # Boundary change when u goes from a to b: its edges to b stop being boundary, those to a start.
        return sum(ln for w, ln in nbrs[u] if labels[w] == b) - sum(ln for w, ln in nbrs[u] if labels[w] == a)

    def moves():
        for u in range(n):
            a = labels[u]
            for b in sorted({labels[v] for v, _ in nbrs[u]} - {a}):
                yield u, int(a), int(b)

    for _ in range(MAX_MOVES):
        now = badness(sums)
        best = None
        for u, a, b in moves():
            s = sums.copy()
            s[a] -= unit_hh[u]
            s[b] += unit_hh[u]
            new = badness(s)
            key = (*new, -gain(u, a, b))
            # Towards the target only by whole households: ties in a float sum are no progress.
            if new[:2] > now[:2] or new[:2] == now[:2] and new[2] > now[2] - 0.5:
                continue
            if best is not None and key >= best[0]:
                continue
            if _stays_connected(labels, u, a, nbrs):
                best = (key, [(u, b)])
        if best is None and now[0] > 0:
            # A swap: u from a to b and v from b to a, judged together.
            for u, a, b in moves():
                if not _stays_connected(labels, u, a, nbrs):
                    continue
                labels[u] = b
                for v in np.flatnonzero(labels == b).tolist():
                    if v == u or a not in {labels[w] for w, _ in nbrs[v]}:
                        continue
                    s = sums.copy()
                    s[a] += unit_hh[v] - unit_hh[u]
                    s[b] += unit_hh[u] - unit_hh[v]
                    new = badness(s)
                    key = (*new, 0.0)
                    if new[:2] > now[:2] or new[:2] == now[:2] and new[2] > now[2] - 0.5:
                        continue
                    if best is not None and key >= best[0]:
                        continue
                    if _stays_connected(labels, v, b, nbrs):
                        best = (key, [(u, b), (v, a)])
                labels[u] = a
        if best is None:
            break
        for u, b in best[1]:
            sums[labels[u]] -= unit_hh[u]
            sums[b] += unit_hh[u]
            labels[u] = b
    return labels


def _unit_graph(cells: np.ndarray, cell_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of units whose faces share an edge, and the length they share: units are neighbours where
    their faces are."""
    fi, fj, flen = shared_edges(cells)
    ui, uj = cell_unit[fi], cell_unit[fj]
    other = ui != uj
    pairs: dict[tuple[int, int], float] = {}
    for a, b, ln in zip(np.minimum(ui, uj)[other].tolist(), np.maximum(ui, uj)[other].tolist(), flen[other].tolist()):
        pairs[(a, b)] = pairs.get((a, b), 0.0) + ln
    pi = np.array([a for a, _ in pairs], dtype=np.intp)
    pj = np.array([b for _, b in pairs], dtype=np.intp)
    return pi, pj, np.array(list(pairs.values()))


def _open_land(unit_pt: np.ndarray, union, frame: LocalFrame, unit_fp: np.ndarray | None = None):
    """The units' cells (as :func:`_cells`) with the land far from every building split off as units of no
    households, numbered after the buildings' (seeds on a lattice of about :data:`OPEN_SEEDS` points over the
    set, kept where the nearest building is more than half a lattice step away). None when there is no
    such land or the cells cannot be drawn."""
    local = frame.to_local(unit_pt)
    outline = shapely.transform(union, frame.to_local)
    x0, y0, x1, y1 = shapely.bounds(outline)
    step = max(np.sqrt((x1 - x0) * (y1 - y0) / OPEN_SEEDS), OPEN_STEP_M / _M_PER_UNIT)
    gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
    lattice = np.column_stack([gx.ravel(), gy.ravel()])
    lattice = lattice[shapely.contains_xy(outline, lattice[:, 0], lattice[:, 1])]
    if len(lattice):
        far = shapely.STRtree(shapely.points(local)).query_nearest(shapely.points(lattice), return_distance=True,
                                                                    all_matches=False)
        lattice = lattice[far[0][0][far[1] > step / 2]]
    if len(lattice) == 0:
        return None
    if unit_fp is not None:
        unit_fp = np.concatenate([unit_fp, np.array([shapely.Point()] * len(lattice), dtype=object)])
    return _cells(np.concatenate([unit_pt, frame.to_lonlat(lattice)]), union, frame, unit_fp)


def _exact(unit_hh: np.ndarray, pi, pj, length, k: int, rule: SizeRule, *, n_units: int | None = None) -> np.ndarray | None:
    """Labels for ``n_units`` units (the first ``len(unit_hh)`` hold buildings, the rest open land of no
    households) giving ``k`` grids all within bounds and each in one piece, found by trying every way to
    give the buildings to the grids, nearest the target first, and joining each grid's pieces through open
    land; of the first :data:`EXACT_KEEP` that can be joined, the one with the shortest boundary between
    grids. None if there is none.

    The hill climb needs each step to help, and a set such as 243 | 426 households (31 + 98 + 114 beside a
    tower of 298 and five small houses past it) is within bounds only after steps that each leave it no
    better, or only through land the tower's cell holds. Small sets (``k`` ** buildings up to
    :data:`EXACT_LABELINGS`) are therefore searched whole."""
    nb = len(unit_hh)
    n_units = nb if n_units is None else n_units
    # Every labelling of the buildings with the grid of unit 0 fixed at 0 (the others are renumberings).
    codes = np.arange(k ** (nb - 1), dtype=np.int64)
    labels = np.zeros((len(codes), nb), dtype=np.intp)
    for u in range(1, nb):
        labels[:, u] = codes % k
        codes //= k
    sums = np.stack([(labels == j) @ unit_hh for j in range(k)], axis=1)
    ok = ((sums >= rule.min_households) & (sums <= rule.max_households)).all(axis=1)
    if not ok.any():
        return None
    labels, sums = labels[ok], sums[ok]
    nbrs: list[list[int]] = [[] for _ in range(n_units)]
    for a, b in zip(pi.tolist(), pj.tolist()):
        nbrs[a].append(b)
        nbrs[b].append(a)
    found = []
    for row in np.argsort(np.abs(sums - rule.target).sum(axis=1), kind="stable")[:EXACT_TRIES].tolist():
        full = _joined(labels[row], n_units, nbrs, k)
        if full is not None:
            found.append(full)
            if len(found) >= EXACT_KEEP:
                break
    if not found:
        return None
    return min(found, key=lambda f: float(((f[pi] != f[pj]) * length).sum()))


def _joined(building_labels: np.ndarray, n_units: int, nbrs: list[list[int]], k: int) -> np.ndarray | None:
    """Full labels with the open land (the units past the buildings) claimed so that each grid is one piece:
    each grid in turn (first to last, and if that fails last to first) claims the unclaimed land on the
    shortest paths joining its buildings; what is left goes to a neighbouring grid. None if a grid cannot be
    joined."""
    for order in (range(k), range(k - 1, -1, -1)):
        labels = np.full(n_units, -1, dtype=np.intp)
        labels[: len(building_labels)] = building_labels
        for j in order:
            mine = np.flatnonzero(labels == j).tolist()
            # Breadth first from one of its units, through its own units and unclaimed land.
            came = {mine[0]: -1}
            todo = [mine[0]]
            for x in todo:
                for w in nbrs[x]:
                    if w not in came and labels[w] in (j, -1):
                        came[w] = x
                        todo.append(w)
            if any(u not in came for u in mine):
                break
            for u in mine:
                x = came[u]
                while x != -1 and labels[x] == -1:
                    labels[x] = j
                    x = came[x]
        else:
            if _claim_rest(labels, nbrs):
                return labels
    return None


def _claim_rest(labels: np.ndarray, nbrs: list[list[int]]) -> bool:
    """Unclaimed land (label -1) given to a neighbouring grid, in place, spreading from the grids; False if
    some is reachable from none."""
    free = np.flatnonzero(labels == -1).tolist()
    while free:
        left = []
        for u in free:
            taken = next((int(labels[w]) for w in nbrs[u] if labels[w] >= 0), -1)
            if taken >= 0:
                labels[u] = taken
            else:
                left.append(u)
        if len(left) == len(free):
            return False
        free = left
    return True


def _stays_connected(labels: np.ndarray, u: int, a: int, nbrs) -> bool:
    """Whether grid ``a`` is still one piece (and not empty) without unit ``u``."""
    rest = [x for x in np.flatnonzero(labels == a).tolist() if x != u]
    if not rest:
        return False
    seen = {rest[0]}
    todo = [rest[0]]
    while todo:
        x = todo.pop()
        for w, _ in nbrs[x]:
            if w != u and labels[w] == a and w not in seen:
                seen.add(w)
                todo.append(w)
    return len(seen) == len(rest)
