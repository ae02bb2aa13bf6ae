"""The sample district's three department layers (data/boundaries/departments) merge into a valid coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from gis.io import read_vector
from gridplanner.merging import merge_layers

pytestmark = pytest.mark.slow  # whole districts and real data: `make test-fast` leaves these out

DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"
FILES = {"综治": "综治.gpkg", "城管": "城管.shp", "党建": "党建.fgb"}


@pytest.fixture(scope="module")
def merged():
    if not (DATA / "departments" / "综治.gpkg").exists():
        pytest.skip("sample data not present")
    communities = read_vector(DATA / "communities.geojson")
    layers = {name: read_vector(DATA / "departments" / f) for name, f in FILES.items()}
    result = merge_layers(communities, layers, buildings=read_vector(DATA / "buildings.gpkg"))
    return communities, result


def test_sample_district_merges_into_a_valid_coverage(merged):
    communities, r = merged
    crs = r.report["crs"]
    grids = r.grids.to_crs(crs).geometry.values.to_numpy()
    comms = communities.to_crs(crs)
    assert shapely.coverage_is_valid(grids)
    assert (shapely.get_type_id(grids) == 3).all()
    for code, comm in zip(comms["code"], comms.geometry.values):
        mine = grids[(r.grids["community_code"] == code).to_numpy()]
        union = shapely.union_all(mine)
        assert shapely.area(union) == pytest.approx(comm.area, rel=1e-6)
        assert shapely.area(shapely.difference(union, comm)) < 1.0
    assert r.report["summary"]["slivers_left"] == 0
    assert all(c["grids_off_by_more_than_0.1%"] == 0 for c in r.report["crosswalk_completeness"].values())
    assert set(r.crosswalk["department"]) == set(FILES)
    json.dumps(r.report, ensure_ascii=False)


def test_sample_district_planted_defects_are_reported(merged):
    _, r = merged
    assert any(c["department_grid_id"] == "ZZ-0159" for c in r.report["crossing_community_lines"])
    assert any(p["department_grid_id"] == "ZZ-0162" for p in r.report["repairs"])
    hole = [g for g in r.report["department_gaps"] if g["department"] == "综治" and 1500 < g["area_m2"] < 2500]
    assert hole, "the 25 m hole in 综治 is listed as a gap of that department"
    assert r.report["overlaps"] and r.report["slivers_absorbed"]


def test_sample_district_grids_follow_the_size_rule_or_say_why(merged):
    _, r = merged
    g = r.grids
    assert g["households"].sum() > 0
    over = g[g["households"] > 500]
    unsplit = {s["grid"] for s in r.report["size_rule"]["oversized_split"] if s.get("division_engine")}
    assert set(over["source"]) <= unsplit | {f"split of {u}" for u in unsplit}
    assert np.isin(g["type"], ["basic"]).all()
