"""The size rule where merging and splitting leave grids outside it: the division engine's rebalancing
(:func:`gridplanner.planning.community.rebalance_grids`) on each community's unified grids.

A department grid too small to join a neighbour with room, or too large for any straight split, is redrawn
with one to three neighbours building by building; the rest of the unified grids, and every grid's outer
boundary with the community, stay as the departments drew them.
"""

from __future__ import annotations

import logging

import numpy as np

from gis.coverage import locate_points
from gridplanner.merging.sizing import Buildings
from gridplanner.planning.bisect import LocalFrame
from gridplanner.planning.community import CommunityInput, rebalance_grids
from gridplanner.planning.rules import SizeRule

log = logging.getLogger("gridplanner.merging")

#: The merge works in metres: the local plane is the metric CRS itself.
_METRIC_FRAME = LocalFrame(0.0, 0.0)


def rebalance_communities(grids: np.ndarray, grid_comm: np.ndarray, labels: list[str], comm_geoms: np.ndarray,
                          buildings: Buildings, building_comm: np.ndarray, rule: SizeRule, codes: np.ndarray):
    """Unified grids (metric CRS, grouped by community) with those outside ``rule`` redrawn where that brings
    more within bounds; returns the grids, their communities, their labels and one entry per changed grid."""
    out_geoms, out_comm, out_labels, redrawn = [], [], [], []
    for c in range(len(comm_geoms)):
        mine = np.flatnonzero(grid_comm == c)
        here = buildings.subset(building_comm == c)
        geoms = list(grids[mine])
        names = [labels[i] for i in mine]
        if len(mine) > 1 and len(here.geoms):
            where = locate_points(here.points(), grids[mine])
            members = [np.flatnonzero(where == k) for k in range(len(mine))]
            data = CommunityInput(region=comm_geoms[c], footprints=here.geoms, points=here.points(),
                                  households=here.households, lines=np.zeros(0, dtype=object))
            before = [int(here.households[m].sum()) for m in members]
            try:
                new_geoms, new_members = rebalance_grids(geoms, np.ones(len(geoms), dtype=bool), members, data, rule, _METRIC_FRAME)
            except Exception:  # a fault of ours: the community keeps its grids as merged, and it is logged
                log.exception("rebalancing the merged grids of community %s failed", codes[c])
                new_geoms, new_members = geoms, members
            geoms, kept_names = [], []
            for k, g in enumerate(new_geoms):
                if g is None:
                    redrawn.append({"community_code": str(codes[c]), "grid": names[k], "households": before[k], "now": "joined its neighbours"})
                    continue
                name = names[k] if k < len(names) else f"rebalanced in {codes[c]}"
                after = int(here.households[new_members[k]].sum())
                if k >= len(names) or g is not grids[mine][k]:
                    redrawn.append({"community_code": str(codes[c]), "grid": name, "households": before[k] if k < len(before) else 0, "now": after})
                    name = name if name.startswith("rebalanced") else f"rebalanced {name}"
                geoms.append(g)
                kept_names.append(name)
            names = kept_names
        out_geoms += geoms
        out_labels += names
        out_comm += [c] * len(geoms)
    return np.array(out_geoms, dtype=object), np.array(out_comm, dtype=int), out_labels, redrawn
