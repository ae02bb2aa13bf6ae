"""Stable code assignment: ordering, kept codes, splits, merges, retirements, no reuse, lineage."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import VectorInputError
from gridplanner.coding import CodeError, assign_codes, cjt349_rule, reading_order, rule_from_spec

C = "110105002011"
D = "110105002012"
CELL = 0.004  # degrees, ~340 m x 440 m near Beijing


def lattice(nx=3, ny=3, x0=116.40, y0=39.90, community=C, kinds=None):
    """Grids in rows from the north-west corner: index = row * nx + column."""
    geoms = [shapely.box(x0 + i * CELL, y0 - (j + 1) * CELL, x0 + (i + 1) * CELL, y0 - j * CELL) for j in range(ny) for i in range(nx)]
    kinds = kinds or ["basic"] * len(geoms)
    return gpd.GeoDataFrame({"community_code": [community] * len(geoms), "type": kinds}, geometry=geoms, crs=4490)


def frame(geoms, community=C, kinds=None):
    return gpd.GeoDataFrame({"community_code": [community] * len(geoms), "type": kinds or ["basic"] * len(geoms)}, geometry=list(geoms), crs=4490)


def split_vertically(poly):
    minx, miny, maxx, maxy = poly.bounds
    mid = (minx + maxx) / 2
    return shapely.box(minx, miny, mid, maxy), shapely.box(mid, miny, maxx, maxy)


def seqs(codes):
    return [int(c[-3:]) for c in codes]


# --- ordering ---------------------------------------------------------------------------------------


def test_first_plan_numbers_west_to_east_then_north_to_south():
    grids = lattice(3, 3)
    shuffled = grids.iloc[[7, 2, 5, 0, 8, 4, 1, 6, 3]].reset_index(drop=True)
    result = assign_codes(shuffled)
    by_position = dict(zip(shuffled.geometry.map(lambda g: g.wkb), result.grids["code"]))
    assert [by_position[g.wkb] for g in grids.geometry] == [f"{C}{n:03d}" for n in range(1, 10)]
    assert result.counts()["new"] == 9 and result.retired == ()


def test_rows_tolerate_wobbling_points_and_odd_shapes():
    # Two rows whose representative points wobble by a fifth of a grid; an L-shaped grid in the top row
    # has its centroid outside itself, the representative point is inside.
    top = [shapely.box(0, 95, 100, 200), shapely.box(100, 110, 200, 200), shapely.box(200, 100, 300, 205)]
    l_shape = shapely.Polygon([(300, 100), (400, 100), (400, 120), (320, 120), (320, 200), (300, 200)])
    bottom = [shapely.box(0, 0, 100, 95), shapely.box(100, -20, 200, 110), shapely.box(200, 0, 300, 100)]
    geoms = np.array(bottom + [l_shape] + top)
    order = reading_order(geoms)
    assert order.tolist() == [4, 5, 6, 3, 0, 1, 2]


def test_row_height_can_be_set():
    geoms = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 3, 20, 13)])
    assert reading_order(geoms, row_height=1).tolist() == [1, 0]  # separate rows: the northern first
    assert reading_order(geoms, row_height=5).tolist() == [0, 1]  # one row: west first


def test_dedicated_grids_number_in_their_own_range():
    kinds = ["basic", "dedicated", "basic", "dedicated", "basic", "basic"]
    result = assign_codes(lattice(3, 2, kinds=kinds))
    assert seqs(result.grids["code"]) == [1, 901, 2, 902, 3, 4]


def test_communities_number_independently():
    grids = gpd.GeoDataFrame(pd.concat([lattice(2, 1), lattice(2, 1, x0=116.5, community=D)], ignore_index=True), crs=4490)
    codes = assign_codes(grids).grids["code"].tolist()
    assert codes == [C + "001", C + "002", D + "001", D + "002"]


# --- stability --------------------------------------------------------------------------------------


def test_replan_with_one_grid_split_keeps_the_other_codes():
    first = assign_codes(lattice()).grids
    geoms = list(first.geometry)
    left, right = split_vertically(geoms[4])
    replan = frame(geoms[:4] + [right, left] + geoms[5:])
    result = assign_codes(replan, previous=first)
    codes = result.grids["code"].tolist()
    assert codes[:4] == first["code"].tolist()[:4] and codes[6:] == first["code"].tolist()[5:]
    # The halves take new sequences after every used one, west half first.
    assert codes[5] == C + "010" and codes[4] == C + "011"
    assert result.retired == (C + "005",)
    split = [e for e in result.events if e.kind == "split"]
    assert len(split) == 1 and split[0].from_codes == (C + "005",) and split[0].to_codes == (C + "010", C + "011")
    assert result.counts() == {"kept": 8, "new": 0, "split": 1, "merged": 0, "redrawn": 0, "retired": 0}


def test_merge_and_retired_codes_are_never_reused():
    first = assign_codes(lattice()).grids
    g = list(first.geometry)
    merged = shapely.union(g[0], g[1])
    second = assign_codes(frame([merged] + g[2:]), previous=first)
    assert second.grids["code"].iat[0] == C + "010"
    (event,) = [e for e in second.events if e.kind == "merged"]
    assert event.from_codes == (C + "001", C + "002") and event.to_codes == (C + "010",)

    # Undo the merge: the two halves come back, but 001 and 002 are retired and must not return.
    third = assign_codes(frame(g), previous=second.grids, retired=second.retired)
    codes = third.grids["code"].tolist()
    assert codes[:2] == [C + "011", C + "012"]
    assert not set(codes) & {C + "001", C + "002", C + "010"}
    (event,) = [e for e in third.events if e.kind == "split"]
    assert event.from_codes == (C + "010",)


def test_retired_list_alone_blocks_reuse():
    # Even with no previous grids, a community that had 001–005 retired starts at 006.
    result = assign_codes(lattice(2, 1), retired=[C + "003", C + "005"])
    assert result.grids["code"].tolist() == [C + "006", C + "007"]


def test_removed_grid_is_retired_and_added_grid_is_new():
    first = assign_codes(lattice(3, 1)).grids
    g = list(first.geometry)
    extra = shapely.box(116.40, 39.90 + CELL, 116.40 + CELL, 39.90 + 2 * CELL)  # north of the first row
    result = assign_codes(frame([g[0], g[1], extra]), previous=first)
    assert result.grids["code"].tolist() == [C + "001", C + "002", C + "004"]
    kinds = {(e.kind, e.from_codes, e.to_codes) for e in result.events if e.kind != "kept"}
    assert kinds == {("retired", (C + "003",), ()), ("new", (), (C + "004",))}


def test_small_edits_keep_codes_large_ones_do_not():
    first = assign_codes(lattice(2, 1)).grids
    g = list(first.geometry)
    nudged = shapely.affinity.translate(g[0], xoff=CELL * 0.03)  # IoU ~ 0.94
    reshaped = shapely.affinity.scale(g[1], xfact=0.7, origin=(g[1].bounds[0], 0))  # IoU 0.7
    result = assign_codes(frame([nudged, reshaped]), previous=first)
    assert result.grids["code"].tolist() == [C + "001", C + "003"]
    (event,) = [e for e in result.events if e.kind == "redrawn"]
    assert event.from_codes == (C + "002",) and event.to_codes == (C + "003",)
    strict = assign_codes(frame([nudged, reshaped]), previous=first, iou=0.99)
    assert strict.grids["code"].tolist() == [C + "003", C + "004"]


def test_kept_needs_same_community_and_type():
    first = assign_codes(lattice(2, 1)).grids
    moved = lattice(2, 1, community=D)
    result = assign_codes(moved, previous=first)
    assert result.grids["code"].tolist() == [D + "001", D + "002"]
    assert {e.kind for e in result.events} == {"redrawn"}
    retyped = lattice(2, 1, kinds=["basic", "dedicated"])
    result = assign_codes(retyped, previous=first)
    assert result.grids["code"].tolist() == [C + "001", C + "901"]


def test_previous_in_another_crs_and_without_community_column():
    first = assign_codes(lattice()).grids
    previous = first[["code", "geometry"]].to_crs(4549)  # CGCS2000 GK zone CM 117E, metres
    result = assign_codes(lattice(), previous=previous)
    assert result.grids["code"].tolist() == first["code"].tolist()
    assert result.counts()["kept"] == 9


def test_cjt349_single_grid_takes_00_then_splits_from_01():
    rule = cjt349_rule("010100")
    one = frame([shapely.box(116.40, 39.89, 116.41, 39.90)])
    first = assign_codes(one, rule)
    assert first.grids["code"].iat[0] == "010100" + C + "00"
    halves = frame(split_vertically(one.geometry.iat[0]))
    second = assign_codes(halves, rule, previous=first.grids)
    assert [c[-2:] for c in second.grids["code"]] == ["01", "02"]


def test_template_rule_with_type_digit():
    rule = rule_from_spec("{community}{type:1}{seq:03}")
    result = assign_codes(lattice(2, 1, kinds=["dedicated", "basic"]), rule)
    assert result.grids["code"].tolist() == [C + "2001", C + "1001"]


def test_running_out_of_sequences_is_an_error():
    rule = rule_from_spec("{community}{seq:1}")  # basic 1–8
    with pytest.raises(CodeError, match="no basic sequence left: 1–8"):
        assign_codes(lattice(3, 3), rule)


def test_lineage_frame_lists_each_pair():
    first = assign_codes(lattice(2, 1)).grids
    left, right = split_vertically(first.geometry.iat[1])
    result = assign_codes(frame([first.geometry.iat[0], left, right]), previous=first)
    df = result.events_frame()
    assert df[df.kind == "split"][["from_code", "to_code"]].values.tolist() == [[C + "002", C + "003"], [C + "002", C + "004"]]
    assert len(df[df.kind == "kept"]) == 1
    stamped = result.events_frame(plan_version=7, date="2026-11-22")
    assert (stamped["plan_version"] == 7).all() and (stamped["date"] == "2026-11-22").all()


# --- bad input --------------------------------------------------------------------------------------


def test_bad_grids_are_all_reported():
    grids = lattice(2, 2)
    grids.loc[0, "community_code"] = "11010500201"
    grids.loc[1, "type"] = "unknown"
    grids.loc[2, "geometry"] = shapely.Polygon()
    with pytest.raises(VectorInputError) as info:
        assign_codes(grids, source="grids.gpkg")
    text = str(info.value)
    assert text.startswith("grids.gpkg: 3 problems")
    assert "feature 0: community_code: code '11010500201'" in text
    assert "feature 1: type: code 'unknown': unknown grid type" in text
    assert "feature 2: empty or missing geometry" in text


def test_bad_previous_grids_are_reported():
    first = assign_codes(lattice(2, 1)).grids
    dup = first.copy()
    dup["code"] = [C + "001", C + "001"]
    with pytest.raises(VectorInputError, match="code '110105002011001' is used twice"):
        assign_codes(lattice(2, 1), previous=dup)
    with pytest.raises(VectorInputError, match="in use here but listed as retired"):
        assign_codes(lattice(2, 1), previous=first, retired=[C + "002"])
    with pytest.raises(VectorInputError, match="has no 'community_code' field"):
        assign_codes(lattice(2, 1).drop(columns="community_code"))


def test_no_code_is_ever_issued_twice_over_many_replans():
    rng = np.random.default_rng(5)
    current = assign_codes(lattice(4, 3))
    issued = set(current.grids["code"])
    retired: set[str] = set()
    for _ in range(12):
        geoms = list(current.grids.geometry)
        k = int(rng.integers(len(geoms)))
        if rng.random() < 0.5 or len(geoms) < 3:
            geoms[k : k + 1] = list(split_vertically(geoms[k]))
        else:  # merge with the neighbour that shares the longest edge
            shared = [shapely.length(shapely.intersection(geoms[k].boundary, g.boundary)) if i != k else 0 for i, g in enumerate(geoms)]
            j = int(np.argmax(shared))
            merged = shapely.union(geoms[k], geoms[j])
            geoms = [g for i, g in enumerate(geoms) if i not in (k, j)] + [merged]
        result = assign_codes(frame(geoms), previous=current.grids, retired=sorted(retired))
        codes = set(result.grids["code"])
        fresh = codes - set(current.grids["code"])
        assert not fresh & issued, "a code was issued twice"
        assert not codes & retired
        issued |= fresh
        retired |= set(result.retired)
        assert len(codes) == len(result.grids)
        current = result
