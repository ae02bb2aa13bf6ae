"""Grid division (网格划分): divide communities into grids of moderate size that follow roads and rivers,
never cut a building, and tile each community exactly.

How :func:`divide` works, community by community (lon/lat throughout; sizes in households):

1. Dedicated areas (schools, hospitals, parks, ...) are clipped to the community and become dedicated grids.
2. The community outline, roads, rivers and dedicated outlines are noded in one union and polygonized into
   faces (blocks): boundaries follow roads and rivers wherever they exist.
3. Blocks above the maximum are bisected recursively (``bisect``): straight cuts across the long axis (or
   another direction when it balances clearly better), placed in gaps between buildings where that gives a
   good split, until each part suits one grid; everything is re-noded with the cuts.
4. Cells below the minimum join neighbours, smallest first, while the maximum allows (``grouping``); a small
   grid no neighbour can take is redrawn together with one to three neighbours (bisection of their union),
   kept only when more grids end within bounds. Grids still outside the bounds are redrawn building by
   building with one to three neighbours (``rebalance``), and neighbouring grids within bounds but far
   apart (480 beside 320 households) are evened out the same way, pair by pair (``rebalance.balance``).
5. Grid boundaries that cross a building are moved around it (the building's footprint goes to the grid
   holding its representative point; overlapping footprints travel together), re-noded, and any grid left
   in pieces gives its stray pieces to the neighbour sharing most boundary.
6. A self-check (``gis.coverage.coverage_problems`` and footprint containment) runs on every community.

Households missing from the data are estimated (see ``households.ESTIMATE_RULE``); every estimate, every
grid outside the bounds (with its reason), every building outside all communities and every building
crossing a community boundary is listed in the report.
"""

from gridplanner.planning.engine import PlanResult, divide
from gridplanner.planning.households import ESTIMATE_RULE, estimate_households
from gridplanner.planning.rules import SizeRule

__all__ = ["ESTIMATE_RULE", "PlanResult", "SizeRule", "divide", "estimate_households"]
