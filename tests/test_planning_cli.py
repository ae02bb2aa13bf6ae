"""``gridplanner plan`` on files: outputs by extension, the report, clear errors."""

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from gridplanner.cli import app
from test_planning import frame, lattice_buildings
from test_planning_checks import assert_guarantees

runner = CliRunner()


def flat(res):
    return " ".join(res.output.split())


@pytest.fixture()
def inputs(tmp_path):
    rng = np.random.default_rng(11)
    comm = frame([shapely.box(0, 0, 600, 500), shapely.box(600, 0, 1200, 500)], code=["110101001001", "110101001002"])
    blds, hh = lattice_buildings(rng, (0, 0, 1200, 500), hh=(10, 50))
    inside = [i for i, g in enumerate(blds) if g.intersects(shapely.box(0, 0, 1200, 500))]
    blds, hh = [blds[i] for i in inside], [hh[i] for i in inside]
    blds.append(shapely.box(3000, 3000, 3010, 3010))  # in no community
    hh.append(5)
    b = frame(blds, households=hh)
    roads = frame([shapely.LineString([(300, -10), (300, 510)])])
    paths = {"communities": tmp_path / "c.geojson", "buildings": tmp_path / "b.gpkg", "roads": tmp_path / "r.fgb"}
    comm.to_file(paths["communities"])
    b.to_file(paths["buildings"])
    roads.to_file(paths["roads"])
    return paths, comm, b


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".fgb", ".shp"])
def test_plan_writes_grids_and_report(inputs, tmp_path, ext):
    paths, comm, b = inputs
    out, report = tmp_path / f"grids{ext}", tmp_path / "report.json"
    res = runner.invoke(app, ["plan", "--communities", str(paths["communities"]), "--buildings", str(paths["buildings"]),
                              "--roads", str(paths["roads"]), "--min-households", "200", "--max-households", "400",
                              "--out", str(out), "--report", str(report)])
    assert res.exit_code == 0, res.output
    grids = pyogrio.read_dataframe(out)
    assert grids.crs.to_epsg() == 4490
    fields = {"community_code", "households", "population", "type", "area_m2", "buildings"}
    if ext == ".shp":  # dBASE keeps 10 characters of a field name
        fields = {f[:10] for f in fields}
    assert fields <= set(grids.columns)
    rep = json.loads(report.read_text())
    assert len(rep["unplaced"]) == 1 and rep["self_check"]["ok"]
    assert grids["households"].sum() == sum(c["households"] for c in rep["communities"])
    if ext == ".gpkg":
        from gridplanner.planning import PlanResult
        assert_guarantees(PlanResult(gpd.read_file(out), rep), comm, b)


def test_plan_errors_are_clear(inputs, tmp_path):
    paths, _, _ = inputs
    base = ["plan", "--communities", str(paths["communities"]), "--out", str(tmp_path / "g.gpkg")]
    res = runner.invoke(app, base)
    assert res.exit_code == 2 and "no buildings file" in flat(res)
    res = runner.invoke(app, base + ["--buildings", str(paths["buildings"]), "--min-households", "600"])
    assert res.exit_code == 2 and "greater than max" in flat(res)
    res = runner.invoke(app, base + ["--buildings", str(tmp_path / "missing.gpkg")])
    assert res.exit_code == 2 and "missing.gpkg: file not found" in flat(res)
    res = runner.invoke(app, base + ["--buildings", str(paths["buildings"]), "--code-field", "zone"])
    assert res.exit_code == 2 and "no 'zone' field" in flat(res)
    # Roads given as polygons: the file and the problem are named.
    res = runner.invoke(app, base + ["--buildings", str(paths["buildings"]), "--roads", str(paths["communities"])])
    assert res.exit_code == 2 and "c.geojson" in flat(res) and "expected line" in flat(res)
    assert not (tmp_path / "g.gpkg").exists()
