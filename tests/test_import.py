"""Import: each format reads, each kind of bad input gets a clear error, and nothing is half-written."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gis.errors import VectorInputError
from gridplanner.importing import import_file
from tests.conftest import count
from tests.helpers import X0, Y0, communities_gdf, write


def test_communities_import_with_hierarchy(db, tmp_path):
    path = write(communities_gdf(), tmp_path / "c.geojson")
    report = import_file(db, "communities", path)
    assert (report.inserted, report.updated) == (2, 0)
    assert count(db, "communities") == 2
    assert db.execute(shapely_sql("SELECT kind FROM streets WHERE code = '330106001'")).scalar_one() == "街道"
    again = import_file(db, "communities", path)
    assert (again.inserted, again.updated) == (0, 2)
    assert count(db, "communities") == 2


def shapely_sql(sql):
    from sqlalchemy import text

    return text(sql)


@pytest.mark.parametrize("suffix,driver", [(".gpkg", "GPKG"), (".fgb", "FlatGeobuf"), (".shp", "ESRI Shapefile"), (".geojson", "GeoJSON")])
def test_every_format_imports(db, tmp_path, suffix, driver):
    path = write(communities_gdf(), tmp_path / f"c{suffix}", driver=driver)
    assert import_file(db, "communities", path).inserted == 2


def test_other_crs_is_reprojected_to_cgcs2000(db, tmp_path):
    path = write(communities_gdf().to_crs(4549), tmp_path / "gk.gpkg")
    import_file(db, "communities", path)
    x = db.execute(shapely_sql("SELECT ST_XMin(geom) FROM communities ORDER BY code LIMIT 1")).scalar_one()
    assert x == pytest.approx(X0, abs=1e-7)
    assert db.execute(shapely_sql("SELECT DISTINCT ST_SRID(geom) FROM communities")).scalar_one() == 4490


def test_gbk_shapefile_without_cpg_reads_chinese(db, tmp_path):
    gdf = communities_gdf()
    gdf["name"] = ["西湖社区", "翠苑村"]
    path = write(gdf, tmp_path / "gbk.shp", encoding="GBK")
    tmp_path.joinpath("gbk.cpg").unlink(missing_ok=True)
    assert "西湖社区".encode("gbk") in tmp_path.joinpath("gbk.dbf").read_bytes()
    import_file(db, "communities", path)
    names = db.execute(shapely_sql("SELECT name FROM communities ORDER BY code")).scalars().all()
    assert names == ["西湖社区", "翠苑村"]


def test_csv_points_with_lon_lat_and_field_mapping(db, tmp_path):
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    csv = tmp_path / "b.csv"
    csv.write_text(f"编号,经度,纬度,户数\nB1,{X0 + 0.005},{Y0 + 0.005},24\nB2,{X0 + 0.015},{Y0 + 0.005},36\nB3,121.9,31.2,5\n", encoding="utf-8")
    report = import_file(db, "buildings", csv, fields={"building_id": "编号"})
    assert report.inserted == 3
    rows = db.execute(shapely_sql("SELECT source_id, households, community_code FROM buildings ORDER BY source_id")).all()
    assert [tuple(r) for r in rows] == [("B1", 24, "330106001001"), ("B2", 36, "330106001002"), ("B3", 5, None)]
    assert report.unplaced == ["building B3 lies in no community (kept, without community)"]


def test_department_layer_replaces_and_ids_default(db, tmp_path):
    gdf = communities_gdf().rename(columns={"code": "dept_id"})
    path = write(gdf, tmp_path / "zz.gpkg")
    rep = import_file(db, "layer", path, department="综治")
    assert rep.inserted == 2 and rep.notes == ["grid ids from field dept_id"]
    rep2 = import_file(db, "layer", path, department="综治")
    assert rep2.replaced == 2
    assert count(db, "department_grids") == 2 and count(db, "department_layers") == 1


def test_repairable_geometry_is_repaired_and_reported(db, tmp_path):
    gdf = communities_gdf()
    gdf.loc[0, "geometry"] = shapely.Polygon([(X0, Y0), (X0 + 0.01, Y0 + 0.01), (X0 + 0.01, Y0), (X0, Y0 + 0.01)])
    report = import_file(db, "communities", write(gdf, tmp_path / "bowtie.geojson"))
    assert len(report.repairs) == 1
    assert "feature 0 (330106001001): repaired invalid geometry (Self-intersection" in report.repairs[0]
    assert db.execute(shapely_sql("SELECT bool_and(ST_IsValid(geom)) FROM communities")).scalar_one()


# ---- bad input: a clear error naming file, feature and problem; nothing written ----------------------------


def _bad(db, tmp_path, gdf, name="bad.geojson", kind="communities", **write_kwargs):
    path = write(gdf, tmp_path / name, **write_kwargs)
    with pytest.raises(VectorInputError) as info:
        import_file(db, kind, path)
    assert str(path) in str(info.value)
    for table in ("communities", "buildings", "streets", "districts", "audit_log"):
        assert count(db, table) == 0, f"{table} was written"
    return str(info.value)


def test_unreadable_file(db, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{ this is not json")
    with pytest.raises(VectorInputError, match=r"broken\.geojson: cannot read"):
        import_file(db, "communities", path)
    assert count(db, "communities") == 0


def test_missing_file(db, tmp_path):
    with pytest.raises(VectorInputError, match="file not found"):
        import_file(db, "communities", tmp_path / "nope.gpkg")


def test_no_crs(db, tmp_path):
    path = write(communities_gdf(), tmp_path / "nocrs.shp")
    tmp_path.joinpath("nocrs.prj").unlink()
    with pytest.raises(VectorInputError, match="has no CRS"):
        import_file(db, "communities", path)
    assert import_file(db, "communities", path, crs="EPSG:4490").inserted == 2


def test_empty_geometry(db, tmp_path):
    gdf = communities_gdf()
    gdf.loc[1, "geometry"] = shapely.Polygon()
    msg = _bad(db, tmp_path, gdf)
    assert "feature 1 (330106001002): empty or missing geometry" in msg


def test_invalid_geometry_that_cannot_be_repaired(db, tmp_path):
    gdf = communities_gdf()
    # A ring that folds back on itself encloses no area: nothing polygonal survives repair.
    gdf.loc[0, "geometry"] = shapely.Polygon([(X0, Y0), (X0 + 0.01, Y0), (X0 + 0.02, Y0), (X0, Y0)])
    msg = _bad(db, tmp_path, gdf, name="flat.gpkg")
    assert "feature 0 (330106001001): invalid geometry that cannot be repaired" in msg


def test_duplicate_codes(db, tmp_path):
    msg = _bad(db, tmp_path, communities_gdf(codes=("330106001001", "330106001001")))
    assert "feature 1 (330106001001): code '330106001001': duplicate of row 0" in msg


@pytest.mark.parametrize(
    "code,reason",
    [
        ("33010600100", "a community code must be 12 digits"),
        ("3301060010011", "a community code must be 12 digits"),
        ("33010600100A", "a division code must be 12 digits"),
        ("330106700001", "township part 700 is outside 001–599"),
        ("330106001400", "community part 400 is outside 居委会 001–199 / 村委会 200–399"),
        ("990106001001", "province part 99 is not a GB/T 2260 province"),
    ],
)
def test_malformed_codes(db, tmp_path, code, reason):
    msg = _bad(db, tmp_path, communities_gdf(codes=("330106001001", code)))
    assert f"feature 1 ({code}): code '{code}': {reason}" in msg


def test_code_not_under_its_street(db, tmp_path):
    gdf = communities_gdf()
    gdf["street_code"] = ["330106001", "330106002"]
    msg = _bad(db, tmp_path, gdf)
    assert "feature 1 (330106001002): code '330106001002': does not sit under its parent '330106002'" in msg


def test_coordinates_outside_china(db, tmp_path):
    gdf = communities_gdf()
    gdf = gdf.set_geometry(gdf.geometry.translate(xoff=-100))  # near lon 20: Europe
    msg = _bad(db, tmp_path, gdf)
    assert "feature 0 (330106001001): coordinates (20.100000, 30.270000) lie outside China" in msg


def test_swapped_lon_lat(db, tmp_path):
    gdf = communities_gdf()
    gdf = gdf.set_geometry(shapely.transform(gdf.geometry.values, lambda xy: xy[:, ::-1]))
    msg = _bad(db, tmp_path, gdf)
    assert "lie outside China (longitude and latitude look swapped)" in msg


def test_wrong_geometry_type(db, tmp_path):
    gdf = communities_gdf()
    gdf = gdf.set_geometry(gdf.geometry.representative_point())
    msg = _bad(db, tmp_path, gdf)
    assert "layer holds Point features, expected polygon" in msg


def test_bad_household_values_name_the_feature(db, tmp_path):
    gdf = gpd.GeoDataFrame({"building_id": ["a", "b", "c"], "households": ["12", "-3", "many"]}, geometry=[shapely.Point(X0 + 0.001 * i, Y0 + 0.001) for i in range(3)], crs=4490)
    msg = _bad(db, tmp_path, gdf, kind="buildings")
    assert "feature 1 (b): households (households) is '-3'" in msg and "feature 2 (c): households (households) is 'many'" in msg


def test_a_late_failure_rolls_back_everything(db, tmp_path, monkeypatch):
    """A failure after rows were written (here: placing buildings) takes those rows back too."""
    import gridplanner.importing.write as write_mod

    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(write_mod, "assign_buildings_to_communities", fail)
    with pytest.raises(RuntimeError):
        import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    for table in ("communities", "streets", "districts", "audit_log"):
        assert count(db, table) == 0
