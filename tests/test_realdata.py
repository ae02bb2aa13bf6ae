"""The hard rules on real data (tests/data/realdata: OSM-derived Nanshan, Gusu footprints; see its README):
plan and merge hold them in EPSG:4490 and in the metric CRS, keep the size rule where it can be met, name
bad input clearly, and the store and the editor keep them too."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text
from typer.testing import CliRunner

from gis.coverage import partition_report
from gis.crs import projected_crs_for
from gis.errors import VectorInputError
from gis.io import read_vector
from gridplanner.cli import app
from gridplanner.merging import merge_layers
from gridplanner.planning import divide
from gridplanner.planning.quality import size_figures
from gridplanner.planning.rules import size_rules
from test_planning_checks import assert_guarantees

pytestmark = pytest.mark.slow  # whole districts and real data: `make test-fast` leaves these out

DATA = Path(__file__).resolve().parent / "data" / "realdata"
DEPARTMENTS = ("综治", "城管", "党建")
#: The size rule where it can be met at all (planning.quality): the bar the merge must clear on real data ...
WITHIN_WHERE_FEASIBLE = 0.95
#: ... and the division engine's, with its spread of households (issue 13 asks 99% and CV 0.12 of the full
#: datasets, which bench/bench_realdata.py measures: Nanshan 99.0%, Gusu 100%). These extracts are smaller:
#: Nanshan's keeps 175 of 177 grids within, the other two have no way within bounds once contiguity counts
#: (268 households in a strip a tower cuts off from its last house; a tower of 247 whose neighbours cannot
#: spare enough), which the feasibility judge, ignoring where buildings stand, does not see.
PLAN_WITHIN_WHERE_FEASIBLE = 0.98
PLAN_CV = 0.12


def _dataset(name: str) -> dict:
    d = DATA / name
    out = {"communities": read_vector(d / "communities.geojson"), "buildings": read_vector(d / "buildings.geojson")}
    if (d / "roads.geojson").exists():
        out["roads"] = read_vector(d / "roads.geojson")
    out["layers"] = {n: read_vector(d / "departments" / f"{n}.geojson") for n in DEPARTMENTS}
    return out


@pytest.fixture(scope="module", params=["nanshan", "gusu"])
def dataset(request):
    return request.param, _dataset(request.param)


@pytest.fixture(scope="module")
def planned(dataset):
    name, d = dataset
    return name, d, divide(d["communities"], d["buildings"], roads=d.get("roads"), rules=size_rules())


def test_plan_holds_the_hard_rules_on_real_data(planned):
    name, d, res = planned
    report = assert_guarantees(res, d["communities"], d["buildings"])
    assert report["metric"]["worst_gap_m2"] < 0.01 and report["lonlat"]["worst_gap_m2"] < 0.01
    assert res.report["fallbacks"] == [], res.report["fallbacks"]


def test_plan_keeps_the_size_rule_where_it_can(planned):
    name, d, res = planned
    figures = size_figures(res.grids, d["communities"], d["buildings"], size_rules())
    assert figures["share_within_feasible"] >= PLAN_WITHIN_WHERE_FEASIBLE, (name, figures)
    assert figures["cv_where_feasible"] <= PLAN_CV, (name, figures)
    # Every grid outside the rule is listed with its reason.
    outside = res.grids[(res.grids["type"] == "basic") & ~res.grids["households"].between(300, 500)]
    assert len(res.report["out_of_bounds"]) == len(outside)
    assert all(o["reason"] for o in res.report["out_of_bounds"])


@pytest.fixture(scope="module")
def merged(dataset):
    name, d = dataset
    return name, d, merge_layers(d["communities"], d["layers"], buildings=d["buildings"], rules=size_rules()["urban"])


def test_merge_holds_the_hard_rules_on_real_data(merged):
    name, d, res = merged
    planned = res.communities
    codes = list(planned["code"])
    region_of = np.array([codes.index(c) for c in res.grids["community_code"]])
    crs = projected_crs_for(planned)
    report = partition_report(res.grids.geometry.values, region_of, planned.geometry.values, crs,
                              footprints=d["buildings"].to_crs(4490).geometry.values)
    assert report["ok"], report
    assert shapely.coverage_is_valid(res.grids.to_crs(crs).geometry.values)
    assert res.report["fallbacks"] == []
    assert all(c["grids_off_by_more_than_0.1%"] == 0 for c in res.report["crosswalk_completeness"].values())
    assert set(res.crosswalk["department"]) == set(DEPARTMENTS)


def test_merge_keeps_the_size_rule_where_it_can(merged):
    name, d, res = merged
    figures = size_figures(res.grids, d["communities"], d["buildings"], size_rules())
    assert figures["share_within_feasible"] >= WITHIN_WHERE_FEASIBLE, (name, figures)


def test_the_planted_defects_of_the_department_layers_are_reported(merged):
    name, _, res = merged
    manifest = json.loads((DATA / "manifest.json").read_text())[name]["departments"]
    bowtie = manifest["党建"]["ids"][0]
    assert any(r["department_grid_id"] == bowtie for r in res.report["repairs"])
    assert res.report["overlaps"], "综治's grown cells overlap each other"


# --- a messy published community layer ------------------------------------------------------------------

def test_one_code_on_two_features_is_named_with_the_way_on():
    d = _dataset("gusu")
    dirty = read_vector(DATA / "gusu" / "communities_dirty.geojson")
    dup = dirty["code"][dirty["code"].duplicated()].iat[0]
    with pytest.raises(VectorInputError, match=rf"code {dup} is shared by features \d+ \(\S+\), \d+ \(\S+\); if this is one community drawn as several features, --dissolve-duplicate-codes"):
        divide(dirty, d["buildings"], rules=size_rules(), sources={"communities": "communities_dirty.geojson"})
    res = divide(dirty, d["buildings"], rules=size_rules(), dissolve_duplicate_codes=True)
    assert [x["code"] for x in res.report["precision"]["dissolved_duplicate_codes"]] == [dup]
    assert_guarantees(res, dirty.dissolve(by="code", as_index=False), d["buildings"])
    # The 1e-9° spike and the near-duplicate vertices were snapped away on the 1e-7° grid, and said so.
    defects = {x["code"]: x["defect"] for x in json.loads((DATA / "manifest.json").read_text())["gusu"]["communities_dirty_defects"]}
    snapped = {c["community_code"] for c in res.report["precision"]["communities"]["changed"] if c["snapped"]}
    rough = {c for c, what in defects.items() if "spike" in what or "near-duplicate" in what}
    assert rough <= snapped, (rough, snapped)
    # The multipart community has grids in each part; the hole touching the outline stays in no grid.
    multi = next(c for c, what in defects.items() if what.startswith("MultiPolygon"))
    parts = shapely.get_parts(res.communities.set_index("code").geometry[multi])
    mine = res.grids[res.grids["community_code"] == multi].geometry.values
    assert all(any(g.representative_point().within(p) for g in mine) for p in parts)


def test_web_map_coordinates_are_taken_with_crs_gcj02(tmp_path):
    """The Gusu footprints may be GCJ-02 (a web map's offset): read as such, they plan the same way, moved."""
    from gridplanner.planning import PlanResult

    d = DATA / "gusu"
    out, report = tmp_path / "g.gpkg", tmp_path / "r.json"
    res = CliRunner().invoke(app, ["plan", "--communities", str(d / "communities.geojson"), "--buildings", str(d / "buildings.geojson"),
                                   "--crs", "gcj02", "--out", str(out), "--report", str(report), "--no-codes"])
    assert res.exit_code == 0, res.output
    grids = gpd.read_file(out, layer="g")
    plain = read_vector(d / "communities.geojson").to_crs(4490)
    # Everything moved by the GCJ-02 offset, a few hundred metres here.
    shift = shapely.distance(grids.union_all().centroid, plain.union_all().centroid) * 111_000
    assert 200 < shift < 800
    result = PlanResult(grids, json.loads(report.read_text()), gpd.read_file(out, layer="communities"))
    assert_guarantees(result, read_vector(d / "communities.geojson", crs="gcj02"), read_vector(d / "buildings.geojson", crs="gcj02"))


# --- the store and the editor -----------------------------------------------------------------------------

def test_the_store_keeps_the_hard_rules_in_postgis_metric_crs(db, tmp_path):
    """Imported, planned into a draft and edited, the grids tile their communities in PostGIS too, in
    EPSG:4490 and after ST_Transform to the district's Gauss–Krüger zone."""
    from gridplanner import plans
    from gridplanner.editing import service
    from gridplanner.importing import import_file

    d = DATA / "gusu"
    import_file(db, "communities", d / "communities.geojson")
    import_file(db, "buildings", d / "buildings.geojson")
    plan = plans.create_draft(db, "real data", from_published=False)
    plans.divide_into_draft(db, plan.id, rules=size_rules())
    db.flush()
    srid = projected_crs_for(read_vector(d / "communities.geojson")).to_epsg()

    def check():
        bad = db.execute(text(f"""
            SELECT count(*) FILTER (WHERE NOT ST_IsValid(g.geom)) AS invalid_lonlat,
                   count(*) FILTER (WHERE NOT ST_IsValid(ST_Transform(g.geom, {srid}))) AS invalid_metric
            FROM grids g WHERE g.plan_id = :p"""), {"p": plan.id}).one()
        assert tuple(bad) == (0, 0)
        worst = db.execute(text(f"""
            SELECT max(ST_Area(ST_SymDifference(ST_Transform(c.geom, {srid}), ST_Transform(u.geom, {srid})))) AS metric,
                   max(ST_Area(ST_SymDifference(c.geom, u.geom)::geography)) AS lonlat
            FROM communities c JOIN (SELECT community_code, ST_Union(geom) AS geom FROM grids WHERE plan_id = :p
                                     GROUP BY community_code) u ON u.community_code = c.code"""), {"p": plan.id}).one()
        assert worst.metric < 0.01 and worst.lonlat < 0.01, worst

    check()
    # An edit: split the largest grid through its middle, north to south.
    gid, wkb = db.execute(text("SELECT id, ST_AsBinary(geom) FROM grids WHERE plan_id = :p ORDER BY area_m2 DESC LIMIT 1"), {"p": plan.id}).one()
    geom = shapely.from_wkb(bytes(wkb))
    minx, miny, maxx, maxy = geom.bounds
    x = (minx + maxx) / 2
    line = shapely.LineString([(x, miny - 0.001), (x, maxy + 0.001)])
    lock = db.execute(text("SELECT lock_version FROM grid_plans WHERE id = :p"), {"p": plan.id}).scalar_one()
    try:
        service.split(db, plan.id, lock, gid, line)
    except service.EditError:
        pytest.skip("the middle line crosses a building run it cannot avoid")
    check()
