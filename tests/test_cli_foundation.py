"""The CLI against the real store: db status, import success and failure."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from gridplanner.cli import app
from tests.helpers import communities_gdf, write

runner = CliRunner()


def test_db_status_reports_versions(test_database_url):
    res = runner.invoke(app, ["db", "status"])
    assert res.exit_code == 0, res.output
    from alembic.script import ScriptDirectory

    from gridplanner.store.database import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert "PostGIS 3." in res.output and f"schema revision {head}" in res.output


def test_import_reports_counts(committed_db, tmp_path):
    path = write(communities_gdf(), tmp_path / "c.gpkg")
    res = runner.invoke(app, ["import", "communities", str(path)])
    assert res.exit_code == 0, res.output
    assert "2 inserted" in res.output
    with committed_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM communities")).scalar_one() == 2


def test_import_bad_input_exits_2_and_writes_nothing(committed_db, tmp_path):
    gdf = communities_gdf(codes=("330106001001", "3301060010"))
    path = write(gdf, tmp_path / "bad.geojson")
    res = runner.invoke(app, ["import", "communities", str(path)])
    assert res.exit_code == 2
    assert "bad.geojson: feature 1 (3301060010): code '3301060010': a community code must be 12 digits" in res.output
    assert "nothing was imported" in res.output
    with committed_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM communities")).scalar_one() == 0


def test_field_mapping_syntax_error(test_database_url, tmp_path):
    path = write(communities_gdf(), tmp_path / "c.gpkg")
    res = runner.invoke(app, ["import", "communities", str(path), "--field", "code"])
    assert res.exit_code != 0 and "ours=theirs" in res.output
