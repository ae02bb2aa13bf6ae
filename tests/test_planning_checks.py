"""Shared checks of the grid division guarantees (used by tests/test_planning*.py and the real-data tests)."""

import numpy as np
import shapely

from gis.coverage import partition_report
from gis.crs import projected_crs_for


def assert_guarantees(result, communities, buildings, code_field="code"):
    """Every hard guarantee of ``divide`` on one result, in lon/lat and in the metric CRS."""
    grids = result.grids
    assert grids.crs.to_epsg() == 4490
    assert (shapely.get_type_id(grids.geometry.values) == 3).all(), "every grid is one Polygon"
    assert result.report["self_check"]["ok"], result.report["self_check"]
    planned = result.communities
    codes = planned[code_field].astype(str).tolist()
    # The communities as planned are the input on the precision model: the same shape in lon/lat up to what
    # the report says moved.
    moved = {c["community_code"]: c["area_moved_m2"] for c in result.report["precision"]["communities"]["changed"]}
    given = communities.to_crs(4490)
    scale = 111_320.0**2 * np.cos(np.radians(given.total_bounds[[1, 3]].mean()))
    for code, geom in zip(given[code_field].astype(str), given.geometry.values):
        if code in codes:
            diff = shapely.area(shapely.difference(geom, planned.geometry.values[codes.index(code)])) * scale
            # The overlay measuring a millimetre band along a long outline is itself good to a few per mille.
            assert diff <= 1.01 * moved.get(code, 0.0) + 1e-4, (code, diff)
    for code in codes:
        mine = grids[grids["community_code"] == code]
        assert len(mine) >= 1, f"community {code} has no grid"
        assert sorted(mine["grid_index"]) == list(range(1, len(mine) + 1))
    region_of = np.array([codes.index(c) for c in grids["community_code"].astype(str)], dtype=np.intp)
    bld = buildings.to_crs(4490).reset_index(drop=True)
    crs = projected_crs_for(planned)
    report = partition_report(grids.geometry.values, region_of, planned.geometry.values, crs, footprints=bld.geometry.values)
    assert report["ok"], report
    unplaced = {u["index"] for u in result.report["unplaced"]}
    assert report["footprints"]["outside_every_region"] == len(unplaced)
    # Households add up: nothing lost, nothing counted twice.
    total = int(result.report["summary"]["households"])
    assert int(grids["households"].sum()) == total
    assert int(grids["buildings"].sum()) == len(bld) - len(unplaced)
    return report


def same_result(a, b):
    assert a.grids.drop(columns="geometry").equals(b.grids.drop(columns="geometry"))
    assert all(x.equals_exact(y, 0) for x, y in zip(a.grids.geometry.values, b.grids.geometry.values))
    assert a.report == b.report
