"""``gridplanner codes``: assign, check, decode, beidou."""

import geopandas as gpd
import pandas as pd
import shapely
from typer.testing import CliRunner

from gridplanner.cli import app

C = "110105002011"
runner = CliRunner()


def write_grids(path, kinds=("basic", "basic", "dedicated", "basic")):
    geoms = [shapely.box(116.40 + i * 0.004, 39.90 - (j + 1) * 0.004, 116.40 + (i + 1) * 0.004, 39.90 - j * 0.004) for j in range(2) for i in range(2)]
    gpd.GeoDataFrame({"community_code": [C] * 4, "type": list(kinds)}, geometry=geoms, crs=4490).to_file(path)
    return geoms


def test_assign_then_reassign_keeps_codes(tmp_path):
    write_grids(tmp_path / "g.gpkg")
    res = runner.invoke(app, ["codes", "assign", "--grids", str(tmp_path / "g.gpkg"), "--out", str(tmp_path / "a.gpkg")])
    assert res.exit_code == 0, res.output
    first = gpd.read_file(tmp_path / "a.gpkg")
    assert first["code"].tolist() == [C + "001", C + "002", C + "901", C + "003"]

    retired = tmp_path / "retired.txt"
    retired.write_text(f"# retired earlier\n{C}004\n", encoding="utf-8")
    args = ["codes", "assign", "--grids", str(tmp_path / "g.gpkg"), "--previous", str(tmp_path / "a.gpkg"),
            "--retired", str(retired), "--out", str(tmp_path / "b.gpkg"), "--lineage", str(tmp_path / "lin.csv")]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "4 kept" in res.output
    assert gpd.read_file(tmp_path / "b.gpkg")["code"].tolist() == first["code"].tolist()
    assert set(pd.read_csv(tmp_path / "lin.csv")["kind"]) == {"kept"}


def test_assign_reports_bad_rule_and_bad_input(tmp_path):
    write_grids(tmp_path / "g.gpkg")
    res = runner.invoke(app, ["codes", "assign", "--grids", str(tmp_path / "g.gpkg"), "--out", str(tmp_path / "x.gpkg"), "--rule", "{community}{seq:03"])
    assert res.exit_code == 2 and "'{' is never closed" in res.output
    write_grids(tmp_path / "bad.gpkg", kinds=("basic", "park", "basic", "basic"))
    res = runner.invoke(app, ["codes", "assign", "--grids", str(tmp_path / "bad.gpkg"), "--out", str(tmp_path / "x.gpkg")])
    assert res.exit_code == 2 and "unknown grid type" in res.output and "nothing was written" in res.output
    assert not (tmp_path / "x.gpkg").exists()


def test_check_codes_and_parents(tmp_path):
    table = tmp_path / "communities.csv"
    table.write_text("code,street\n110105002011,110105002\n110105002012,110105003\n110105002411,110105002\n", encoding="utf-8")
    res = runner.invoke(app, ["codes", "check", str(table), "--field", "code", "--kind", "community", "--parent-field", "street"])
    assert res.exit_code == 1
    assert "2 problem(s) in 3 codes" in res.output
    assert "does not sit under its parent '110105003'" in res.output and "community part 411" in res.output

    grids = tmp_path / "grids.csv"
    grids.write_text(f"code\n{C}001\n{C}002\n", encoding="utf-8")
    res = runner.invoke(app, ["codes", "check", str(grids), "--field", "code"])
    assert res.exit_code == 0 and "all valid" in res.output


def test_decode_and_beidou():
    res = runner.invoke(app, ["codes", "decode", C + "901"])
    assert res.exit_code == 0 and '"grid_type": "dedicated"' in res.output and '"township_kind": "街道"' in res.output
    res = runner.invoke(app, ["codes", "beidou", "116.31260277777778", "39.993161111111114", "--level", "8"])
    assert res.exit_code == 0 and res.output.splitlines()[0] == "N50J47539B825534"
    res = runner.invoke(app, ["codes", "decode", "N50J47539B825534"])
    assert res.exit_code == 0 and '"level": 8' in res.output
    res = runner.invoke(app, ["codes", "decode", "N50J4"])
    assert res.exit_code == 1 and "length 5" in res.output


def test_assign_writes_cgcs2000_whatever_the_input_crs(tmp_path):
    write_grids(tmp_path / "g.gpkg")
    gpd.read_file(tmp_path / "g.gpkg").to_crs(4549).to_file(tmp_path / "gk.gpkg")
    res = runner.invoke(app, ["codes", "assign", "--grids", str(tmp_path / "gk.gpkg"), "--out", str(tmp_path / "a.geojson")])
    assert res.exit_code == 0, res.output
    coded = gpd.read_file(tmp_path / "a.geojson")
    assert coded.crs.to_epsg() == 4490 and coded["code"].tolist() == [C + "001", C + "002", C + "901", C + "003"]
