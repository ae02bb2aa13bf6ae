"""The size rule where merging and splitting leave grids outside it: the division engine's rebalancing
(:func:`gridplanner.planning.community.rebalance_grids`) on each community's unified grids.

A department grid too small to join a neighbour with room, or too large for any straight split, is redrawn
with one to three neighbours building by building; the rest of the unified grids, and every grid's outer
boundary with the community, stay as the departments drew them.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely

from gis.coverage import locate_points
from gridplanner.compute import Runner, by_key, in_process
from gridplanner.merging.sizing import Buildings
from gridplanner.planning.bisect import LocalFrame
from gridplanner.planning.community import CommunityInput, rebalance_grids
from gridplanner.planning.rules import SizeRule

log = logging.getLogger("gridplanner.merging")

#: The merge works in metres: the local plane is the metric CRS itself.
_METRIC_FRAME = LocalFrame(0.0, 0.0)


def rebalance_communities(grids: np.ndarray, grid_comm: np.ndarray, labels: list[str], comm_geoms: np.ndarray,
                          buildings: Buildings, building_comm: np.ndarray, rule: SizeRule, codes: np.ndarray,
                          runner: Runner | None = None):
    """Unified grids (metric CRS, grouped by community) with those outside ``rule`` redrawn where that brings
    more within bounds; returns the grids, their communities, their labels and one entry per changed grid.
    ``runner`` says where the communities are redrawn (:mod:`gridplanner.compute`; default: here): a street's
    communities per task, the result the same."""
    tasks = []
    for c in range(len(comm_geoms)):
        mine = np.flatnonzero(grid_comm == c)
        tasks.append((c, str(codes[c]), grids[mine], [labels[i] for i in mine], comm_geoms[c],
                      buildings.subset(building_comm == c), rule))
    batches = by_key(tasks, key=lambda t: t[1][:9])
    results = (runner or in_process)(rebalance_batch, batches)
    out_geoms, out_comm, out_labels, redrawn = [], [], [], []
    for (c, *_), (geoms, names, changed) in zip([t for b in batches for t in b], [r for rs in results for r in rs]):
        out_geoms += geoms
        out_labels += names
        out_comm += [c] * len(geoms)
        redrawn += changed
    # Communities come back in street order; the caller's order is by community.
    order = np.argsort(np.array(out_comm, dtype=int), kind="stable")
    position = {str(code): c for c, code in enumerate(codes.tolist())}
    return (np.array(out_geoms, dtype=object)[order], np.array(out_comm, dtype=int)[order],
            [out_labels[i] for i in order], sorted(redrawn, key=lambda r: position[r["community_code"]]))


def rebalance_batch(batch: list[tuple]) -> list[tuple]:
    """:func:`rebalance_one` of each task of a batch, in order: what one task does, here or on a worker."""
    return [rebalance_one(*task) for task in batch]


def rebalance_one(c: int, code: str, grids: np.ndarray, names: list[str], region, here: Buildings,
                  rule: SizeRule) -> tuple[list, list[str], list[dict]]:
    """One community's merged grids (``grids``, named ``names``; ``here`` its buildings) redrawn where that
    brings more within bounds: the grids, their names and one entry per changed grid.

    The grids are taken on GEOS's floating precision model, their coordinates as they are. The coverage
    cleaning leaves them with a fixed one (0.1 mm, 1 µm), under which GEOS's overlays snap what they make; a
    geometry sent to a worker is pickled as WKB, which keeps the coordinates and drops the precision model, so
    a worker's redraw came out a few 1e-11 m² apart from this process's (Suzhou Gusu 320508017003), and
    putting the model back is not the same either (some coordinates are not on it). Here and on a worker
    alike, the redraw now starts from the same floating geometry; the settling after it puts every grid on
    the store's precision model.
    """
    grids = shapely.set_precision(np.asarray(grids, dtype=object), 0.0, mode="pointwise")
    geoms = list(grids)
    redrawn: list[dict] = []
    if len(grids) > 1 and len(here.geoms):
        where = locate_points(here.points(), grids)
        members = [np.flatnonzero(where == k) for k in range(len(grids))]
        data = CommunityInput(region=region, footprints=here.geoms, points=here.points(),
                              households=here.households, lines=np.zeros(0, dtype=object))
        before = [int(here.households[m].sum()) for m in members]
        try:
            new_geoms, new_members = rebalance_grids(geoms, np.ones(len(geoms), dtype=bool), members, data, rule, _METRIC_FRAME)
        except Exception:  # a fault of ours: the community keeps its grids as merged, and it is logged
            log.exception("rebalancing the merged grids of community %s failed", code)
            new_geoms, new_members = geoms, members
        geoms, kept_names = [], []
        for k, g in enumerate(new_geoms):
            if g is None:
                redrawn.append({"community_code": code, "grid": names[k], "households": before[k], "now": "joined its neighbours"})
                continue
            name = names[k] if k < len(names) else f"rebalanced in {code}"
            after = int(here.households[new_members[k]].sum())
            if k >= len(names) or g is not grids[k]:
                redrawn.append({"community_code": code, "grid": name, "households": before[k] if k < len(before) else 0, "now": after})
                name = name if name.startswith("rebalanced") else f"rebalanced {name}"
            geoms.append(g)
            kept_names.append(name)
        names = kept_names
    return geoms, names, redrawn
