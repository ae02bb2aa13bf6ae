"""Staffing: roster checks and import (CSV, XLSX), the staffing rules, compliance and exports, the staff API,
and staff following the grids when a new plan is published."""

from __future__ import annotations

import io

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from gridplanner import plans
from gridplanner.importing import import_file
from gridplanner.staffing import compliance as comp
from gridplanner.staffing.roster import RosterError, import_roster
from gridplanner.staffing.rules import FULL, OVERLOADED, SHORT, StaffingRules, assess_communities, assess_grids
from gridplanner.staffing.validation import FieldError, clean_phone, mask_id_number
from tests.helpers import DX, DY, X0, Y0, communities_gdf, write

C1, C2 = "330106001001", "330106001002"
# Grids of the crafted world: each community cut into a north and a south half (codes 001 north, 002 south).
N1, S1, N2, S2 = C1 + "001", C1 + "002", C2 + "001", C2 + "002"
ID_OK = "11010519491231002X"  # the GB 11643 worked example


def half(i: int, north: bool) -> shapely.Polygon:
    x0, ym = X0 + i * DX, Y0 + DY / 2
    return shapely.box(x0, ym, x0 + DX, Y0 + DY) if north else shapely.box(x0, Y0, x0 + DX, ym)


def publish_grids(db, cells: list[tuple[str, shapely.Polygon, int]], name: str = "plan"):
    """Publish a plan whose grids are ``cells`` (community code, polygon, households)."""
    plan = plans.create_draft(db, name, from_published=False)
    gdf = gpd.GeoDataFrame(
        {"community_code": [c for c, _, _ in cells], "households": [h for _, _, h in cells], "population": [int(h * 2.8) for _, _, h in cells]},
        geometry=[g for _, g, _ in cells], crs=4490,
    )
    plans.write_grids(db, plan.id, gdf, source="test")
    return plans.publish(db, plan.id)


def world(db, tmp_path, households=(400, 600, 300, 300)):
    """Two communities, four grids (N1 400, S1 600, N2 300, S2 300 households), published."""
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    cells = [(C1, half(0, True), households[0]), (C1, half(0, False), households[1]), (C2, half(1, True), households[2]), (C2, half(1, False), households[3])]
    plan = publish_grids(db, cells, "v1")
    codes = dict(db.execute(text("SELECT code, households FROM grids WHERE plan_id = :p"), {"p": plan.id}).all())
    assert codes == {N1: households[0], S1: households[1], N2: households[2], S2: households[3]}
    return plan


def roster_csv(rows: list[tuple], header=("name", "phone", "role", "grid_code", "id_number")) -> bytes:
    buf = io.StringIO()
    pd.DataFrame(rows, columns=list(header)).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8-sig")


def full_roster() -> list[tuple]:
    """N1 and S1 fully staffed, N2 without 兼职网格员, S2 without 网格长."""
    rows = []
    for k, code in enumerate([N1, S1, N2, S2]):
        roles = ["网格长", "专职网格员", "兼职网格员"]
        if code == N2:
            roles.remove("兼职网格员")
        if code == S2:
            roles.remove("网格长")
        rows += [(f"员工{k}{j}", f"13{k}{j}0000{k:02d}{j}{j}"[:11], r, code, ID_OK) for j, r in enumerate(roles)]
    return rows


# --- field checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,clean", [("13800138000", "13800138000"), ("+86 139-0013-8000".replace("-", " "), "13900138000"), ("0571-87654321", "0571-87654321"), ("01062345678", "010-62345678"), ("0571-8765432转123", "0571-8765432-123")])
def test_phone_numbers_are_normalised(raw, clean):
    assert clean_phone(raw) == clean


@pytest.mark.parametrize("raw", ["12800138000", "1380013800", "138001380001", "87654321", "phone", "", "0571-1234567"])
def test_malformed_phones_are_refused(raw):
    with pytest.raises(FieldError):
        clean_phone(raw)


def test_id_numbers_are_checked_and_only_the_masked_form_comes_back():
    assert mask_id_number(ID_OK) == "110105********002X"
    assert mask_id_number("110105********002X") == "110105********002X"
    assert mask_id_number("") is None
    with pytest.raises(FieldError, match="check digit"):
        mask_id_number("110105194912310021")
    with pytest.raises(FieldError, match="birth date"):
        mask_id_number("110105194913310026")
    with pytest.raises(FieldError, match="18 characters"):
        mask_id_number("1101051949")


# --- roster import ------------------------------------------------------------------------------------


def test_roster_import_from_csv_stores_masked_ids_and_upserts(db, tmp_path):
    world(db, tmp_path)
    report = import_roster(db, roster_csv(full_roster()), "roster.csv")
    assert (report.inserted, report.updated) == (10, 0)
    ids = db.execute(text("SELECT DISTINCT id_number_masked FROM staff")).scalars().all()
    assert ids == ["110105********002X"]
    assert db.execute(text("SELECT count(*) FROM staff WHERE id_number_masked LIKE '%1949%'")).scalar_one() == 0
    again = import_roster(db, roster_csv(full_roster()[:4]), "roster.csv", replace=True)
    assert (again.inserted, again.updated, again.deactivated) == (0, 4, 6)
    assert db.execute(text("SELECT count(*) FROM staff WHERE active")).scalar_one() == 4


def test_roster_import_from_xlsx_with_chinese_headers(db, tmp_path):
    from openpyxl import Workbook

    world(db, tmp_path)
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机号", "岗位", "网格编码", "身份证号"])
    ws.append(["张三", "13800138000", "网格长", N1, ID_OK])
    ws.append(["李四", "0571-87654321", "专职", N1, None])
    buf = io.BytesIO()
    wb.save(buf)
    report = import_roster(db, buf.getvalue(), "花名册.xlsx")
    assert report.inserted == 2
    rows = db.execute(text("SELECT name, phone, role, id_number_masked FROM staff ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("张三", "13800138000", "网格长", "110105********002X"), ("李四", "0571-87654321", "专职网格员", None)]


def test_roster_errors_name_every_row_and_nothing_is_written(db, tmp_path):
    world(db, tmp_path)
    rows = full_roster()
    rows[1] = ("坏电话", "1234", "专职网格员", N1, ID_OK)
    rows[4] = ("错网格", "13700000000", "兼职网格员", "330106001001099", "")
    rows[5] = ("错证件", "13700000001", "兼职网格员", N1, "110105194912310021")
    with pytest.raises(RosterError) as err:
        import_roster(db, roster_csv(rows), "roster.csv")
    msg = str(err.value)
    assert "row 3: phone '1234'" in msg and "row 6: unknown grid code '330106001001099'" in msg and "row 7: ID number check digit" in msg
    assert [p.row for p in err.value.problems] == [3, 6, 7]
    assert db.execute(text("SELECT count(*) FROM staff")).scalar_one() == 0


def test_unknown_grid_codes_can_be_imported_unassigned_and_listed(db, tmp_path):
    world(db, tmp_path)
    rows = [("甲", "13800000001", "网格长", N1, ""), ("乙", "13800000002", "网格长", "330106001001099", "")]
    report = import_roster(db, roster_csv(rows), "r.csv", unknown_grid="unassign")
    assert report.inserted == 2 and report.unassigned == ["row 3: grid code '330106001001099' is not in the published plan; imported unassigned"]
    assert db.execute(text("SELECT grid_code FROM staff WHERE name = '乙'")).scalar_one() is None


def test_a_roster_without_a_published_plan_has_only_unknown_codes(db):
    with pytest.raises(RosterError, match="unknown grid code"):
        import_roster(db, roster_csv([("甲", "13800000001", "网格长", N1, "")]), "r.csv")


def test_roster_missing_columns_and_numeric_ids_are_refused(db, tmp_path):
    from openpyxl import Workbook

    world(db, tmp_path)
    with pytest.raises(RosterError, match="missing column"):
        import_roster(db, roster_csv([("甲", "网格长")], header=("name", "role")), "r.csv")
    wb = Workbook()
    wb.active.append(["name", "phone", "role", "grid_code", "id_number"])
    wb.active.append(["甲", "13800000001", "网格长", N1, 1.10105194912310e17])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(RosterError, match="stored as a number"):
        import_roster(db, buf.getvalue(), "r.xlsx")


# --- rules ----------------------------------------------------------------------------------------------


def _frames(staff_rows):
    grids = pd.DataFrame({"code": [N1, S1, N2, S2], "community_code": [C1, C1, C2, C2], "households": [400, 600, 300, 300], "population": [1120, 1680, 840, 840]})
    staff = pd.DataFrame([(code, role) for _, _, role, code, _ in staff_rows], columns=["role", "grid_code"][::-1])
    return grids, staff


def test_grid_rules_give_full_short_and_overloaded_with_reasons():
    grids, staff = _frames(full_roster())
    out = assess_grids(grids, staff).set_index("code")
    assert out.loc[N1, "status"] == FULL and out.loc[N1, "reasons"] == ""
    assert out.loc[S1, "status"] == OVERLOADED and "600 户" in out.loc[S1, "reasons"] and "500" in out.loc[S1, "reasons"]
    assert out.loc[N2, "status"] == SHORT and "兼职网格员 0 人" in out.loc[N2, "reasons"]
    assert out.loc[S2, "status"] == SHORT and "网格长 0 人" in out.loc[S2, "reasons"]
    relaxed = assess_grids(grids, staff, StaffingRules(max_households_per_fulltime=700, min_parttime_per_grid=0)).set_index("code")
    assert relaxed.loc[S1, "status"] == FULL and relaxed.loc[N2, "status"] == FULL
    two_chiefs = pd.concat([staff, pd.DataFrame({"grid_code": [N1], "role": ["网格长"]})])
    assert "网格长 2 人" in assess_grids(grids, two_chiefs).set_index("code").loc[N1, "notes"]


def test_community_ratio_rule_of_18_workers_per_10000_residents():
    grids, staff = _frames(full_roster())
    comms = pd.DataFrame({"code": [C1, C2], "name": ["社区1", "社区2"], "class": ["urban", "rural"]})
    out = assess_communities(assess_grids(grids, staff), comms).set_index("community_code")
    # C1: 2,800 residents need ceil(5.04) = 6 workers; it has 6, but one grid is overloaded.
    assert (out.loc[C1, "workers"], out.loc[C1, "workers_required"], out.loc[C1, "status"]) == (6, 6, OVERLOADED)
    # C2 is rural: the ratio does not apply unless asked; its grids are short of staff anyway.
    assert out.loc[C2, "workers_required"] == 0 and out.loc[C2, "status"] == SHORT and "2 个网格缺员" in out.loc[C2, "reasons"]
    strict = assess_communities(assess_grids(grids, staff), comms, StaffingRules(workers_per_10k_residents=25, ratio_applies_to_rural=True)).set_index("community_code")
    assert strict.loc[C1, "workers_required"] == 7 and strict.loc[C1, "status"] == SHORT and "应配 7 人" in strict.loc[C1, "reasons"]
    assert strict.loc[C2, "workers_required"] == 5


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        StaffingRules(max_households_per_fulltime=0)
    with pytest.raises(ValueError):
        StaffingRules(chiefs_per_grid=-1)


# --- compliance, exports --------------------------------------------------------------------------------


def test_compliance_from_the_store_and_exports_round_trip(db, tmp_path):
    from openpyxl import load_workbook

    world(db, tmp_path)
    import_roster(db, roster_csv(full_roster()), "roster.csv")
    grids, comms = comp.compliance(db)
    assert dict(zip(grids["code"], grids["status"])) == {N1: FULL, S1: OVERLOADED, N2: SHORT, S2: SHORT}
    assert list(comms["community_code"]) == [C1, C2]
    csv_bytes = comp.compliance_export(db, "csv", level="grid")
    assert csv_bytes.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(csv_bytes), encoding="utf-8-sig", dtype=str)
    assert list(back["状态"]) == [FULL, OVERLOADED, SHORT, SHORT]
    wb = load_workbook(io.BytesIO(comp.compliance_export(db, "xlsx")))
    assert wb.sheetnames == ["网格", "社区"] and wb["网格"].max_row == 5 and wb["社区"]["A2"].value == C1
    roster_xlsx = comp.roster_export(db, "xlsx")
    sheet = load_workbook(io.BytesIO(roster_xlsx))["花名册"]
    assert sheet.max_row == 11 and sheet["G2"].value == "110105********002X" and isinstance(sheet["C2"].value, str)
    # The exported roster imports again as updates of the same people.
    again = import_roster(db, roster_xlsx, "roster.xlsx")
    assert (again.inserted, again.updated) == (0, 10)


# --- API ------------------------------------------------------------------------------------------------


def test_staff_api_crud_assignment_and_errors(client, db, tmp_path):
    world(db, tmp_path)
    res = client.post("/api/v1/staff", json={"name": "王芳", "phone": "138 0013 8000", "role": "专职网格员", "grid_code": N1, "id_number": ID_OK})
    assert res.status_code == 201, res.text
    body = res.json()
    assert (body["phone"], body["id_number_masked"], body["grid_code"]) == ("13800138000", "110105********002X", N1)
    sid = body["id"]
    bad_phone = client.post("/api/v1/staff", json={"name": "x", "phone": "12345", "role": "网格长"})
    assert bad_phone.status_code == 422 and "phone '12345'" in bad_phone.json()["detail_en"]
    bad_grid = client.post("/api/v1/staff", json={"name": "x", "phone": "13800000000", "role": "网格长", "grid_code": "330106001001777"})
    assert bad_grid.status_code == 422 and "unknown grid code '330106001001777'" in bad_grid.json()["detail_en"]
    assert client.post("/api/v1/staff", json={"name": "x", "phone": "13800000000", "role": "组长"}).status_code == 422
    assert client.patch(f"/api/v1/staff/{sid}", json={"phone": "0571-8888"}).status_code == 422
    moved = client.put(f"/api/v1/staff/{sid}/grid", json={"grid_code": S2})
    assert moved.status_code == 200 and moved.json()["grid_code"] == S2
    assert client.put(f"/api/v1/staff/{sid}/grid", json={"grid_code": "nope"}).status_code == 422
    assert [s["id"] for s in client.get("/api/v1/staff", params={"community": C2}).json()] == [sid]
    assert client.get("/api/v1/staff", params={"community": C1}).json() == []
    assert client.patch(f"/api/v1/staff/{sid}", json={"grid_code": None}).json()["grid_code"] is None
    assert [s["id"] for s in client.get("/api/v1/staff", params={"unassigned": True}).json()] == [sid]
    assert client.delete(f"/api/v1/staff/{sid}").status_code == 204
    assert client.get(f"/api/v1/staff/{sid}").status_code == 404
    assert client.patch("/api/v1/staff/999999", json={"name": "x"}).status_code == 404


def test_staff_api_import_compliance_and_exports(client, db, tmp_path):
    world(db, tmp_path)
    rows = full_roster()
    rows[2] = ("坏", "99", "兼职网格员", N1, "")
    bad = client.post("/api/v1/staff/import", files={"file": ("roster.csv", roster_csv(rows), "text/csv")})
    assert bad.status_code == 422
    assert bad.json()["problems"] == [{"row": 4, "problem": "phone '99' is neither a mainland mobile number (1[3-9] + 9 digits) nor a landline (0 + area code + 7–8 digits)"}]
    ok = client.post("/api/v1/staff/import", files={"file": ("roster.csv", roster_csv(full_roster()), "text/csv")})
    assert ok.status_code == 200 and ok.json()["inserted"] == 10
    res = client.get("/api/v1/staff/compliance")
    assert res.status_code == 200
    data = res.json()
    assert data["summary"]["grids"] == {SHORT: 2, FULL: 1, OVERLOADED: 1}
    s1 = next(g for g in data["grids"] if g["code"] == S1)
    assert (s1["fulltime"], s1["households_per_fulltime"], s1["status"]) == (1, 600, OVERLOADED)
    relaxed = client.get("/api/v1/staff/compliance", params={"max_households_per_fulltime": 800}).json()
    assert next(g for g in relaxed["grids"] if g["code"] == S1)["status"] == FULL
    assert client.get("/api/v1/staff/compliance", params={"max_households_per_fulltime": 0}).status_code == 422
    csv_res = client.get("/api/v1/staff/export", params={"format": "csv"})
    assert csv_res.status_code == 200 and csv_res.headers["content-type"].startswith("text/csv") and "110105********002X" in csv_res.content.decode("utf-8-sig")
    xlsx = client.get("/api/v1/staff/compliance/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    comm_csv = client.get("/api/v1/staff/compliance/export", params={"format": "csv", "level": "community"}).content.decode("utf-8-sig")
    assert comm_csv.splitlines()[0].startswith("社区编码,社区名称")


# --- after a new plan is published ------------------------------------------------------------------------


def test_staff_follow_code_lineage_when_a_plan_is_published(db, tmp_path):
    """Kept codes keep their staff; a merged grid takes both halves' staff; a split grid's staff go to the
    part with the largest share; a retired grid with no successor leaves its staff listed, never dropped."""
    world(db, tmp_path)
    import_roster(db, roster_csv(full_roster()), "roster.csv")
    before = dict(db.execute(text("SELECT id, grid_code FROM staff")).all())
    # v2: C1 merged into one grid; C2's north half split into a 70% west and a 30% east part; S2 dropped.
    x_cut = X0 + DX + 0.7 * DX
    n2 = half(1, True)
    west, east = shapely.clip_by_rect(n2, -180, -90, x_cut, 90), shapely.clip_by_rect(n2, x_cut, -90, 180, 90)
    v2 = publish_grids(db, [(C1, shapely.box(X0, Y0, X0 + DX, Y0 + DY), 1000), (C2, west, 200), (C2, east, 100)], "v2")
    new = dict(db.execute(text("SELECT code, ST_Area(geom::geography) FROM grids WHERE plan_id = :p"), {"p": v2.id}).all())
    assert len(new) == 3 and not set(new) & {N1, S1, N2, S2}  # every v1 code was changed
    merged = next(c for c in new if c.startswith(C1))
    bigger = max((c for c in new if c.startswith(C2)), key=new.get)
    after = dict(db.execute(text("SELECT id, grid_code FROM staff")).all())
    assert set(after) == set(before)  # nobody dropped
    for sid, old in before.items():
        if old in (N1, S1):
            assert after[sid] == merged
        elif old == N2:
            assert after[sid] == bigger
        else:
            assert after[sid] == S2  # stranded: kept as it was, and listed
    issues = db.execute(text("SELECT entity, entity_id, from_code, reason, settled_at FROM reassignment_issues WHERE plan_id = :p"), {"p": v2.id}).all()
    stranded = {sid for sid, old in before.items() if old == S2}
    assert {(i.entity, i.entity_id) for i in issues} == {("staff", s) for s in stranded}
    assert all(i.from_code == S2 and "no grid took its area" in i.reason for i in issues)
    # A person settles one by assigning a grid.
    from gridplanner.staffing.service import assign

    settled = min(stranded)
    assign(db, settled, bigger, actor="张主任")
    open_ids = set(db.execute(text("SELECT entity_id FROM reassignment_issues WHERE settled_at IS NULL")).scalars())
    assert open_ids == stranded - {settled}


def test_kept_codes_keep_their_staff(db, tmp_path):
    world(db, tmp_path)
    import_roster(db, roster_csv(full_roster()), "roster.csv")
    before = dict(db.execute(text("SELECT id, grid_code FROM staff")).all())
    cells = [(C1, half(0, True), 400), (C1, half(0, False), 600), (C2, half(1, True), 300), (C2, half(1, False), 300)]
    publish_grids(db, cells, "v2 unchanged")
    assert dict(db.execute(text("SELECT id, grid_code FROM staff")).all()) == before
    assert db.execute(text("SELECT count(*) FROM reassignment_issues")).scalar_one() == 0
