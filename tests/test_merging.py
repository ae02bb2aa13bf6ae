"""多网合一 engine on crafted layers: two 400 m communities, 200 m department grids, in metres near Hangzhou."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely import box

from pyproj import CRS

from gis.coverage import partition_report
from gis.errors import VectorInputError
from gis.overlay import clean_coverage
from gridplanner.merging import merge_layers
from gridplanner.planning import SizeRule

METRIC = 4549  # CGCS2000 / 3-degree Gauss-Kruger CM 120E
X0, Y0 = 500_000.0, 3_350_000.0


def frame(geoms, **cols) -> gpd.GeoDataFrame:
    # Drawn in metres and handed over in that CRS, as CAD-derived department layers are.
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=METRIC))


def metric(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return gdf.to_crs(METRIC).geometry.values.to_numpy()


@pytest.fixture
def communities() -> gpd.GeoDataFrame:
    return frame([box(X0, Y0, X0 + 400, Y0 + 400), box(X0 + 400, Y0, X0 + 800, Y0 + 400)], code=["C1", "C2"])


def quads(dx: float = 0.0, dy: float = 0.0) -> list:
    return [
        box(X0 + cx + i + dx, Y0 + j + dy, X0 + cx + i + 200 + dx, Y0 + j + 200 + dy)
        for cx in (0, 400) for i in (0, 200) for j in (0, 200)
    ]


def layer(geoms, prefix: str, field: str = "dept_id") -> gpd.GeoDataFrame:
    return frame(geoms, **{field: [f"{prefix}{i}" for i in range(len(geoms))]})


def assert_valid_coverage(result, communities, sliver_width=3.0):
    """The unified grids tile each community exactly, in lon/lat and in metres, as one coverage."""
    grids = metric(result.grids)
    assert shapely.coverage_is_valid(grids)
    assert (shapely.get_type_id(grids) == 3).all(), "every grid is one polygon"
    planned = result.communities
    assert list(planned["code"]) == list(communities["code"])
    region_of = np.array([list(planned["code"]).index(c) for c in result.grids["community_code"]])
    report = partition_report(result.grids.geometry.values, region_of, planned.geometry.values, CRS(METRIC))
    assert report["ok"], report
    # The communities as merged into are the ones given, on the precision model: the same to micrometres.
    for given, used in zip(metric(communities), metric(planned)):
        assert shapely.area(shapely.symmetric_difference(given, used)) < 1e-3
    assert (2 * shapely.length(shapely.maximum_inscribed_circle(grids)) >= sliver_width).all()
    json.dumps(result.report)  # the report must serialise


def test_identical_layers_give_the_same_grids(communities):
    a = layer(quads(), "A")
    r = merge_layers(communities, {"综治": a, "城管": layer(quads(), "B", "id")})
    assert_valid_coverage(r, communities)
    assert len(r.grids) == 8
    got, want = metric(r.grids), metric(a)
    for g in got:
        assert max(shapely.area(shapely.intersection(g, want)) / shapely.area(shapely.union(g, want))) > 0.999
    assert r.grids["base_id"].notna().all()
    # The layers and communities here are boxes drawn in metres: an edge's midpoint lies on the metric line,
    # a community edge is a lon/lat line, and the two part by up to 2 mm. Only such rounding slivers go.
    assert all(s["width_m"] < 0.01 for s in r.report["slivers_absorbed"])
    # Numbered within each community north to south, then west to east, as the division engine does.
    assert r.grids["grid_index"].tolist() == [1, 2, 3, 4, 1, 2, 3, 4]
    assert r.grids["base_id"].tolist() == ["A1", "A3", "A0", "A2", "A5", "A7", "A4", "A6"]


@pytest.mark.parametrize("base", ["A", "B"])
def test_layer_shifted_two_metres_leaves_no_slivers(communities, base):
    r = merge_layers(communities, {"A": layer(quads(), "A"), "B": layer(quads(2.0, 2.0), "B")}, base=base)
    assert_valid_coverage(r, communities)
    assert r.report["summary"]["slivers_left"] == 0
    assert len(r.grids) == 8
    assert r.report["base"] == {"department": base, "chosen_by": "option", "agreement": r.report["base"]["agreement"]}
    if base == "B":  # B's grids stop 2 m short of the west and south lines: those strips were absorbed
        assert r.report["slivers_absorbed"]
        assert all(s["into"] and s["into"].startswith("B:") for s in r.report["slivers_absorbed"])


def test_a_hole_no_department_covers_is_reported(communities):
    hole = box(X0 + 50, Y0 + 50, X0 + 120, Y0 + 120)
    holed = [shapely.difference(g, hole) for g in quads()]
    r = merge_layers(communities, {"A": layer(holed, "A"), "B": layer(holed, "B")})
    assert_valid_coverage(r, communities)
    (gap,) = r.report["uncovered"]
    assert gap["community_code"] == "C1" and gap["area_m2"] == pytest.approx(70 * 70, rel=1e-3)
    assert {g["department"] for g in r.report["department_gaps"]} == {"A", "B"}
    assert (r.grids["source"] == "gap").sum() == 1


def test_a_hole_in_one_layer_is_filled_from_the_other(communities):
    hole = box(X0 + 50, Y0 + 50, X0 + 120, Y0 + 120)
    holed = [shapely.difference(g, hole) for g in quads()]
    r = merge_layers(communities, {"A": layer(holed, "A"), "B": layer(quads(), "B")}, base="A")
    assert_valid_coverage(r, communities)
    assert r.report["uncovered"] == []
    assert [g["department"] for g in r.report["department_gaps"]] == ["A"]
    assert "B:B0" in set(r.grids["source"])


def test_a_grid_crossing_a_community_line_is_clipped_and_reported(communities):
    geoms = quads()
    geoms[2] = box(X0 + 200, Y0, X0 + 500, Y0 + 200)  # reaches 100 m into C2 ...
    geoms[4] = box(X0 + 500, Y0, X0 + 600, Y0 + 200)  # ... where A's own C2 grid leaves room
    r = merge_layers(communities, {"A": layer(geoms, "A"), "B": layer(quads(), "B")}, base="A")
    assert_valid_coverage(r, communities)
    (cross,) = r.report["crossing_community_lines"]
    assert cross["department_grid_id"] == "A2"
    assert cross["communities"] == {"C1": pytest.approx(40000, rel=1e-6), "C2": pytest.approx(20000, rel=1e-6)}
    pieces = r.grids[r.grids["source"] == "A:A2"]
    assert sorted(pieces["community_code"]) == ["C1", "C2"]  # cut in two along the line
    assert r.report["overlaps"] == []


def test_overlaps_inside_a_layer_are_reported_and_resolved(communities):
    geoms = quads()
    geoms[0] = box(X0, Y0, X0 + 230, Y0 + 200)  # overlaps A2 by 30 m
    r = merge_layers(communities, {"A": layer(geoms, "A"), "B": layer(quads(), "B")}, base="A")
    assert_valid_coverage(r, communities)
    (o,) = r.report["overlaps"]
    assert o["department_grid_ids"] == ["A0", "A2"] and o["area_m2"] == pytest.approx(6000, rel=1e-6)


def test_an_invalid_ring_is_repaired_and_reported(communities):
    geoms = quads()
    x, y = X0, Y0
    geoms[0] = shapely.Polygon([(x, y), (x + 200, y + 200), (x + 200, y), (x, y + 200)])  # bow-tie
    r = merge_layers(communities, {"A": layer(geoms, "A"), "B": layer(quads(), "B")})
    assert_valid_coverage(r, communities)
    (rep,) = r.report["repairs"]
    assert rep["department"] == "A" and rep["department_grid_id"] == "A0" and "Self-intersection" in rep["problem"]


def test_an_empty_layer_is_a_clear_error(communities):
    empty = gpd.GeoDataFrame({"dept_id": []}, geometry=gpd.GeoSeries([], crs=4490))
    with pytest.raises(VectorInputError, match="layer 城管: contains no features"):
        merge_layers(communities, {"综治": layer(quads(), "A"), "城管": empty})


def test_repeated_community_codes_are_a_clear_error(communities):
    communities["code"] = ["C1", "C1"]
    with pytest.raises(VectorInputError, match=r"communities: code values repeat: \['C1'\]"):
        merge_layers(communities, {"A": layer(quads(), "A"), "B": layer(quads(), "B")})


def test_one_layer_is_not_enough(communities):
    with pytest.raises(ValueError, match="at least two"):
        merge_layers(communities, {"A": layer(quads(), "A")})


def test_id_field_falls_back_to_code_then_position(communities):
    r = merge_layers(communities, {"A": layer(quads(), "A", "code"), "B": frame(quads(1, 0))}, base="B")
    assert r.report["id_fields"] == {"A": "code", "B": "feature position"}
    assert set(r.crosswalk.loc[r.crosswalk["department"] == "B", "department_grid_id"]) == {str(i) for i in range(8)}


def test_crosswalk_accounts_for_every_department_grid(communities):
    geoms = quads(7.0, -3.0)
    geoms.append(box(X0 + 300, Y0 + 300, X0 + 500, Y0 + 600))  # half outside the communities, across C1/C2
    r = merge_layers(communities, {"A": layer(quads(), "A"), "B": layer(geoms, "B")})
    cw = r.crosswalk
    assert list(cw.columns) == ["department", "department_grid_id", "grid_index", "grid_code", "shared_area_m2",
                                "share_of_department_grid", "share_of_unified_grid", "shared_households"]
    comm_union = shapely.union_all(metric(communities))
    for dept, gdf in (("A", layer(quads(), "A")), ("B", layer(geoms, "B"))):
        for gid, g in zip(gdf["dept_id"], metric(gdf)):
            inside = shapely.area(shapely.intersection(g, comm_union))
            got = cw.loc[(cw["department"] == dept) & (cw["department_grid_id"] == gid), "shared_area_m2"].sum()
            assert got == pytest.approx(inside, rel=1e-3)
    assert all(v["max_relative_error"] < 1e-3 for v in r.report["crosswalk_completeness"].values())
    shares = cw.groupby(["department", "department_grid_id"])["share_of_department_grid"].sum()
    assert np.allclose(shares, 1.0, atol=1e-3)
    outside = {o["department_grid_id"]: o["area_outside_m2"] for o in r.report["outside_communities"]}
    assert outside["B8"] == pytest.approx(200 * 200, rel=1e-3)
    assert any(s["department_grid_id"] == "B8" for s in r.report["split_department_grids"])


def test_grids_tile_each_lonlat_community_exactly():
    """Long lon/lat edges bow in the metric CRS; grid vertices on them must come back onto the lon/lat edge."""
    lonlat = gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=[box(120.10, 30.27, 120.12, 30.29), box(120.12, 30.27, 120.14, 30.29)], crs=4490)
    m = lonlat.to_crs(METRIC).total_bounds
    # Department grids cut in metres (3 x 3 per layer, B shifted 2 m): their edges meet the community lines
    # between the communities' own vertices.
    xs, ys = np.linspace(m[0] - 50, m[2] + 50, 4), np.linspace(m[1] - 50, m[3] + 50, 4)
    cells = [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(3) for j in range(3)]
    a = layer(cells, "A")
    b = layer([shapely.affinity.translate(g, 2.0, 2.0) for g in cells], "B")
    r = merge_layers(lonlat, {"A": a, "B": b}, base="A")
    grids = r.grids.geometry.values.to_numpy()
    assert shapely.is_valid(grids).all() and shapely.coverage_is_valid(grids)
    for code, comm in zip(lonlat["code"], lonlat.geometry):
        union = shapely.union_all(grids[(r.grids["community_code"] == code).to_numpy()])
        # 1e-14 square degrees is about 1e-4 m² (a 1 cm miss along a 2 km edge would be ~10 m², 1e-9 deg²).
        assert shapely.area(shapely.symmetric_difference(union, comm)) < 1e-14


def buildings_grid(n_side: int, x0: float, y0: float, span: float, margin: float) -> list:
    step = span / n_side
    return [box(x0 + i * step + margin, y0 + j * step + margin, x0 + (i + 1) * step - margin, y0 + (j + 1) * step - margin)
            for i in range(n_side) for j in range(n_side)]


def test_size_rule_merges_small_and_splits_large_without_cutting_buildings(communities):
    # C1: 8 x 8 buildings of 10 households per quadrant (640: over the maximum, split in two);
    # C2: 5 x 5 buildings of 5 households per quadrant (125: under the minimum, merged).
    # Lanes between buildings are 16 m wide: room for the division engine to cut between them.
    c1 = buildings_grid(16, X0, Y0, 400, 8)
    c2 = buildings_grid(10, X0 + 400, Y0, 400, 2)
    # One building straddling the A0/A1 edge (y = Y0 + 200) in C1.
    straddler = box(X0 + 158, Y0 + 195, X0 + 167, Y0 + 205)
    c1 = [f for f in c1 if not f.intersects(straddler)]
    b = frame(c1 + c2 + [straddler], households=[10] * len(c1) + [5] * len(c2) + [10], population=[30] * (len(c1) + len(c2) + 1))
    r = merge_layers(communities, {"A": layer(quads(), "A"), "B": layer(quads(), "B")}, buildings=b, rules=SizeRule(300, 500))
    assert_valid_coverage(r, communities)
    g = r.grids
    assert (g["households"] >= 300).all()
    # Over the maximum only where the division engine said why it could not split.
    unsplit = {s["grid"] for s in r.report["size_rule"]["oversized_split"] if s["into"] == 1 and s["division_engine"]}
    assert set(g.loc[g["households"] > 500, "source"]) <= unsplit
    assert g["households"].sum() == 10 * len(c1) + 5 * 100 + 10
    assert (g.loc[g["community_code"] == "C2", "households"] == 500).all()
    assert g.loc[g["community_code"] == "C1", "source"].str.startswith("split of ").any()
    assert r.report["size_rule"]["undersized_merged"] and r.report["size_rule"]["oversized_split"]
    # No building footprint is shared by two grids.
    grids, fps = metric(g), metric(b)
    a, k = shapely.STRtree(grids).query(fps, predicate="intersects")
    shared = shapely.area(shapely.intersection(fps[a], grids[k])) > 1e-3
    assert np.bincount(a[shared], minlength=len(fps)).max() == 1
    assert r.crosswalk.groupby("department")["shared_households"].sum().tolist() == [g["households"].sum()] * 2


# 35 pieces covering one community of the generated benchmark city (metres, EPSG:4549), exactly as merge_layers
# handed them to GEOS: zlib-compressed WKB, each prefixed by its length. GEOS 3.14.1's coverage_clean drops a
# 3.9 ha face of this input without complaint.
DROPPED_FACE = (
    "eNqFmHs01Vkbx10jIoqEchrllEhMuSQzdaopRhiSmhEvhtBUMkWEGopUoxvdJImSioZmyFSumWriKCI0MlTk2oRkMHi/u2XW4jmn9/3jd9b6rP"
    "3sZ+9n7+e2j5WIiIioOPvBJ4Gveql36cS7HF54w5G5okEWPAN+pZUK2NjIXEwE/C78RRcb96l4dJ0xlQ8ZrVAK34EbyisG7nN48vURPsa7LHj8"
    "Jcpq/eDSgeeBcuBq53Yvjd85PP5TowYRsK6MiEw72PqAq9mNQAveQs1ELVnwsg1aS66C3dJbdj6+x+Fxf/tCXRTyVH/U6A1I4/tea4393w84vE"
    "3cgJwUKNC0XC37Bgor1ysGZIDLqiXbDz7k8Nblegb4gadHT2gwwnjmUmNLF3CzeeyQHnip61V1J8aXs15Lg4+Xuzg4g43tlpm2QL/1nqDyk2C6"
    "nsCJFG413CmDI5P8JW8fOzKda+sHFcF/KFlUsCNt6uDWHC7i8MxD18rcg0WrstS1/DHuWxSS7Qd+rmst35aPK0kKHOwE//PK++yiAg6vS3/P0H"
    "sw1e80egOS+JYsUEtJwwLq+W6D2thh3V6VAOvfOLxozbce4uCn+q0VczG+fNlxB0Vw3xE/2XYoFPlKm/spmM4XsDDnjsV/PIo5vBin62+0sINZ"
    "3eYZ3iUcXlC6B1cfnNFdMdDN5/C+7PDt6cOOO196+BZivGKm08SL4Ek6E0ym4ErmGKa3vAZbLbr/7Wzw6QSliGEw1Z82egMy+Lp6O3/1hUVXzu"
    "54LIUJM/QyZhfAaQxWbb81jB37vXGrHMAd3V5uW8fuaKpLUEY7+FB+cye7w8Xu73IuwmL9m4Ne68DconWP2BUUaOV7+4C7W59/2gEOuNEmE8Lu"
    "vM4lsQ8nkrJWLKcMnLUzJrkAPC00K/kpmO7HiobdLWv/flVYOI0n94hZuEpN2uconMzApiBiMiyMTOH3W8HihisXxJnFVF7gCk5sqCvTh8CfuY"
    "XHBiHg4iSWzgGXNDn3NIK9FqdV+sNi7cotXxWAB06ZmkghjNSndfQXg0tCq0WfgHeZK8mKYUH12qQpJ7Eh4/7jeWxDVL/ABuZ9tfuHIXil9qHd"
    "J+ZCYI2VivyzQg7vYa7dQr0PEyKDg3Akx9Ic+8YxVu4ULcaRFduEVlTiyL77OSY3FfPXTu1uUMe44a8GN5LA3hd6NLXAVP+W0RsYxzy9RL84GQ"
    "pPmam81IXCZf+k1CjAAte48PUsrhvvNJVNBv+lWj7Djt3h0Ti/YVis6KC080WABc+sKabPHht8stp+CosKqk/gDhfzn4mfwo5cT6wKZTu8ci1g"
    "xXlwYulNhengZf1GOo7gBunTMjPBVF4gTkvUrvpMh0C9vvKCHgjc5OllReMIpzSUysjhDl55VTTcAX9q6drLWCPeSkkZXrk43+AblkjofIEdL5"
    "urOTshj8NbaLymrAoCx/NKt34LLntTJVMDvnMxwScSmSZQWjezjVlA5AXiziTbfXkMVlxkHFBiAQEjfc97vWA13f6FW8CtBbt9y6HwM7eVjqHg"
    "b51eSl6AQvOhkNfV4Mm2WvZOGLfQ033fDE5Ms9jcBfb6Pt6vC7wvYZ54KCxc7RO4n6XCH7Rt3JlTnQkfX8+cSmlNzlPmFEFyD5fogOl+BE5Awe"
    "+KI6s+3Tb8apbMt08rzzMAp8edNWG8c1Z5Dwf8UOe4NEsEVL5jtEJ5fLLxRmY+2OGup87n/bFibNmgTSS8JvH5mQn3wUku83szwY9DYkTywcYH"
    "DGK7kJk2e2SGsWR/uTM4SA5eWFfBu8hnybwwJ80ZcSpTnv7HXfDB3WbNK8BmDaaZF8BNnOUmQ5DPS97UzFgkmbuPlUPVLZU7loIlDS+2vQeHuZ"
    "c7mbL12j0Cf8V64+ccuMTKbSH3muwmeLly78Hb0uDGrZbnHuBEWwL+6p0PpvYIhJnu7dWbW7Gh5Gz1fJY6U0+bOY3HCQ0/yo1iJ/R18mXr8zB4"
    "l5zdVB3w/iN3Rdqg8Kdz+zNYMfns/a1XLNW2rr1lz06Y6hNY0Hmooo8VB+uy+aXMRywXWWrfRfH4way2mxWPRMPGd03geGfXb+LBmYcmf2IPhS"
    "snG15lJ+QW7Km9FbxCbKl2EZjqE1jwPDcqKw8KN9a+v5HE4ta4fxyrXjoSqir9TKFoTeHsUkSF8/Uq5qSqGtzNMzBuerRIn21gn0rRj7WYr3eg"
    "1ZUx1feErcUWEqMrf75l/vo4hMdJ+c4Jz5jzHL/4YxnCYW3J0KbQDxnmmytWuRxetmHjpTQWbgaSEQ7guN+3tTBnU2m7MDME8+XzFa6z+VTfmG"
    "yz4WDvnH7EistRMw9d1lhVOo0zB2v5pGbPAu/wLDtlAH6gEZ/OZbF0K7cnuoDlw6p0Flt0fvK/ZomONms8vviTQwaxcIn2sAAbHSEu8uqdQ/01"
    "sG9s1VXGNBPT/oT2L7Q/+StJSfcEWELtgCTTR9e/K/QC2JnY3xs+UYID10w2qQpjRcpd8/5hsGtk8eEYcLzZLPkj4HYv21TG0uG3v+ODxZIqi5"
    "k8nT9GuUI/Z1MEBjfk8WIiMDh9nmjONrCMzjbFSLDGCMuOsM6IvOOIPJ2/TXTEDHFqxtGoF9sN4PJ2aiu1DsNg25S6JaxlDV+36wGLMVe7Oas/"
    "tLC8YzcYrzLNUWXyh3JjZZg8nT/mNsdf1shpw2BXRde4n4Q07Dqkoaf9Nu3HfTZEVrDe7M5e6+cpQnq1lrqV+dXgM/HmhtfBdP0xEUSLOi36dv"
    "Un1iiCxYeKFVi24nronmX5fefQpCQnIfmf6vtZVJjrKOFr/T5M7yicsu2LMCXW8tEWcKXEn23bwOJnW09KCemPaH9D+x/aH9Fug3YXtPv4kYQ3"
    "DV8a3rSU0lJLS7GXWEMY4wRRkQ49IYVmoojv50fAp/IGKpn99LzGODBNfP/cv6X3CDw1NW0qiyv/BH+Jx2D+5S/lGLeQPoPO54++rQn46KuUvi"
    "rpq1NxoOzhKzhdqOY55XT4hXtHPb8MPI7/fjlzQvrgqOm7Nus8rFscMi+bdbtl22MXxoNT3yYHSgkpy7Rs07JO9ytQtOiLhb5onmhINJthw9x0"
    "xZ9YSFtH10YxjvvaI+awkLJM9Z2jSf2MQ5VnHJLqF757bs4V8mjM9Y12kMH4pdD9tprgHMKRpC/4f0XBLe6FUir4UfDieMZ0fZGPZsMio5mqx+"
    "AMLxIjXkXj7ByjXhsnoSqumhShxJpQKf3aHMZ2u4c4jFu9tV2YvLOFrBhL8nT+mIbS1C6zfTsGG2s8a/YLKdFmZJzKj1H296RL8SsxGNxbsZe9"
    "g9VJPe8dGQ8ZGafyAo+yiZLZIVXIvbyEsJ+nCHlWZoYUnW7H+IpeDYNPhDzc6cN7S4xXfj3kp78tbVEGU/0vP9ra0L6V9rUBWZa2TuD7OT1yhe"
    "CMnoLPN7MA26F8vkBIV0f1jVlsppt2Qi22ZVOzaBPbJv0/IWrP3CEu2DvasX8IXO9m1jgdPPxMz5w9pEJm7HV6Ap6a1r6AmUX1dX/UzMeDfDcF"
    "HOAnb8Zf0oXkOgtXA0Ww0jmttA9se4ovCw7eOOjPeP0Ih4ywM2Gqb8zttvjJpbPbMJm/oE1ZyO3EiC7oZ9z45ve3jONHuGmENYlZwS+eu/8Bvr"
    "dELpwx1b9RaIfHQoz2QTtIfqb5m/ZJdP65f4NZgno0TaQ00dJETMsMLUM0EVP9Yw+ctCK0VdlIqgKtGrSqSJFWhuofkxxoU1bDMd01jARo0ez3"
    "iyc4T1mi1BjjM09n+P7PJo4po+WATqYdI5X/uCvsJrFDUwR1UuqEdP5/AUPwqI8="
)


def test_coverage_cleaning_never_loses_area():
    import base64
    import zlib

    raw = zlib.decompress(base64.b64decode(DROPPED_FACE))
    wkbs, at = [], 0
    while at < len(raw):
        n = int.from_bytes(raw[at : at + 4], "little")
        wkbs.append(raw[at + 4 : at + 4 + n])
        at += 4 + n
    pieces = shapely.from_wkb(wkbs)
    whole = shapely.area(shapely.union_all(pieces))
    cleaned = clean_coverage(pieces, gap_width=3.0)
    assert shapely.area(cleaned).sum() == pytest.approx(whole, abs=0.05)
    assert shapely.coverage_is_valid(cleaned)
