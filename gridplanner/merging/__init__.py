"""多网合一: merge departments' overlapping grid layers into one set of grids per community, with a crosswalk.

>>> from gridplanner.merging import merge_layers  # doctest: +SKIP
>>> result = merge_layers(communities, {"综治": zz, "城管": cg})  # doctest: +SKIP
>>> result.grids, result.crosswalk, result.report  # doctest: +SKIP
"""

from gridplanner.merging.engine import MergeResult, merge_layers

__all__ = ["MergeResult", "merge_layers"]
