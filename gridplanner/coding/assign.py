"""Assigning grid codes that stay stable across re-plans, with the lineage of every change.

:func:`assign_codes` gives each grid a code by a :class:`~gridplanner.coding.rules.CodingRule`:

1. A grid whose geometry matches a previous grid of the same community and type (IoU ≥ ``iou``,
   measured in a projected CRS) keeps that grid's code. Matching is one-to-one, best IoU first.
2. Every other grid takes a new sequence: in reading order (:mod:`~gridplanner.coding.ordering`), each
   takes one more than the highest sequence ever used in its community and range — previous codes and
   ``retired`` codes both count — so a code once used is never issued again.
3. Previous grids left unmatched are retired. Retired grids and newly coded grids that overlap (by at
   least ``overlap`` of the smaller one's area) are linked, and each linked group becomes one lineage
   event: ``split`` (1 → many), ``merged`` (many → 1), ``redrawn`` (1 → 1 changed beyond the IoU
   threshold, or many → many); a retired grid with no successor is ``retired`` and a new grid with no
   predecessor is ``new``. Matched grids are ``kept``.

Each grid and each previous grid appears in exactly one event; the caller stores them with the plan
version and date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import projected_crs_for
from gis.errors import Problem, VectorInputError
from gridplanner.coding.divisions import CodeError, check_community_code, code_text
from gridplanner.coding.ordering import reading_order
from gridplanner.coding.rules import BASIC, DEFAULT_RULE, CodingRule, decode_code, grid_type

KEPT, NEW, SPLIT, MERGED, REDRAWN, RETIRED = "kept", "new", "split", "merged", "redrawn", "retired"
EVENT_KINDS = (KEPT, NEW, SPLIT, MERGED, REDRAWN, RETIRED)


@dataclass(frozen=True)
class LineageEvent:
    """One change between the previous grids and the new ones: ``from_codes`` → ``to_codes``."""

    kind: str
    from_codes: tuple[str, ...]
    to_codes: tuple[str, ...]
    communities: tuple[str, ...] = ()


@dataclass
class CodingResult:
    """The grids with a ``code`` column, the lineage events, and the codes this run retired."""

    grids: gpd.GeoDataFrame
    events: list[LineageEvent]
    retired: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)

    def events_frame(self, *, plan_version: int | None = None, date: object = None) -> pd.DataFrame:
        """One row per (event, from code, to code) pair; an event with no from (new) or to (retired) code
        has an empty string there, so every event shows up at least once. ``plan_version`` and ``date``,
        when given, fill columns of those names, ready to record."""
        rows = []
        for n, ev in enumerate(self.events):
            for src in ev.from_codes or ("",):
                for dst in ev.to_codes or ("",):
                    rows.append({"event": n, "kind": ev.kind, "from_code": src, "to_code": dst, "communities": ",".join(ev.communities)})
        frame = pd.DataFrame(rows, columns=["event", "kind", "from_code", "to_code", "communities"])
        if plan_version is not None:
            frame["plan_version"] = plan_version
        if date is not None:
            frame["date"] = date
        return frame

    def counts(self) -> dict[str, int]:
        """Number of events of each kind."""
        out = dict.fromkeys(EVENT_KINDS, 0)
        for ev in self.events:
            out[ev.kind] += 1
        return out


def assign_codes(
    grids: gpd.GeoDataFrame,
    rule: CodingRule = DEFAULT_RULE,
    *,
    previous: gpd.GeoDataFrame | None = None,
    retired: Iterable[str] = (),
    iou: float = 0.9,
    overlap: float = 0.1,
    community_field: str = "community_code",
    type_field: str = "type",
    code_field: str = "code",
    row_height: float | None = None,
    source: str = "grids",
    previous_source: str = "previous grids",
) -> CodingResult:
    """Code ``grids`` (polygons with ``community_field`` and optional ``type_field``) by ``rule``.

    ``previous`` holds the grids in use, with their codes in ``code_field`` (community and type are read
    from its columns when present, else from the codes); ``retired`` lists every code retired before.
    Bad input raises :class:`~gis.errors.VectorInputError` listing every problem; a community that runs
    out of sequence numbers raises :class:`~gridplanner.coding.divisions.CodeError`.
    """
    if not 0 < iou <= 1:
        raise ValueError(f"iou must be in (0, 1], got {iou}")
    if grids.crs is None:
        raise VectorInputError(source, "has no CRS")
    retired = tuple(str(c).strip() for c in retired)
    communities, kinds = _read_grids(grids, community_field, type_field, source)
    metric = projected_crs_for(grids)
    geoms = grids.geometry.to_crs(metric).values
    prev = _read_previous(previous, rule, set(retired), community_field, type_field, code_field, previous_source)
    prev_geoms = prev.geometry.to_crs(metric).values if len(prev) else np.empty(0, dtype=object)

    pairs, inter = _overlaps(geoms, prev_geoms)
    areas, prev_areas = shapely.area(geoms), shapely.area(prev_geoms)
    codes: list[str | None] = [None] * len(grids)
    matched_prev: dict[int, int] = {}  # new grid -> previous grid
    if len(pairs):
        union = areas[pairs[:, 0]] + prev_areas[pairs[:, 1]] - inter
        score = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        same = (communities[pairs[:, 0]] == prev["_community"].to_numpy()[pairs[:, 1]]) & (
            kinds[pairs[:, 0]] == prev["_kind"].to_numpy()[pairs[:, 1]]
        )
        taken_prev: set[int] = set()
        for k in np.argsort(-score, kind="stable"):
            i, j = int(pairs[k, 0]), int(pairs[k, 1])
            if score[k] < iou:
                break
            if not same[k] or i in matched_prev or j in taken_prev:
                continue
            matched_prev[i] = j
            taken_prev.add(j)
            codes[i] = prev["_code"].iat[j]

    used = _used_sequences(rule, list(prev["_code"]) + list(retired))
    _number_new_grids(codes, geoms, communities, kinds, rule, used, row_height)

    events, retired_now = _lineage(codes, communities, matched_prev, prev, pairs, inter, areas, prev_areas, overlap)
    out = grids.copy()
    out[code_field] = codes
    warnings = [f"previous code {c!r} does not fit rule {rule.name!r}; it was kept as is" for c in _off_rule(rule, codes)]
    return CodingResult(out, events, retired_now, warnings)


def _read_grids(grids: gpd.GeoDataFrame, community_field: str, type_field: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    if community_field not in grids:
        raise VectorInputError(source, f"has no {community_field!r} field (the grid's 12-digit community code)")
    problems: list[Problem] = []
    communities = grids[community_field].map(code_text).to_numpy(dtype=object)
    kinds = np.full(len(grids), BASIC, dtype=object)
    types = grids[type_field].tolist() if type_field in grids else [None] * len(grids)
    empty = shapely.is_missing(grids.geometry.values) | shapely.is_empty(grids.geometry.values)
    for i, (community, kind) in enumerate(zip(communities, types)):
        if empty[i]:
            problems.append(Problem("empty or missing geometry", i))
        try:
            check_community_code(community)
        except CodeError as exc:
            problems.append(Problem(f"{community_field}: {exc}", i))
        try:
            kinds[i] = grid_type(kind)
        except CodeError as exc:
            problems.append(Problem(f"{type_field}: {exc}", i))
    if problems:
        raise VectorInputError(source, problems)
    return communities, kinds


def _read_previous(
    previous: gpd.GeoDataFrame | None,
    rule: CodingRule,
    retired: set[str],
    community_field: str,
    type_field: str,
    code_field: str,
    source: str,
) -> gpd.GeoDataFrame:
    if previous is None or len(previous) == 0:
        return gpd.GeoDataFrame({"_code": [], "_community": [], "_kind": []}, geometry=[], crs=4490)
    if previous.crs is None:
        raise VectorInputError(source, "has no CRS")
    if code_field not in previous:
        raise VectorInputError(source, f"has no {code_field!r} field")
    problems: list[Problem] = []
    codes = previous[code_field].map(code_text).tolist()
    has_community, has_type = community_field in previous, type_field in previous
    community_col = previous[community_field].map(code_text).tolist() if has_community else [None] * len(previous)
    type_col = previous[type_field].tolist() if has_type else [None] * len(previous)
    communities, kinds, first = [], [], {}
    for i, code in enumerate(codes):
        community, kind = community_col[i], BASIC
        if code is None:
            problems.append(Problem("missing code", i))
        elif code in first:
            problems.append(Problem(f"code {code!r} is used twice (also row {first[code]})", i, code))
        elif code in retired:
            problems.append(Problem(f"code {code!r} is in use here but listed as retired", i, code))
        if code is not None:
            first.setdefault(code, i)
        try:
            if not has_community or not has_type:
                parts = decode_code(code, rule) if code is not None else None
                if parts is not None and not has_community:
                    community = parts.division.community_code
                if parts is not None and not has_type:
                    kind = parts.grid_type or BASIC
            if has_type:
                kind = grid_type(type_col[i])
        except CodeError as exc:
            problems.append(Problem(f"{exc} (and there is no {community_field!r} field to say its community)", i, code))
        communities.append(community)
        kinds.append(kind)
    if problems:
        raise VectorInputError(source, problems)
    return gpd.GeoDataFrame({"_code": codes, "_community": communities, "_kind": kinds}, geometry=previous.geometry.values, crs=previous.crs)


def _overlaps(geoms: np.ndarray, prev_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (new, previous) whose interiors overlap, and their intersection areas."""
    if len(geoms) == 0 or len(prev_geoms) == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    tree = shapely.STRtree(prev_geoms)
    pairs = tree.query(geoms, predicate="intersects").T
    # Projecting lon/lat grids can make a near-degenerate ring touch itself, and GEOS may then refuse the
    # intersection (TopologyException): repair those few first.
    a, b = _repaired(geoms[pairs[:, 0]]), _repaired(prev_geoms[pairs[:, 1]])
    inter = shapely.area(shapely.intersection(a, b))
    keep = inter > 0
    return pairs[keep], inter[keep]


def _repaired(geoms: np.ndarray) -> np.ndarray:
    bad = ~shapely.is_valid(geoms)
    if not bad.any():
        return geoms
    out = geoms.copy()
    out[bad] = shapely.make_valid(geoms[bad])
    return out


def _used_sequences(rule: CodingRule, codes: Iterable[str]) -> dict[str, list[int]]:
    """Sequences already used in each code family (codes that do not fit the rule cannot collide)."""
    used: dict[str, list[int]] = defaultdict(list)
    for code in codes:
        try:
            fields, family = rule.parse(code)
        except CodeError:
            continue
        used[family].append(int(fields["seq"]))
    return used


def _number_new_grids(
    codes: list[str | None],
    geoms: np.ndarray,
    communities: np.ndarray,
    kinds: np.ndarray,
    rule: CodingRule,
    used: dict[str, list[int]],
    row_height: float | None,
) -> None:
    for community in sorted(set(communities)):
        members = np.flatnonzero(communities == community)
        for i in members[reading_order(geoms[members], row_height)]:
            if codes[i] is not None:
                continue
            kind = kinds[i]
            family = rule.family(community, kind)
            taken = used[family]
            lo, hi = rule.range_for(kind)
            if rule.single_sequence is not None and len(members) == 1 and not taken:
                seq = rule.single_sequence
            else:
                seq = max((s for s in taken if lo <= s <= hi), default=lo - 1) + 1
                if seq > hi:
                    w = rule.sequence_width
                    raise CodeError(community, f"no {kind} sequence left: {lo:0{w}d}–{hi:0{w}d} have all been used (retired codes are never reused)")
            taken.append(seq)
            codes[i] = rule.format(community, seq, kind)


def _lineage(codes, communities, matched_prev, prev, pairs, inter, areas, prev_areas, overlap):
    prev_codes = list(prev["_code"])
    prev_comm = list(prev["_community"])
    events = [LineageEvent(KEPT, (codes[i],), (codes[i],), (communities[i],)) for i, j in sorted(matched_prev.items(), key=lambda t: codes[t[0]])]
    kept_prev = set(matched_prev.values())
    fresh = [i for i in range(len(codes)) if i not in matched_prev]
    gone = [j for j in range(len(prev_codes)) if j not in kept_prev]

    # Union-find over fresh grids (ids 0..n-1) and gone previous grids (ids n..n+m-1).
    n = len(codes)
    parent = list(range(n + len(prev_codes)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    fresh_set, gone_set = set(fresh), set(gone)
    for (i, j), a in zip(pairs.tolist(), inter.tolist()):
        if i in fresh_set and j in gone_set and a >= overlap * min(areas[i], prev_areas[j]):
            parent[find(i)] = find(n + j)
    groups: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for i in fresh:
        groups[find(i)][1].append(i)
    for j in gone:
        groups[find(n + j)][0].append(j)

    others = []
    for olds, news in groups.values():
        src = tuple(sorted(prev_codes[j] for j in olds))
        dst = tuple(sorted(codes[i] for i in news))
        comms = tuple(sorted({prev_comm[j] for j in olds} | {communities[i] for i in news}))
        if not olds:
            kind = NEW
        elif not news:
            kind = RETIRED
        elif len(olds) == 1 and len(news) > 1:
            kind = SPLIT
        elif len(olds) > 1 and len(news) == 1:
            kind = MERGED
        else:
            kind = REDRAWN
        others.append(LineageEvent(kind, src, dst, comms))
    others.sort(key=lambda e: (EVENT_KINDS.index(e.kind), e.from_codes or e.to_codes))
    return events + others, tuple(sorted(prev_codes[j] for j in gone))


def _off_rule(rule: CodingRule, codes: list[str | None]) -> list[str]:
    out = []
    for code in codes:
        try:
            rule.parse(code)
        except CodeError:
            out.append(code)
    return out

