"""Grouping adjacent cells into grids: small ones are merged into neighbours while the ceiling allows."""

from __future__ import annotations

import heapq

import numpy as np

from gridplanner.planning.rules import SizeRule

#: How much a length of shared boundary lying on a road or river counts when choosing whom to join.
ROAD_WEIGHT = 0.25


def merge_small_cells(
    households: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
    shared: np.ndarray,
    mergeable: np.ndarray,
    rule: SizeRule,
    initial: np.ndarray | None = None,
    on_lines: np.ndarray | None = None,
) -> np.ndarray:
    """A group label per cell: cells below the minimum join neighbours, the smallest first.

    ``pair_i``/``pair_j``/``shared`` list neighbouring cells and the length of boundary they share;
    ``mergeable`` marks cells that may be grouped at all (dedicated areas are not). ``initial`` gives
    starting groups (default: each cell alone). A group without households joins the neighbour it shares
    most boundary with; one with households joins, among neighbours that keep the sum within the maximum,
    the one it shares most boundary with. ``on_lines`` (per pair) is the part of the shared boundary lying
    on roads or rivers: it counts only ``ROAD_WEIGHT`` as much, so that grids keep roads as boundaries and
    join across cuts instead. Ties go to the lower label, so the result depends only on the input.
    """
    n = len(households)
    label = np.arange(n) if initial is None else np.asarray(initial).copy()
    groups = {}
    for cell in range(n):
        groups.setdefault(int(label[cell]), []).append(cell)
    size = {g: int(households[cells].sum()) for g, cells in groups.items()}
    open_ = {g: bool(mergeable[cells[0]]) for g, cells in groups.items()}
    adj: dict[int, dict[int, float]] = {g: {} for g in groups}
    if on_lines is not None:
        shared = np.asarray(shared, dtype=float) - (1 - ROAD_WEIGHT) * np.asarray(on_lines, dtype=float)
    for a, b, length in zip(pair_i, pair_j, shared):
        ga, gb = int(label[a]), int(label[b])
        if ga == gb:
            continue
        adj[ga][gb] = adj[ga].get(gb, 0.0) + float(length)
        adj[gb][ga] = adj[gb].get(ga, 0.0) + float(length)

    heap = [(size[g], g) for g in groups if open_[g] and size[g] < rule.min_households]
    heapq.heapify(heap)
    while heap:
        h, g = heapq.heappop(heap)
        if g not in groups or size[g] != h:
            continue  # merged away or grown since queued
        best, best_key = None, None
        for other, length in adj[g].items():
            if not open_[other]:
                continue
            if h > 0 and h + size[other] > rule.max_households:
                continue
            key = (length, -other)
            if best_key is None or key > best_key:
                best, best_key = other, key
        if best is None:
            continue
        keep, gone = min(g, best), max(g, best)
        groups[keep].extend(groups.pop(gone))
        size[keep] = size[g] + size[best]
        del size[gone]
        for other, length in adj.pop(gone).items():
            del adj[other][gone]
            if other == keep:
                continue
            adj[keep][other] = adj[keep].get(other, 0.0) + length
            adj[other][keep] = adj[other].get(keep, 0.0) + length
        if size[keep] < rule.min_households:
            heapq.heappush(heap, (size[keep], keep))
    out = np.empty(n, dtype=np.intp)
    for g, cells in groups.items():
        out[cells] = g
    return out
