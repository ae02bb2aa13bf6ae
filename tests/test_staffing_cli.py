"""``gridplanner staff``: import (clear errors, exit 2, nothing written), compliance, exports, unsettled."""

from __future__ import annotations

import io

import pandas as pd
from openpyxl import load_workbook
from sqlalchemy import text
from typer.testing import CliRunner

from gridplanner.cli import app
from gridplanner.store.database import session_scope
from tests.test_staffing import S1, full_roster, roster_csv, world

runner = CliRunner()


def committed_world(tmp_path):
    with session_scope() as s:
        world(s, tmp_path)


def test_staff_import_compliance_and_export(committed_db, tmp_path):
    committed_world(tmp_path)
    bad = full_roster()
    bad[0] = ("甲", "1380013800", "网格长", bad[0][3], "")
    (tmp_path / "bad.csv").write_bytes(roster_csv(bad))
    res = runner.invoke(app, ["staff", "import", str(tmp_path / "bad.csv")])
    assert res.exit_code == 2 and "row 2: phone '1380013800'" in res.output and "nothing was written" in res.output
    with committed_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff")).scalar_one() == 0
    (tmp_path / "roster.csv").write_bytes(roster_csv(full_roster()))
    res = runner.invoke(app, ["staff", "import", str(tmp_path / "roster.csv")])
    assert res.exit_code == 0, res.output
    assert "10 inserted" in res.output
    res = runner.invoke(app, ["staff", "compliance", "--level", "grid"])
    assert res.exit_code == 0 and "超负荷" in res.output and "缺员: 2" in res.output
    res = runner.invoke(app, ["staff", "compliance", "--level", "grid", "--max-households", "700", "--out", str(tmp_path / "c.csv")])
    assert res.exit_code == 0
    frame = pd.read_csv(tmp_path / "c.csv", encoding="utf-8-sig", dtype=str)
    assert frame.set_index("网格编码").loc[S1, "状态"] == "配齐"
    assert runner.invoke(app, ["staff", "compliance", "--max-households", "0"]).exit_code == 2
    res = runner.invoke(app, ["staff", "export", "--out", str(tmp_path / "roster.xlsx")])
    assert res.exit_code == 0
    assert load_workbook(io.BytesIO((tmp_path / "roster.xlsx").read_bytes()))["花名册"].max_row == 11
    assert runner.invoke(app, ["staff", "export", "--out", str(tmp_path / "roster.txt")]).exit_code == 2
    res = runner.invoke(app, ["staff", "unsettled"])
    assert res.exit_code == 0 and "nothing to settle" in res.output
