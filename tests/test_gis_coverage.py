"""gis.coverage and gis.metrics: faces from linework, shared edges, coverage problems, partition figures."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity

from gis.coverage import EXACT_M2, coverage_report, coverage_problems, interior_points, overlap_groups, polygon_faces, shared_edges, unmatched_edges
from gis.precision import drop_threads, normalize_polygons, square_metres_per_square_degree
from gis.metrics import coefficient_of_variation, partition_quality, polsby_popper, share_on_lines, share_within


def test_faces_tile_region_with_hole_and_drop_the_hole():
    region = shapely.box(0, 0, 10, 10).difference(shapely.box(4, 4, 6, 6))
    lines = [shapely.LineString([(5, -1), (5, 11)]), shapely.LineString([(-1, 2), (11, 2)])]
    faces = polygon_faces(region, lines)
    assert len(faces) == 4
    assert coverage_problems(faces, region)["ok"]
    assert shapely.union_all(faces).equals(region)


def test_faces_ignore_dangles_and_lines_outside():
    region = shapely.box(0, 0, 10, 10)
    lines = [shapely.LineString([(2, 5), (8, 5)]), shapely.LineString([(20, 20), (30, 30)])]
    faces = polygon_faces(region, lines)
    assert len(faces) == 1 and faces[0].equals(region)


def test_shared_edges_skip_corner_contacts():
    polys = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 1, 3, 2)]
    i, j, length = shared_edges(polys)
    assert list(zip(i.tolist(), j.tolist())) == [(0, 1)]
    assert length.tolist() == [1.0]


def test_coverage_problems_finds_overlap_gap_and_outside():
    region = shapely.box(0, 0, 2, 1)
    overlap = coverage_problems([shapely.box(0, 0, 1.2, 1), shapely.box(1, 0, 2, 1)], region)
    assert not overlap["ok"] and overlap["overlap_area"] == pytest.approx(0.2) and overlap["invalid_edges"] == 2
    gap = coverage_problems([shapely.box(0, 0, 0.9, 1), shapely.box(1, 0, 2, 1)], region)
    assert not gap["ok"] and gap["gap_area"] == pytest.approx(0.1)
    outside = coverage_problems([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2.5, 1)], region)
    assert not outside["ok"] and outside["outside_area"] == pytest.approx(0.5)
    multi = coverage_problems([shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(1.5, 0, 2, 1)]),
                               shapely.box(1, 0, 1.5, 1)], region)
    assert not multi["ok"] and multi["not_single"] == 1


def test_coverage_problems_flags_unmatched_vertices():
    # Same area, no gap, but the left square lacks the vertex at (1, 0.5) that the right side has.
    left = shapely.box(0, 0, 1, 1)
    right = shapely.Polygon([(1, 0), (2, 0), (2, 1), (1, 1), (1, 0.5)])
    top = coverage_problems([left, right], shapely.box(0, 0, 2, 1))
    assert top["gap_area"] == 0 and top["overlap_area"] == pytest.approx(0)
    assert not top["coverage_valid"] and top["invalid_edges"] == 2 and not top["ok"]


def test_metrics_known_values():
    assert polsby_popper([shapely.box(0, 0, 1, 1)])[0] == pytest.approx(np.pi / 4)
    assert coefficient_of_variation([1, 1, 1]) == 0
    assert coefficient_of_variation([1, 3]) == pytest.approx(0.5)
    assert share_within([100, 300, 400, 600], 300, 500) == 0.5
    edges = shapely.LineString([(0, 0), (10, 0)])
    assert share_on_lines(edges, [shapely.LineString([(0, 0.5), (4, 0.5)])], 1.0) == pytest.approx((4 + np.sqrt(0.75)) / 10, rel=1e-3)


def test_partition_quality_counts_only_internal_edges():
    left, right = shapely.box(120, 30, 120.01, 30.01), shapely.box(120.01, 30, 120.02, 30.01)
    polys = gpd.GeoSeries([left, right], crs=4490)
    road = gpd.GeoSeries([shapely.LineString([(120.01, 29.9), (120.01, 30.1)])], crs=4490)
    q = partition_quality(polys, [300, 700], 300, 500, lines=road)
    assert q["share_within"] == 0.5
    assert q["share_on_lines"] == pytest.approx(1.0)
    assert 0.7 < q["polsby_popper_mean"] < 0.8
    assert q["internal_boundary_km"] == pytest.approx(1.11, abs=0.02)


def test_faces_with_a_zero_width_spike_are_kept():
    """A polygon with a 1e-17-wide spike (from two nearly coincident cuts): point_on_surface returns a point
    on its outline, which once made polygon_faces drop it as lying outside the region."""
    region = shapely.box(120, 30, 120.0025, 30.0075)
    spiky = shapely.from_wkt(
        "POLYGON ((120.00096356458948 30.006125561274672, 120.00124467928435 30.006125561274672, "
        "120.00124467928435 30.005425101139586, 120.00122082125763 30.005425101139586, "
        "120.00122082125762 30.003970593090877, 120.00122082125762 30.005425101139586, "
        "120 30.005425101139586, 120 30.006125561274672, 120.00096356458948 30.006125561274672))")
    faces = polygon_faces(region, [spiky.boundary])
    assert len(faces) == 2
    assert coverage_problems(faces, region)["ok"]
    assert shapely.contains(faces, interior_points(faces)).all()


def test_unmatched_edges_confirms_what_geos_flags():
    # A hole touching its shell at the corner where the neighbour's edge starts: GEOS flags the neighbour's
    # edge, though the two share their line exactly and do not overlap.
    a = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)], [[(1, 1), (0.5, 0.8), (0.8, 0.5), (1, 1)]])
    b = shapely.box(1, 0, 2, 1)
    assert not shapely.is_empty(shapely.coverage_invalid_edges([a, b])).all()
    assert not unmatched_edges([a, b]).any()
    # Lines not noded alike (a T-junction), and an overlap, are still found.
    assert unmatched_edges([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 2)]).all()
    assert unmatched_edges([shapely.box(0, 0, 1, 1), shapely.box(0.5, 0, 2, 1)]).all()
    assert not unmatched_edges([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]).any()


def test_coverage_report_measures_snap_rounded():
    """Floating overlay returned a 0.05 m² triangle for community minus the union of its 12 merged grids (the
    generated 400-community city, 330102006002), though the areas match and nothing lies outside: the merge
    was reported as breaking the gap rule. The report's measures are snap-rounded."""
    import json
    from pathlib import Path

    from pyproj import CRS

    case = json.loads((Path(__file__).parent / "data" / "floating_overlay_gap.json").read_text())
    region = shapely.from_wkb(bytes.fromhex(case["community_wkb"]))
    grids = shapely.from_wkb([bytes.fromhex(h) for h in case["grids_wkb"]])
    assert shapely.area(shapely.difference(region, shapely.union_all(grids))) * square_metres_per_square_degree(region) > 0.05
    rep = coverage_report(grids, region, CRS(4549))
    assert rep["ok"], rep
    assert rep["lonlat"]["gap_m2"] <= EXACT_M2 and rep["metric"]["gap_m2"] <= EXACT_M2


def test_drop_threads_removes_parts_thinner_than_the_grid():
    thin = shapely.Polygon([(120, 30), (120.0002, 30.00000002), (120.0001, 30)])  # 20 m x 2 mm
    main = shapely.box(120, 30.001, 120.001, 30.002)
    out = drop_threads([shapely.MultiPolygon([main, thin]), thin, main])
    assert out[0].equals(main) and out[1].is_empty and out[2].equals(main)


def test_normalize_drops_a_thread_part_and_reports_it():
    # A spike 1e-8° off its line, which snap rounding leaves as a part of its own, 2 mm wide.
    thread = shapely.Polygon([(120.0101, 30.0004), (120.0103, 30.00040002), (120.0102, 30.0004)])
    main = shapely.Polygon([(120, 30), (120.001, 30), (120.001, 30.001), (120.0005, 30.001 + 1e-9), (120, 30.001)])
    res = normalize_polygons([shapely.MultiPolygon([main, thread])])
    assert shapely.get_num_geometries(res.geoms[0]) == 1
    change = res.changes[0]
    assert change["snapped"] and change["parts_before"] == 2 and change["parts_after"] == 1 and change["area_moved_m2"] > 0


def test_footprints_touching_with_float_noise_are_not_one_group():
    # Two real Nanshan footprints (OSM, ODbL; see tests/data/realdata/README.md): a vertex of the second lies
    # on the first's edge, and their intersection is a 3e-28 deg² sliver of float noise. Counted as overlap,
    # they travelled together; the engine's boundary ran between them, the check found a building "cut", and
    # the whole community (学府社区, 143,810 households) fell back to two block grids.
    a = shapely.from_wkt("POLYGON ((113.931401 22.508359, 113.9313305 22.5083435, 113.93126 22.508328, 113.93124499999999 22.508388, "
                         "113.93123 22.508448, 113.93130049999999 22.5084635, 113.931371 22.508479, 113.931386 22.508419, 113.931401 22.508359))")
    b = shapely.from_wkt("POLYGON ((113.93124 22.508408, 113.93118000000001 22.508392999999998, 113.93112 22.508378, 113.93111 22.508428, "
                         "113.931165 22.508437999999998, 113.93122 22.508448, 113.93124 22.508408))")
    assert 0 < shapely.intersection(a, b).area < 1e-20
    assert overlap_groups([a, b]).tolist() == [0, 1]
    # A real overlap (a footprint drawn twice, shifted by 10 cm) still ties them.
    assert overlap_groups([a, shapely.affinity.translate(a, 1e-6, 0)]).tolist() == [0, 0]
