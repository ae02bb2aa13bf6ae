"""The synthetic sample district, city and department layers: determinism, structure, magnitudes, files."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely import STRtree
from typer.testing import CliRunner

from gis.crs import area_m2
from gis.io import dbf_encoding, read_vector
from gridplanner.cli import app
from gridplanner.sampledata import (
    BOUNDARY_CROSSER_ID,
    ROAD_STRADDLER_ID,
    SAMPLE_FILES,
    generate_city,
    generate_department_layers,
    generate_district,
)

REPO_DATA = Path(__file__).resolve().parents[1] / "data" / "boundaries"
EXCEPTIONS = {ROAD_STRADDLER_ID, BOUNDARY_CROSSER_ID}


@pytest.fixture(scope="module")
def district():
    return generate_district()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    result = CliRunner().invoke(app, ["sample", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def city():
    return generate_city(n_communities=40, n_buildings=3000, seed=1)


def _owner(geoms: np.ndarray, polygons: gpd.GeoDataFrame, predicate: str = "within") -> dict[int, list[int]]:
    idx = STRtree(polygons.geometry.values).query(geoms, predicate=predicate)
    out: dict[int, list[int]] = {}
    for i, j in zip(*idx):
        out.setdefault(int(i), []).append(int(j))
    return out


# ------------------------------------------------------------------------------------------- determinism


def test_same_seed_same_frames_other_seed_other_frames():
    a = generate_district(5, 22, scale=0.25)
    b = generate_district(5, 22, scale=0.25)
    assert set(a) == {"communities", "buildings", "roads", "rivers", "dedicated", "dept_综治", "dept_城管", "dept_党建",
                      "staff", "incidents"}
    for key in a:
        if isinstance(a[key], gpd.GeoDataFrame):
            assert_geodataframe_equal(a[key], b[key], check_less_precise=False)
        else:
            pd.testing.assert_frame_equal(a[key], b[key])
    c = generate_district(6, 22, scale=0.25)
    assert not c["communities"].geometry.geom_equals(a["communities"].geometry).all()


def test_written_files_are_byte_identical_to_the_committed_sample(written):
    for name in SAMPLE_FILES:
        assert (written / name).read_bytes() == (REPO_DATA / name).read_bytes(), f"{name} differs; run `gridplanner sample`"


# ------------------------------------------------------------------------------------------- communities


def test_communities_form_a_valid_gapless_coverage(district):
    com = district["communities"]
    assert com.crs.to_epsg() == 4490
    assert 20 <= len(com) <= 40
    assert shapely.coverage_is_valid(com.geometry.values)
    assert shapely.is_valid(com.geometry.values).all()
    whole = shapely.coverage_union_all(com.geometry.values)
    assert whole.geom_type == "Polygon" and len(whole.interiors) == 0
    km = whole.bounds
    assert 120.0 < (km[0] + km[2]) / 2 < 120.2 and 30.2 < (km[1] + km[3]) / 2 < 30.35


def test_community_boundaries_are_irregular(district):
    com = district["communities"]
    vertices = shapely.get_num_coordinates(com.geometry.values)
    assert np.median(vertices) > 30  # aggregated cells, not straight Voronoi edges
    solidity = shapely.area(com.geometry.values) / shapely.area(shapely.convex_hull(com.geometry.values))
    assert (solidity < 0.85).sum() >= 3  # some clearly concave
    has_hole = [g.geom_type == "Polygon" and len(g.interiors) > 0 for g in com.geometry]
    assert (com.geom_type == "MultiPolygon").any() and any(has_hole)  # the 飞地 and the community around it


def test_community_codes_follow_the_statistical_division_code(district):
    com = district["communities"]
    assert com["code"].is_unique
    assert com["code"].str.fullmatch(r"330106\d{6}").all()
    township = com["code"].str[6:9].astype(int)
    segment = com["code"].str[9:].astype(int)
    urban = com["class"] == "urban"
    assert set(com.loc[urban, "code"].str[6:9]) == {"001", "002", "003"}  # 街道 001-099
    assert set(com.loc[~urban, "code"].str[6:9]) == {"101"}  # 镇 100-199
    assert segment[urban].between(1, 199).all() and segment[~urban].between(200, 399).all()
    assert township[urban].between(1, 99).all()
    assert (com["street_code"] == com["code"].str[:9]).all()
    assert (com["district_code"] == "330106").all() and (com["district_name"] == "示范区").all()
    assert 5 <= (~urban).sum() <= 8
    assert com.loc[urban, "urban_rural_code"].isin(["111", "112"]).all()
    assert (com.loc[~urban, "urban_rural_code"] == "220").all()
    assert com["name"].is_unique


def test_household_totals_are_realistic(district):
    com, bld = district["communities"], district["buildings"]
    regular = bld[~bld["building_id"].isin(EXCEPTIONS)]
    owner = _owner(shapely.centroid(regular.geometry.values), com)
    code = np.array([com["code"].iat[owner[i][0]] for i in range(len(regular))])
    totals = regular["households"].astype("Float64").fillna(0).groupby(code).sum()
    cls = com.set_index("code")["class"]
    assert totals[cls[cls == "urban"].index].between(1500, 5000).all()
    assert totals[cls[cls == "rural"].index].between(200, 800).all()


# ------------------------------------------------------------------------------------------- buildings


def test_building_attributes(district):
    bld = district["buildings"]
    assert bld["building_id"].is_unique
    assert set(bld["use"]) <= {"residential", "school", "hospital", "commercial", "industrial", "public"}
    res = bld[bld["use"] == "residential"]
    missing = res["households"].isna()
    assert 0.03 < missing.mean() < 0.07
    assert res.loc[missing, "floors"].notna().all() and (shapely.area(res.loc[missing].geometry.values) > 0).all()
    assert res.loc[missing, "population"].isna().any() and res.loc[missing, "population"].notna().any()
    known = res[~missing]
    ratio = known["population"].astype(float) / known["households"].astype(float)
    assert ratio.between(2.5, 3.0).all()
    com = district["communities"]
    urban_area = shapely.coverage_union_all(com.geometry.values[(com["class"] == "urban").to_numpy()])
    in_urban = shapely.within(shapely.centroid(known.geometry.values), urban_area)
    assert known.loc[in_urban, "households"].between(12, 120).all()
    assert known.loc[in_urban, "floors"].between(3, 33).all()
    assert known.loc[~in_urban, "households"].between(1, 2).all()
    rings, ring = shapely.get_coordinates(known[in_urban].to_crs(32651).geometry.values, return_index=True)
    same = ring[1:] == ring[:-1]
    sides = np.hypot(*np.diff(rings, axis=0)[same].T)
    assert sides.min() > 14.9 and sides.max() < 60.1
    assert (bld.loc[bld["use"] != "residential", "households"] == 0).all()


def test_buildings_do_not_overlap_and_respect_boundaries_roads_rivers(district):
    bld, com = district["buildings"], district["communities"]
    geoms = bld.geometry.values
    i, j = STRtree(geoms).query(geoms, predicate="intersects")
    assert not (i != j).any(), "buildings overlap"
    inside = _owner(geoms, com)
    outside = {bld["building_id"].iat[k] for k in range(len(bld)) if k not in inside}
    assert outside == {BOUNDARY_CROSSER_ID}
    crossing = bld.loc[[k for k in range(len(bld)) if k not in inside]]
    assert len(_owner(crossing.geometry.values, com, "intersects")[0]) == 2
    on_road = _owner(geoms, district["roads"], "intersects")
    assert {bld["building_id"].iat[k] for k in on_road} == {ROAD_STRADDLER_ID}
    assert not _owner(geoms, district["rivers"], "intersects")
    assert set(bld.attrs["exceptions"]) == EXCEPTIONS


def test_roads_rivers_dedicated(district):
    roads, rivers, ded = district["roads"], district["rivers"], district["dedicated"]
    assert (roads.geom_type == "LineString").all() and set(roads["kind"]) == {"主干路", "次干路", "支路"}
    assert roads["name"].notna().all()
    assert len(rivers) == 1 and rivers.geom_type.iat[0] == "LineString" and rivers["name"].iat[0]
    river_m = rivers.to_crs(32651).geometry.iat[0]
    assert river_m.length > 1.05 * shapely.distance(*[shapely.Point(c) for c in np.asarray(river_m.coords)[[0, -1]]])
    assert 10 <= len(ded) <= 15
    assert set(ded["kind"]) <= {"school", "hospital", "park", "industrial_park", "market", "government"}
    owner = _owner(ded.geometry.values, district["communities"])
    assert len(owner) == len(ded) and all(len(v) == 1 for v in owner.values())
    holding = _owner(district["buildings"].geometry.values, ded)
    non_res = district["buildings"].iloc[sorted(holding)]
    assert len(non_res) > 0 and (non_res["use"] != "residential").all()


# ------------------------------------------------------------------------------------------- departments


def test_zongzhi_layer_has_the_planted_defects(district):
    zz, com = district["dept_综治"], district["communities"]
    defects = zz.attrs["defects"]
    assert set(defects) == {"crosses_community", "bowtie", "gap_near"}
    assert zz["dept_id"].str.fullmatch(r"ZZ-\d{4}").all() and zz["dept_id"].is_unique
    invalid = zz.loc[~zz.is_valid, "dept_id"].tolist()
    assert invalid == [defects["bowtie"]]
    assert "Self-intersection" in shapely.is_valid_reason(zz.loc[~zz.is_valid].geometry.iat[0])
    crossing = zz.loc[zz["dept_id"] == defects["crosses_community"]].to_crs(32651).geometry.iat[0]
    shares = shapely.area(shapely.intersection(crossing, com.to_crs(32651).geometry.values))
    assert (shares > 500).sum() == 2
    valid = zz[zz.is_valid]
    overlap = shapely.area(valid.to_crs(32651).geometry.values).sum() - shapely.union_all(valid.to_crs(32651).geometry.values).area
    assert overlap > 1000  # jittered edges overlap their neighbours
    assert 100 < len(zz) < 300


def test_chengguan_and_dangjian_layers(district):
    cg, dj = district["dept_城管"], district["dept_党建"]
    areas = area_m2(cg)
    assert np.median(areas) > 0.12e6 and areas.max() < 0.37e6
    assert cg["名称"].str.contains("城管责任区").all() and cg["id"].is_unique
    assert dj["code"].str.fullmatch(r"DJ330106\d{6}\d{2}").all()
    assert len(dj) < len(district["dept_综治"])
    com_area = area_m2(district["communities"]).sum()
    assert area_m2(dj).sum() < 0.99 * com_area  # gaps


# ------------------------------------------------------------------------------------------- tables


def _id_check(first17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


def test_staff_roster(district):
    staff, com = district["staff"], district["communities"]
    assert list(staff.columns) == ["name", "phone", "role", "grid_code", "id_number"]
    assert staff["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert staff["grid_code"].str.fullmatch(r"\d{15}").all()
    assert staff["grid_code"].str[:12].isin(set(com["code"])).all()
    assert set(staff["role"]) == {"网格长", "专职网格员", "兼职网格员"}
    per_grid = staff[staff["role"] == "网格长"].groupby("grid_code").size()
    assert (per_grid == 1).all() and set(per_grid.index) == set(staff["grid_code"])
    assert staff["id_number"].str.fullmatch(r"\d{17}[\dX]").all()
    assert all(n[-1] == _id_check(n[:17]) for n in staff["id_number"])


def test_incidents(district, written):
    inc = district["incidents"]
    assert 1900 <= len(inc) <= 2100 and inc["id"].is_unique
    assert set(inc["category"]) == {"市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "其他", "矛盾纠纷", "安全隐患", "民生服务"}
    assert set(inc["status"]) <= {"上报", "受理", "派遣", "处置", "核查", "结案", "评价"}
    when = pd.to_datetime(inc["reported_at"], format="ISO8601")
    end = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
    assert (when <= end).all() and (when >= end - timedelta(days=60)).all()
    assert inc["reported_at"].str.endswith("+08:00").all()
    points = read_vector(written / "incidents.csv")
    assert points.crs.to_epsg() == 4326 and len(points) == len(inc)
    whole = shapely.coverage_union_all(district["communities"].geometry.values)
    outside = ~shapely.within(points.geometry.values, whole)
    assert 3 <= outside.sum() <= 10


# ------------------------------------------------------------------------------------------- files


def test_files_are_readable_small_and_in_cgcs2000(written):
    total = sum((written / name).stat().st_size for name in SAMPLE_FILES)
    assert total < 5 * 1024 * 1024
    for name in SAMPLE_FILES:
        if name.endswith((".geojson", ".gpkg", ".shp", ".fgb")):
            frame = read_vector(written / name)
            assert len(frame) > 0 and frame.crs.to_epsg() == 4490, name
    com = read_vector(written / "communities.geojson")
    assert shapely.coverage_is_valid(com.geometry.values)
    bld = read_vector(written / "buildings.gpkg")
    assert bld["households"].isna().any() and {"building_id", "population", "floors", "use", "name"} <= set(bld.columns)


def test_chengguan_shapefile_is_gbk_without_cpg(written):
    shp = written / "departments" / "城管.shp"
    assert not shp.with_suffix(".cpg").exists()
    raw = shp.with_suffix(".dbf").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw[int.from_bytes(raw[8:10], "little"):].decode("utf-8")
    assert dbf_encoding(shp) == "gb18030"
    frame = read_vector(shp)
    assert "名称" in frame.columns
    assert frame["名称"].str.fullmatch(r"(文华|翠湖|灵溪)街道城管责任区\d{2}|溪源镇城管责任区\d{2}").all()


# ------------------------------------------------------------------------------------------- city, layers


def test_small_city(city):
    com, bld = city["communities"], city["buildings"]
    assert set(city) == {"communities", "buildings", "roads", "rivers", "dedicated"}
    assert len(com) == 40 and len(bld) == 3000
    assert shapely.coverage_is_valid(com.geometry.values)
    assert com["code"].str.fullmatch(r"\d{12}").all() and com["code"].is_unique
    geoms = bld.geometry.values
    i, j = STRtree(geoms).query(geoms, predicate="intersects")
    assert not (i != j).any()
    assert len(_owner(geoms, com)) == len(bld)
    assert bld["households"].isna().any()
    again = generate_city(n_communities=40, n_buildings=3000, seed=1)
    assert_geodataframe_equal(again["buildings"], bld)


def test_department_layers_overlap_and_disagree(city):
    layers = generate_department_layers(city["communities"], n_layers=3, polygons_per_layer=300, seed=2)
    assert list(layers) == ["综治", "城管", "党建"]
    whole = shapely.coverage_union_all(city["communities"].to_crs(32651).geometry.values)
    for name, layer in layers.items():
        assert layer.crs.to_epsg() == 4490 and layer["dept_id"].is_unique
        assert 200 <= len(layer) <= 450, (name, len(layer))
        valid = layer[layer.is_valid].to_crs(32651).geometry.values
        union = shapely.union_all(valid)
        assert shapely.area(valid).sum() > union.area  # overlaps between neighbours
        assert union.symmetric_difference(whole).area > 0  # and it does not match the communities
    a, b = layers["综治"].geometry, layers["城管"].geometry
    assert len(a) != len(b) or not a.geom_equals(b).all()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_communities"):
        generate_district(n_communities=2)
    with pytest.raises(ValueError, match="199"):
        generate_district(n_communities=800)
    with pytest.raises(ValueError, match="scale"):
        generate_district(scale=0)
