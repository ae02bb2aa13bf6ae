"""``gridplanner merge`` on files: GeoPackage, Shapefile and FlatGeobuf layers in; grids, crosswalk, report out."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely import box
from typer.testing import CliRunner

from gridplanner.cli import app

METRIC = 4549
X0, Y0 = 500_000.0, 3_350_000.0


def frame(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=METRIC)).to_crs(4490)


def quads(dx=0.0):
    return [box(X0 + cx + i + dx, Y0 + j, X0 + cx + i + 200 + dx, Y0 + j + 200) for cx in (0, 400) for i in (0, 200) for j in (0, 200)]


def write_inputs(tmp_path):
    frame([box(X0, Y0, X0 + 400, Y0 + 400), box(X0 + 400, Y0, X0 + 800, Y0 + 400)], code=["C1", "C2"]).to_file(tmp_path / "c.gpkg")
    frame(quads(), dept_id=[f"ZZ-{i}" for i in range(8)]).to_file(tmp_path / "zz.gpkg")
    frame(quads(2.0), id=[f"CG-{i}" for i in range(8)]).to_file(tmp_path / "cg.shp", encoding="UTF-8")
    frame(quads(-1.5), code=[f"DJ-{i}" for i in range(8)]).to_file(tmp_path / "dj.fgb")


def test_merge_writes_grids_crosswalk_and_report(tmp_path):
    write_inputs(tmp_path)
    result = CliRunner().invoke(app, [
        "merge", "--communities", str(tmp_path / "c.gpkg"), "--layer", f"综治={tmp_path / 'zz.gpkg'}",
        "--layer", f"城管={tmp_path / 'cg.shp'}", "--layer", f"党建={tmp_path / 'dj.fgb'}", "--base", "综治",
        "--out", str(tmp_path / "out" / "unified.gpkg"), "--crosswalk", str(tmp_path / "out" / "cw.csv"),
        "--report", str(tmp_path / "out" / "report.json"),
    ])
    assert result.exit_code == 0, result.output
    grids = pyogrio.read_dataframe(tmp_path / "out" / "unified.gpkg")
    assert grids.crs.to_epsg() == 4490 and len(grids) == 8
    assert {"community_code", "grid_index", "households", "population", "type", "area_m2", "buildings", "dedicated_kind",
            "source", "base_id"} <= set(grids.columns)
    assert sorted(grids["source"]) == sorted(f"综治:ZZ-{i}" for i in range(8))
    cw = pd.read_csv(tmp_path / "out" / "cw.csv", encoding="utf-8-sig")
    assert set(cw["department"]) == {"综治", "城管", "党建"}
    assert {"department", "department_grid_id", "grid_code", "shared_area_m2", "share_of_department_grid",
            "share_of_unified_grid", "shared_households"} <= set(cw.columns)
    keys = set(zip(grids["community_code"], grids["grid_index"]))
    assert set(zip(cw["community_code"], cw["grid_index"])) <= keys and len(keys) == len(grids)
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["base"]["department"] == "综治" and report["summary"]["coverage_valid"]
    assert report["id_fields"] == {"综治": "dept_id", "城管": "id", "党建": "code"}


def test_merge_names_the_empty_layer(tmp_path):
    write_inputs(tmp_path)
    gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=4490)).to_file(tmp_path / "empty.gpkg")
    result = CliRunner().invoke(app, [
        "merge", "--communities", str(tmp_path / "c.gpkg"), "--layer", f"综治={tmp_path / 'zz.gpkg'}",
        "--layer", f"城管={tmp_path / 'empty.gpkg'}", "--out", str(tmp_path / "u.gpkg"), "--crosswalk", str(tmp_path / "cw.csv"),
    ])
    assert result.exit_code == 2
    assert "empty.gpkg" in result.output and "contains no features" in result.output
    assert not (tmp_path / "u.gpkg").exists()


def test_merge_names_the_file_of_a_bad_feature(tmp_path):
    write_inputs(tmp_path)
    bad = frame(quads(), id=[f"CG-{i}" for i in range(8)])
    bad.loc[3, "geometry"] = None
    bad.to_file(tmp_path / "bad.gpkg")
    result = CliRunner().invoke(app, [
        "merge", "--communities", str(tmp_path / "c.gpkg"), "--layer", f"综治={tmp_path / 'zz.gpkg'}",
        "--layer", f"城管={tmp_path / 'bad.gpkg'}", "--out", str(tmp_path / "u.gpkg"), "--crosswalk", str(tmp_path / "cw.csv"),
    ])
    assert result.exit_code == 2
    assert "bad.gpkg (layer 城管)" in result.output and "feature 3 (CG-3): empty or missing geometry" in result.output
