"""``gridplanner incidents``: hotline import, counts, catalogue, lifecycle steps, clear errors."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from gridplanner.cli import app
from gridplanner.store.database import session_scope
from tests.test_incidents import hotline_csv, row
from tests.test_staffing import N1, S2, world

runner = CliRunner()


def test_incidents_cli(committed_db, tmp_path):
    with session_scope() as s:
        world(s, tmp_path)
    (tmp_path / "bad.csv").write_bytes(hotline_csv([row(1), row(2, category="市政")]))
    res = runner.invoke(app, ["incidents", "import", str(tmp_path / "bad.csv")])
    assert res.exit_code == 2 and "row 3: unknown category 市政" in res.output
    (tmp_path / "h.csv").write_bytes(hotline_csv([row(1, N1), row(2, S2, status="派遣"), row(3, None)]))
    res = runner.invoke(app, ["incidents", "import", str(tmp_path / "h.csv")])
    assert res.exit_code == 0, res.output
    assert "3 inserted, 0 already present, 1 in no grid" in res.output and "RX0003" in res.output
    res = runner.invoke(app, ["incidents", "counts"])
    assert res.exit_code == 0 and "无网格" in res.output and "open 3" in res.output
    with committed_db.connect() as conn:
        iid = conn.execute(text("SELECT id FROM incidents WHERE external_id = 'RX0001'")).scalar_one()
    assert runner.invoke(app, ["incidents", "advance", str(iid), "受理", "--actor", "坐席"]).exit_code == 0
    res = runner.invoke(app, ["incidents", "advance", str(iid), "结案", "--actor", "坐席"])
    assert res.exit_code == 2 and "cannot go to 结案" in res.output
    res = runner.invoke(app, ["incidents", "set-category", "市容环境", "--hours", "5"])
    assert res.exit_code == 0
    res = runner.invoke(app, ["incidents", "advance", str(iid), "派遣", "--actor", "指挥中心"])
    assert res.exit_code == 0 and "due" in res.output
    with committed_db.connect() as conn:
        hours = conn.execute(text("SELECT extract(epoch FROM due_at - dispatched_at) / 3600 FROM incidents WHERE id = :i"), {"i": iid}).scalar_one()
        assert float(hours) == 5
    res = runner.invoke(app, ["incidents", "categories"])
    assert res.exit_code == 0 and "民生服务" in res.output
