"""Shared checks of the grid division guarantees (used by tests/test_planning*.py)."""

import numpy as np
import shapely

from gis.coverage import coverage_problems


def assert_guarantees(result, communities, buildings, code_field="code"):
    """Every hard guarantee of ``divide`` on one result."""
    grids = result.grids
    assert str(grids.crs) in ("EPSG:4490",) or grids.crs.to_epsg() == 4490
    assert (shapely.get_type_id(grids.geometry.values) == 3).all(), "every grid is one Polygon"
    assert result.report["self_check"]["ok"], result.report["self_check"]
    comm = communities.to_crs(4490)
    for code, region in zip(comm[code_field].astype(str), comm.geometry.values):
        mine = grids[grids["community_code"] == code]
        assert len(mine) >= 1, f"community {code} has no grid"
        problems = coverage_problems(mine.geometry.values, region, tolerance=1e-9)
        assert problems["ok"], (code, problems)
        assert sorted(mine["grid_index"]) == list(range(1, len(mine) + 1))

    bld = buildings.to_crs(4490).reset_index(drop=True)
    unplaced = {u["index"] for u in result.report["unplaced"]}
    tree = shapely.STRtree(grids.geometry.values)
    placed = np.array([i not in unplaced for i in range(len(bld))], dtype=bool)
    codes = comm[code_field].astype(str).tolist()
    for i in range(len(bld)):
        fp = bld.geometry.values[i]
        hits = tree.query(fp, predicate="intersects")
        if not placed[i]:
            assert all(fp.intersection(grids.geometry.values[h]).area == 0 for h in hits) or fp.geom_type == "Point"
            continue
        assert len(hits), f"building {i} lies in no grid"
        if fp.geom_type == "Point":
            continue
        # The grid holding most of the footprint holds all of it that lies in its community.
        best = max(hits.tolist(), key=lambda h: (fp.intersection(grids.geometry.values[h]).area, -h))
        region = comm.geometry.values[codes.index(grids["community_code"].iat[best])]
        # A building crossing a community's outline is clipped to its largest piece inside.
        pieces = shapely.get_parts(fp.intersection(region))
        part = max(pieces, key=lambda p: p.area)
        outside = part.difference(grids.geometry.values[best]).area
        assert outside <= 1e-7 * max(part.area, 1e-30), f"building {i} is cut by a grid boundary"
    # Households add up: nothing lost, nothing counted twice.
    total = int(result.report["summary"]["households"])
    assert int(grids["households"].sum()) == total
    assert int(grids["buildings"].sum()) == int(placed.sum())


def same_result(a, b):
    assert a.grids.drop(columns="geometry").equals(b.grids.drop(columns="geometry"))
    assert all(x.equals_exact(y, 0) for x, y in zip(a.grids.geometry.values, b.grids.geometry.values))
    assert a.report == b.report
