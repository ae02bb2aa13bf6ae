"""Dividing one community into grids: blocks from roads and rivers, dedicated areas, bisection, merging,
then shaping the grids around buildings and checking the result is one clean coverage of the community."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from shapely import STRtree

from gis.coverage import interior_points, largest_pieces, locate_points, overlap_groups, polygon_faces, shared_edges
from gridplanner.planning.bisect import Buildings, LocalFrame, bisect, bisection_cuts
from gridplanner.planning.grouping import merge_small_cells
from gridplanner.planning.rebalance import balance, rebalance
from gridplanner.planning.rules import SizeRule

BASIC, DEDICATED = "basic", "dedicated"
_BISECTION_ROUNDS = 4
_REBALANCE_ROUNDS = 12
_MAX_REDRAWS = 30  # per community: redraws cost a re-noding each


@dataclass
class CommunityInput:
    """One community's geometry and what lies in it (lon/lat); building arrays are aligned."""

    region: object
    footprints: np.ndarray
    points: np.ndarray
    households: np.ndarray
    lines: np.ndarray
    dedicated: list = field(default_factory=list)  # [(polygon, kind)]
    together: np.ndarray | None = None  # set by plan_community: see _overlap_groups


@dataclass
class Grid:
    geometry: object
    type: str
    members: np.ndarray  # indices into the community's buildings
    households: int
    dedicated_kind: str | None = None
    reason: str | None = None


def _locate(points: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the face holding each point (the lowest on shared edges; nearest when in none: the faces are a
    coverage of the community, so only floating-point noise leaves a point in none)."""
    return locate_points(points, polygons, nearest=True)


def _overlap_groups(footprints: np.ndarray) -> np.ndarray:
    """For each building, the lowest index among the buildings its footprint overlaps (transitively): they
    travel together (:func:`gis.coverage.overlap_groups`)."""
    return overlap_groups(footprints)


def _place(data: "CommunityInput", polygons: np.ndarray) -> np.ndarray:
    """The polygon holding each building: where its representative point lies, or where the building it
    overlaps (the lowest-numbered of a group of overlapping ones) lies."""
    where = _locate(data.points, polygons)
    return where[data.together] if len(where) else where


def _dedicated_parts(region, dedicated: list) -> list:
    parts, taken = [], None
    tiny = region.area * 1e-9
    for geom, kind in dedicated:
        piece = shapely.intersection(geom, region)
        if taken is not None:
            piece = shapely.difference(piece, taken)
        for part in shapely.get_parts(piece):
            if shapely.get_type_id(part) == 3 and part.area > tiny:
                parts.append((part, kind))
        taken = piece if taken is None else shapely.union(taken, piece)
    return parts


def _components(members: list[int], nbrs: dict[int, list[int]], allowed: set[int]) -> list[list[int]]:
    seen, comps = set(), []
    for start in members:
        if start in seen:
            continue
        comp, todo = [], [start]
        seen.add(start)
        while todo:
            f = todo.pop()
            comp.append(f)
            for o in nbrs.get(f, ()):
                if o in allowed and o not in seen:
                    seen.add(o)
                    todo.append(o)
        comps.append(sorted(comp))
    return comps


def _group_sizes(labels, cell_hh, cell_ded):
    sizes: dict[int, float] = {}
    basic: dict[int, bool] = {}
    for lab, h, d in zip(labels.tolist(), cell_hh.tolist(), cell_ded.tolist()):
        sizes[lab] = sizes.get(lab, 0.0) + h
        basic[lab] = d < 0
    return sizes, basic


def _balance(labels, cell_hh, cell_ded, rule: SizeRule) -> int:
    """Basic grids within bounds minus those outside: what a redraw must improve."""
    sizes, basic = _group_sizes(labels, cell_hh, cell_ded)
    return sum(1 if rule.within(h) else -1 for g, h in sizes.items() if basic[g] and h > 0)


def _stuck_pairs(labels, cell_hh, cell_ded, pi, pj, length, rule: SizeRule, most: int = 4) -> list[tuple[int, ...]]:
    """Sets of neighbouring grids, each around a grid below the minimum that no neighbour can take, whose
    households together can make grids within bounds (up to ``most`` grids); smallest grid first, then
    growing sets around it."""
    sizes, basic = _group_sizes(labels, cell_hh, cell_ded)
    shared: dict[int, dict[int, float]] = {}
    for a, b, ln in zip(labels[pi].tolist(), labels[pj].tolist(), length.tolist()):
        if a != b and basic[a] and basic[b]:
            shared.setdefault(a, {})[b] = shared.setdefault(a, {}).get(b, 0.0) + ln
            shared.setdefault(b, {})[a] = shared.setdefault(b, {}).get(a, 0.0) + ln
    used, sets = set(), []
    small = sorted((h, g) for g, h in sizes.items() if basic[g] and 0 < h < rule.min_households)
    for h, g in small:
        if g in used:
            continue
        members, total = [g], h
        while len(members) < most:
            touch: dict[int, float] = {}
            for m in members:
                for n, ln in shared.get(m, {}).items():
                    if n not in members and n not in used:
                        touch[n] = touch.get(n, 0.0) + ln
            if not touch:
                break
            n = max(touch.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            members.append(n)
            total += sizes[n]
            k = rule.grid_count(total)
            if total > rule.max_households and k * rule.min_households <= total <= k * rule.max_households:
                # Smaller sets first; a larger one is a fallback when redrawing the smaller fails.
                sets.append(tuple(members))
    return sets


def _pair_key(pair, labels, cell_hh) -> tuple:
    """What identifies a pair across relabelling: its grids' households and lowest cells."""
    return tuple(sorted((int(cell_hh[labels == g].sum()), int(np.flatnonzero(labels == g)[0])) for g in pair))


def _redraw(pair, region, data, rule, frame, blds, base_lines, cuts, cells, cell_ded, labels, bld_face):
    """Two neighbouring grids redrawn by bisecting their union; the whole community's new state, or None."""
    mask = np.isin(labels, pair)
    union = shapely.coverage_union_all(cells[mask])
    # The parts become grids as they are: a side left in pieces would only make small grids.
    new_cuts, leaves = bisect(union, np.flatnonzero(mask[bld_face]), blds, frame, rule, whole_sides=True)
    if not new_cuts:
        return None
    leaves = np.array(leaves, dtype=object)
    new_cells = polygon_faces(region, base_lines + cuts + new_cuts)
    reps = interior_points(new_cells)
    old = _locate(reps, cells)
    new_labels = labels[old].copy()
    inside = np.isin(new_labels, pair)
    new_labels[inside] = int(labels.max()) + 1 + _locate(reps[inside], leaves)
    new_ded = cell_ded[old]
    edges = shared_edges(new_cells)
    new_labels = _connected_labels(new_labels, edges[0], edges[1])
    new_face = _place(data, new_cells)
    new_hh = np.bincount(new_face, weights=data.households, minlength=len(new_cells))
    new_labels = merge_small_cells(new_hh, *edges, new_ded < 0, rule, new_labels)
    return new_cells, new_ded, cuts + new_cuts, new_labels, new_hh, new_face, edges


def _length_on_lines(cells, pi, pj, lines) -> np.ndarray:
    """Per neighbouring pair, the length of their shared boundary that follows one of ``lines`` (the cells
    were noded with them, so such edges coincide with the lines up to rounding)."""
    out = np.zeros(len(pi))
    if len(pi) == 0 or len(lines) == 0:
        return out
    shared = shapely.intersection(shapely.boundary(cells[pi]), shapely.boundary(cells[pj]))
    parts, owner = shapely.get_parts(shared, return_index=True)
    is_line = shapely.get_dimensions(parts) == 1
    parts, owner = parts[is_line], owner[is_line]
    if len(parts) == 0:
        return out
    mids = shapely.line_interpolate_point(parts, 0.5, normalized=True)
    near, _ = STRtree(lines).query(mids, predicate="dwithin", distance=_ON_LINE)
    hit = np.zeros(len(parts), dtype=bool)
    hit[near] = True
    np.add.at(out, owner[hit], shapely.length(parts[hit]))
    return out


# Degrees (~1 mm): an edge noded from a line lies on it up to rounding.
_ON_LINE = 1e-8


def _connected_labels(labels, pi, pj) -> np.ndarray:
    """Split every label into its edge-connected parts (each part labelled by its lowest cell)."""
    n = len(labels)
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(pi.tolist(), pj.tolist()):
        if labels[a] == labels[b]:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)], dtype=np.intp)


def _single_parts(faces: np.ndarray, face_group: np.ndarray, face_weight: np.ndarray) -> np.ndarray:
    """Reassign faces so that every group is edge-connected: stray pieces join the neighbour they share most
    boundary with (or become groups of their own when they have none)."""
    pi, pj, length = shared_edges(faces)
    nbrs: dict[int, list[int]] = {}
    edge_len: dict[tuple[int, int], float] = {}
    for a, b, ln in zip(pi.tolist(), pj.tolist(), length.tolist()):
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
        edge_len[(a, b)] = edge_len[(b, a)] = ln
    face_group = face_group.copy()
    area = shapely.area(faces)
    next_id = int(face_group.max()) + 1 if len(face_group) else 0
    for _ in range(10):
        changed = False
        for g in np.unique(face_group).tolist():
            members = np.flatnonzero(face_group == g).tolist()
            comps = _components(members, nbrs, set(members))
            if len(comps) < 2:
                continue
            comps.sort(key=lambda c: (-face_weight[c].sum(), -area[c].sum(), c[0]))
            for comp in comps[1:]:
                touch: dict[int, float] = {}
                for f in comp:
                    for o in nbrs.get(f, ()):
                        og = int(face_group[o])
                        if og != g:
                            touch[og] = touch.get(og, 0.0) + edge_len[(f, o)]
                if touch:
                    target = max(touch.items(), key=lambda kv: (kv[1], -kv[0]))[0]
                else:
                    target, next_id = next_id, next_id + 1
                face_group[comp] = target
                changed = True
        if not changed:
            break
    return face_group


def plan_community(data: CommunityInput, rule: SizeRule, frame: LocalFrame, *, blocks_only: bool = False) -> list[Grid]:
    """The grids of one community, in no particular order (callers sort them).

    ``blocks_only`` leaves out the cuts between buildings and the redraws: grids are the blocks that roads,
    rivers and dedicated areas make, small ones joined (a plainer plan, used when the full one fails)."""
    region = data.region
    n_bld = len(data.households)
    data.together = _overlap_groups(data.footprints)
    ded = _dedicated_parts(region, data.dedicated)
    ded_geoms = np.array([g for g, _ in ded], dtype=object)
    base_lines = list(data.lines) + list(shapely.boundary(ded_geoms)) if len(ded) else list(data.lines)

    faces = polygon_faces(region, base_lines)
    face_ded = _locate(interior_points(faces), ded_geoms) if len(ded) else np.full(len(faces), -1)
    if len(ded):
        # _locate falls back to the nearest area; only faces truly inside one are dedicated.
        inside = face_ded >= 0
        inside[inside] = shapely.contains(ded_geoms[face_ded[inside]], interior_points(faces[inside]))
        face_ded[~inside] = -1
    # Bisect every basic cell above the maximum, then re-node everything; repeat on whatever a cut failed to
    # split (a concave or holed block can leave one), a few rounds at most.
    blds = Buildings.from_geometry(frame, data.footprints, data.points, data.households) if n_bld else None
    cells, cell_ded, cuts = faces, face_ded, []
    for _ in range(0 if blocks_only else _BISECTION_ROUNDS):
        bld_face = _place(data, cells)
        cell_hh = np.bincount(bld_face, weights=data.households, minlength=len(cells)) if n_bld else np.zeros(len(cells))
        cell_n = np.bincount(bld_face, minlength=len(cells)) if n_bld else np.zeros(len(cells))
        big = np.flatnonzero((cell_ded < 0) & (cell_hh > rule.max_households) & (cell_n > 1))
        new = []
        for f in big.tolist():
            new += bisection_cuts(cells[f], np.flatnonzero(bld_face == f), blds, frame, rule)
        if not new:
            break
        cuts += new
        cells = polygon_faces(region, base_lines + cuts)
        cell_ded = face_ded[_locate(interior_points(cells), faces)]
    bld_face = _place(data, cells)
    cell_hh = np.bincount(bld_face, weights=data.households, minlength=len(cells)) if n_bld else np.zeros(len(cells))

    initial = np.arange(len(cells))
    for d in np.unique(cell_ded[cell_ded >= 0]):
        mine = np.flatnonzero(cell_ded == d)
        initial[mine] = mine.min()
    pi, pj, length = shared_edges(cells)
    labels = merge_small_cells(cell_hh, pi, pj, length, cell_ded < 0, rule, initial,
                               on_lines=_length_on_lines(cells, pi, pj, data.lines))

    # A small grid whose neighbours are all too full to take it: redraw it together with a neighbour as
    # two or more grids (bisection of their union), keeping the redraw only when it leaves more grids in bounds.
    tried: set[tuple] = set()
    attempts = 0
    for _ in range(_REBALANCE_ROUNDS if n_bld and not blocks_only else 0):
        pairs = [p for p in _stuck_pairs(labels, cell_hh, cell_ded, pi, pj, length, rule) if _pair_key(p, labels, cell_hh) not in tried]
        if not pairs or attempts >= _MAX_REDRAWS:
            break
        for pair in pairs[: _MAX_REDRAWS - attempts]:
            attempts += 1
            tried.add(_pair_key(pair, labels, cell_hh))
            state = _redraw(pair, region, data, rule, frame, blds, base_lines, cuts, cells, cell_ded, labels, bld_face)
            if state is not None and _balance(state[3], state[4], state[1], rule) > _balance(labels, cell_hh, cell_ded, rule):
                cells, cell_ded, cuts, labels, cell_hh, bld_face, (pi, pj, length) = state
                break  # labels changed: recompute the pairs

    bld_group = labels[bld_face] if n_bld else np.zeros(0, dtype=np.intp)
    cell_labels, faces_out = labels, cells
    straddling = _straddlers(data.footprints, bld_group, cells, labels)
    if len(straddling):
        faces_out, cell_labels = _shape_around(region, data.footprints, data.together, bld_group, straddling, cells, labels)
        face_weight = np.zeros(len(faces_out))
        if n_bld:
            bf = _place(data, faces_out)
            face_weight = np.bincount(bf, weights=data.households + 1, minlength=len(faces_out))
        cell_labels = _single_parts(faces_out, cell_labels, face_weight)

    grids = _grids_of(data, faces_out, cell_labels, cells, cell_ded, labels, ded)
    if n_bld and not blocks_only:
        grids = _rebalanced(grids, data, rule, frame)
    return grids


def _grids_of(data: CommunityInput, faces_out, cell_labels, cells, cell_ded, labels, ded) -> list[Grid]:
    """One grid per label of the final faces, with its buildings and dedicated kind."""
    n_bld = len(data.households)
    grids = []
    bld_final = cell_labels[_place(data, faces_out)] if n_bld else np.zeros(0, dtype=np.intp)
    group_ded = {}
    for c in range(len(cells)):
        if cell_ded[c] >= 0:
            group_ded[int(labels[c])] = int(cell_ded[c])
    for g in np.unique(cell_labels).tolist():
        geom = shapely.coverage_union_all(faces_out[cell_labels == g])
        if shapely.get_type_id(geom) == 6 and len(shapely.get_parts(geom)) == 1:
            geom = shapely.get_parts(geom)[0]
        members = np.flatnonzero(bld_final == g)
        d = group_ded.get(g)
        grids.append(
            Grid(
                geometry=geom,
                type=DEDICATED if d is not None else BASIC,
                members=members,
                households=int(data.households[members].sum()),
                dedicated_kind=None if d is None else ded[d][1],
            )
        )
    return grids


def _rebalanced(grids: list[Grid], data: CommunityInput, rule: SizeRule, frame: LocalFrame) -> list[Grid]:
    """Grids outside the size rule redrawn with neighbours, building by building (see ``rebalance``)."""
    basic = np.array([g.type == BASIC for g in grids], dtype=bool)
    geoms, members = rebalance_grids([g.geometry for g in grids], basic, [g.members for g in grids], data, rule, frame, even=True)
    # A grid a redraw merged into its neighbours is gone; one a redraw added is basic.
    out = [replace(g, geometry=geoms[k], members=members[k], households=int(data.households[members[k]].sum()))
           for k, g in enumerate(grids) if geoms[k] is not None]
    out += [Grid(geometry=geoms[k], type=BASIC, members=members[k], households=int(data.households[members[k]].sum()))
            for k in range(len(grids), len(geoms))]
    return out


def rebalance_grids(geoms: list, basic: np.ndarray, members: list[np.ndarray], data: CommunityInput, rule: SizeRule,
                    frame: LocalFrame, *, even: bool = False) -> tuple[list, list[np.ndarray]]:
    """:func:`gridplanner.planning.rebalance.rebalance` with the engine's shaping around buildings: one
    community's grids (in any CRS ``frame`` maps to a local plane) and their buildings (``members``).

    ``even``: then :func:`gridplanner.planning.rebalance.balance` (pairs within bounds but far apart redrawn
    nearer the target). The division engine asks for it; the merge does not, since its grids keep the
    departments' lines wherever the size rule allows."""
    if data.together is None:
        data.together = _overlap_groups(data.footprints)

    def reshape(union, cells, cell_group, idx, building_group):
        # The set's buildings as a community of their own: overlap groups and shaping as the engine does.
        position = {int(b): k for k, b in enumerate(idx.tolist())}
        # Only what lies in the set counts (a footprint across the community line is cut by that line).
        footprints = data.footprints[idx].copy()
        poly = np.flatnonzero(shapely.get_dimensions(footprints) == 2)
        out = poly[~shapely.covered_by(footprints[poly], union)]
        if len(out):
            footprints[out] = largest_pieces(shapely.intersection(footprints[out], union))
        sub = CommunityInput(region=union, footprints=footprints, points=data.points[idx],
                             households=data.households[idx], lines=np.zeros(0, dtype=object))
        sub.together = np.array([position.get(int(data.together[b]), k) for k, b in enumerate(idx.tolist())], dtype=np.intp)
        faces, face_group = cells, cell_group
        straddling = _straddlers(sub.footprints, building_group, cells, cell_group)
        if len(straddling):
            faces, face_group = _shape_around(union, sub.footprints, sub.together, building_group, straddling, cells, cell_group)
            weight = np.bincount(_place(sub, faces), weights=sub.households + 1, minlength=len(faces))
            face_group = _single_parts(faces, face_group, weight)
        final = face_group[_place(sub, faces)]
        if len(_straddlers(sub.footprints, final, faces, face_group)):
            return None
        return faces, face_group, final

    hh = np.array([int(data.households[m].sum()) for m in members])
    geoms, members = list(geoms), list(members)
    if not all(rule.within(h) for h, b in zip(hh, basic) if b):
        geoms, members = rebalance(geoms, basic, members, data.households, data.points, data.together, rule, frame, reshape,
                                   footprints=data.footprints)
    if even:
        # Grids the rebalance merged away are None; those it added (beyond ``basic``) are basic.
        alive = [k for k, g in enumerate(geoms) if g is not None]
        more = np.r_[basic, np.ones(len(geoms) - len(basic), dtype=bool)]
        sub_g, sub_m = balance([geoms[k] for k in alive], more[alive], [members[k] for k in alive], data.households,
                               data.points, data.together, rule, frame, reshape, lines=data.lines,
                               footprints=data.footprints)
        for j, k in enumerate(alive):
            geoms[k], members[k] = sub_g[j], sub_m[j]
    return geoms, members


def _straddlers(footprints, bld_group, cells, labels) -> np.ndarray:
    """Polygon buildings not wholly inside the cells of their group."""
    if len(footprints) == 0:
        return np.zeros(0, dtype=np.intp)
    poly = np.isin(shapely.get_type_id(footprints), (3, 6))
    idx = np.flatnonzero(poly)
    if len(idx) == 0:
        return idx
    # Cheap test first: footprints inside one cell of their own group are inside their group.
    cell_tree = STRtree(cells)
    b, c = cell_tree.query(footprints[idx], predicate="covered_by")
    own = labels[c] == bld_group[idx[b]]
    inside = np.zeros(len(idx), dtype=bool)
    inside[b[own]] = True
    rest = idx[~inside]
    if len(rest) == 0:
        return rest
    out = []
    for i in rest.tolist():
        group_geom = shapely.coverage_union_all(cells[labels == bld_group[i]])
        outside = shapely.difference(footprints[i], group_geom).area
        if outside > 1e-7 * footprints[i].area:
            out.append(i)
    return np.array(out, dtype=np.intp)


def _shape_around(region, footprints, together, bld_group, straddling, cells, labels):
    """Move grid boundaries around buildings they cross: each such building takes its footprint (within the
    community) into its own grid, together with the footprints overlapping it (one claim per group of
    overlapping buildings: claimed one by one, a small building overlapping a neighbour could be left joined
    to its grid only at a point, and then be handed to the next grid without the part it shares). Where
    claims overlap, the lower building index wins. Returns noded faces and their group labels."""
    roots = np.unique(together[straddling])
    claims = []
    for root in roots.tolist():
        members = np.flatnonzero(together == root)
        polys = footprints[members][shapely.get_dimensions(footprints[members]) == 2]
        if len(polys):
            claims.append((root, shapely.union_all(shapely.intersection(polys, region))))
    raw = np.array([c for _, c in claims], dtype=object)
    raw_tree = STRtree(raw)
    pieces, owners = [], []
    for k, (root, piece) in enumerate(claims):
        earlier = raw_tree.query(piece, predicate="intersects")
        earlier = earlier[earlier < k]
        if len(earlier):
            piece = shapely.difference(piece, shapely.union_all(raw[earlier]))
        if piece.is_empty:
            continue
        pieces.append(piece)
        owners.append(int(bld_group[root]))
    pieces = np.array(pieces, dtype=object)
    owners = np.array(owners, dtype=np.intp)
    piece_tree = STRtree(pieces) if len(pieces) else None
    groups = np.unique(labels)
    shaped = []
    for g in groups.tolist():
        geom = shapely.coverage_union_all(cells[labels == g])
        if piece_tree is not None:
            # Only the claims this grid meets can change it: a difference with all of them costs far more.
            near = piece_tree.query(geom, predicate="intersects")
            if len(near):
                geom = shapely.difference(geom, shapely.union_all(pieces[near]))
            own = pieces[owners == g]
            if len(own):
                geom = shapely.union_all([geom, *own])
        shaped.append(geom)
    shaped = np.array(shaped, dtype=object)
    faces = polygon_faces(region, shapely.boundary(shaped))
    reps = interior_points(faces)
    holder = _locate(reps, shaped)
    # Faces that fall in no shaped grid (floating-point slivers) go to the neighbour with most shared edge.
    truly = shapely.contains(shaped[holder], reps) if len(faces) else np.zeros(0, dtype=bool)
    face_group = groups[holder]
    if not truly.all():
        pi, pj, length = shared_edges(faces)
        best: dict[int, tuple[float, int]] = {}
        for a, b, ln in zip(pi.tolist(), pj.tolist(), length.tolist()):
            for f, o in ((a, b), (b, a)):
                if not truly[f] and truly[o] and ln > best.get(f, (-1.0, -1))[0]:
                    best[f] = (ln, o)
        for f, (_, o) in best.items():
            face_group[f] = face_group[o]
    return faces, face_group
