"""The pure geometry of hand edits: split, merge, reshape, move buildings (planar units: metres)."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import LineString, Point, box

from gridplanner.editing import (
    EditError,
    assign_to_parts,
    merge_polygons,
    move_buildings,
    reshape_shared_boundary,
    snap_line,
    split_polygon_by_line,
)


def _tiles(a, b):
    """The two polygons tile their union exactly: no overlap, and the shared edges match."""
    assert shapely.intersection(a, b).area == pytest.approx(0, abs=1e-9)
    assert shapely.coverage_is_valid([a, b])


def test_split_along_a_line_that_crosses_the_grid():
    grid = box(0, 0, 100, 50)
    a, b = split_polygon_by_line(grid, LineString([(40, -5), (40, 55)]))
    assert sorted([a.area, b.area]) == pytest.approx([2000, 3000])
    assert shapely.union_all([a, b]).equals(grid)
    _tiles(a, b)


def test_split_keeps_a_cut_building_whole_on_the_side_holding_most_of_it():
    grid = box(0, 0, 100, 50)
    building = box(35, 10, 55, 20)  # 5 m left of the line, 15 m right: goes right
    small = box(10, 10, 20, 20)
    a, b = split_polygon_by_line(grid, LineString([(40, -5), (40, 55)]), [building, small])
    right = a if a.centroid.x > b.centroid.x else b
    left = b if right is a else a
    assert right.covers(building) and not left.intersects(building.buffer(-1e-6))
    assert left.covers(small)
    assert left.area + right.area == pytest.approx(5000)
    assert right.area == pytest.approx(3000 + 50)
    _tiles(a, b)


def test_split_snaps_line_ends_to_corners_within_tolerance():
    grid = box(0, 0, 100, 50)
    a, b = split_polygon_by_line(grid, LineString([(1, 1), (99, 49)]), tolerance=2.0)
    assert sorted([a.area, b.area]) == pytest.approx([2500, 2500])
    assert {(0.0, 0.0), (100.0, 50.0)} <= set(a.exterior.coords)


def test_split_refusals_say_why():
    grid = box(0, 0, 100, 50)
    with pytest.raises(EditError, match="does not cross"):
        split_polygon_by_line(grid, LineString([(40, 10), (40, 30)]))
    with pytest.raises(EditError, match="does not touch"):
        split_polygon_by_line(grid, LineString([(200, 10), (200, 30)]))
    with pytest.raises(EditError, match="3 pieces"):
        split_polygon_by_line(grid, LineString([(30, -5), (30, 55), (60, 55), (60, -5)]))


def test_merge_adjacent_and_refuse_apart_or_corner_touching():
    a, b, c = box(0, 0, 10, 10), box(10, 0, 20, 10), box(20, 0, 30, 10)
    merged = merge_polygons([a, b, c])
    assert merged.geom_type == "Polygon" and merged.area == pytest.approx(300)
    with pytest.raises(EditError, match="not all adjacent"):
        merge_polygons([a, c])
    with pytest.raises(EditError, match="not all adjacent"):
        merge_polygons([a, box(10, 10, 20, 20)])  # a corner only
    with pytest.raises(EditError, match="at least two"):
        merge_polygons([a])


def test_reshape_moves_the_shared_boundary_of_both_neighbours():
    a, b = box(0, 0, 50, 50), box(50, 0, 100, 50)
    new_a, new_b = reshape_shared_boundary(a, b, LineString([(50.5, 0.8), (60, 25), (50, 49.2)]), tolerance=2.0)
    assert new_a.area + new_b.area == pytest.approx(5000)
    assert new_a.area > a.area  # the bulge went to a
    assert shapely.union_all([new_a, new_b]).equals(box(0, 0, 100, 50))
    _tiles(new_a, new_b)
    assert (60.0, 25.0) in set(new_a.exterior.coords) and (60.0, 25.0) in set(new_b.exterior.coords)


def test_reshape_refuses_bad_lines_cut_buildings_and_strangers():
    a, b = box(0, 0, 50, 50), box(50, 0, 100, 50)
    with pytest.raises(EditError, match="1 pieces"):
        reshape_shared_boundary(a, b, LineString([(50, 10), (60, 25)]), tolerance=1.0)
    with pytest.raises(EditError, match="cut through buildings \\[1\\]"):
        reshape_shared_boundary(a, b, LineString([(50, 0), (60, 25), (50, 50)]), [box(5, 5, 10, 10), box(55, 20, 65, 30), box(70, 5, 75, 10)], tolerance=1.0)
    with pytest.raises(EditError, match="not neighbours"):
        reshape_shared_boundary(a, box(60, 0, 100, 50), LineString([(50, 0), (50, 50)]))


def test_move_buildings_hands_over_the_ground_around_them():
    source, target = box(0, 0, 100, 100), box(100, 0, 200, 100)
    building = box(80, 40, 90, 50)
    far = box(10, 10, 20, 20)
    new_source, new_target, carried = move_buildings(source, target, [building], [far], reach=5)
    assert new_target.covers(building) and not new_source.intersects(building.buffer(-1e-6))
    assert new_source.covers(far) and len(carried) == 0
    assert new_source.area + new_target.area == pytest.approx(20000)
    _tiles(new_source, new_target)


def test_move_buildings_carries_a_building_in_the_way_and_refuses_strangers():
    source, target = box(0, 0, 100, 100), box(100, 0, 200, 100)
    in_the_way = box(92, 44, 96, 46)
    new_source, new_target, carried = move_buildings(source, target, [box(80, 40, 90, 50)], [in_the_way], reach=5)
    assert carried.tolist() == [0] and new_target.covers(in_the_way)
    with pytest.raises(EditError, match="not neighbours"):
        move_buildings(source, box(150, 0, 200, 100), [box(80, 40, 90, 50)], reach=5)


def test_assign_to_parts_by_majority_and_points():
    parts = [box(0, 0, 10, 10), box(10, 0, 20, 10)]
    got = assign_to_parts(parts, [box(8, 1, 11, 2), box(9, 1, 12, 2), Point(15, 5), Point(50, 50), box(5, 5, 25, 6)])
    assert got.tolist() == [0, 1, 1, -1, -1]


def test_snap_line_moves_vertices_and_pushes_free_ends():
    line = snap_line(LineString([(0.5, 0.5), (50, 60)]), box(0, 0, 100, 50).boundary, 1.0)
    assert line.coords[0] == (0.0, 0.0)
    assert line.coords[-1][1] > 60  # pushed on past where it was drawn
    with pytest.raises(EditError, match="collapses"):
        snap_line(LineString([(0.2, 0.2), (0.4, 0.4)]), box(0, 0, 100, 50).boundary, 1.0)


def test_diff_matches_by_code_then_by_identical_shape():
    import geopandas as gpd

    from gridplanner.editing.diff import change_counts, diff_grids

    def frame(rows):
        return gpd.GeoDataFrame(
            [{"id": i, "code": c, "type": "basic", "community_code": "330106001001", "households": h, "population": 0, "building_count": 1} for i, c, h, _ in rows],
            geometry=[g for *_, g in rows], crs=4490,
        )

    published = frame([(1, "A", 300, box(0, 0, 1, 1)), (2, "B", 300, box(1, 0, 2, 1)), (3, None, 200, box(2, 0, 3, 1)), (4, "D", 100, box(3, 0, 4, 1))])
    draft = frame([(11, "A", 300, box(0, 0, 1, 1)), (12, "B", 350, box(1, 0, 2, 1)), (13, None, 200, box(2, 0, 3, 1)), (14, None, 50, box(3, 0, 3.5, 1)), (15, None, 50, box(3.5, 0, 4, 1))])
    d = diff_grids(draft, published)
    assert dict(zip(d["id"], d["change"])) == {11: "unchanged", 12: "changed", 13: "unchanged", 14: "added", 15: "added", None: "removed"}
    assert d.loc[d["change"] == "removed", "published_id"].tolist() == [4]
    assert change_counts(d) == {"added": 2, "removed": 1, "changed": 1, "unchanged": 2}
    assert (diff_grids(draft, None)["change"] == "added").all()
