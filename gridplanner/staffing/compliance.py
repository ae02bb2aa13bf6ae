"""Compliance of the published plan's grids and communities with the staffing rules, and exports of the
roster and the compliance tables to CSV (UTF-8 with BOM, so Excel reads the Chinese) and XLSX."""

from __future__ import annotations

import io

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.store.published import published_grids
from gridplanner.staffing.rules import StaffingRules, assess_communities, assess_grids

ROSTER_HEADERS = {
    "id": "编号", "name": "姓名", "phone": "电话", "role": "角色", "grid_code": "网格编码", "community_code": "社区编码",
    "id_number_masked": "身份证号", "active": "在岗",
}
GRID_HEADERS = {
    "code": "网格编码", "community_code": "社区编码", "households": "户数", "population": "人口",
    "households_per_fulltime": "专职网格员人均户数", "status": "状态", "reasons": "原因", "notes": "备注",
}
COMMUNITY_HEADERS = {
    "community_code": "社区编码", "name": "社区名称", "class": "类别", "grids": "网格数", "population": "人口", "workers": "社区工作者",
    "workers_required": "应配社区工作者", "grids_short": "缺员网格", "grids_overloaded": "超负荷网格", "status": "状态", "reasons": "原因",
}


def active_staff(session: Session) -> pd.DataFrame:
    rows = session.execute(text("SELECT grid_code, role FROM staff WHERE active AND grid_code IS NOT NULL")).all()
    return pd.DataFrame(rows, columns=["grid_code", "role"])


def compliance(session: Session, rules: StaffingRules = StaffingRules()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per grid, per community) status of the published plan under ``rules``; empty frames when none is published."""
    grids = published_grids(session)
    grid_status = assess_grids(grids, active_staff(session), rules)
    comms = pd.DataFrame(session.execute(text('SELECT code, name, class FROM communities')).all(), columns=["code", "name", "class"])
    return grid_status, assess_communities(grid_status, comms, rules)


def roster_frame(session: Session, *, include_inactive: bool = False) -> pd.DataFrame:
    """Every worker with the community of their grid (NULL when unassigned or their grid is gone)."""
    rows = session.execute(
        text(
            """SELECT s.id, s.name, s.phone, s.role, s.grid_code, g.community_code, s.id_number_masked, s.active
               FROM staff s
               LEFT JOIN (SELECT g.code, g.community_code FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published') g
                 ON g.code = s.grid_code
               WHERE s.active OR :all ORDER BY s.grid_code NULLS LAST, array_position(ARRAY['网格长','专职网格员','兼职网格员']::text[], s.role::text), s.id"""
        ),
        {"all": include_inactive},
    ).all()
    return pd.DataFrame(rows, columns=list(ROSTER_HEADERS))


def to_csv(frame: pd.DataFrame, headers: dict[str, str] | None = None) -> bytes:
    return frame.rename(columns=headers or {}).to_csv(index=False).encode("utf-8-sig")


def to_xlsx(sheets: dict[str, tuple[pd.DataFrame, dict[str, str] | None]]) -> bytes:
    """One sheet per entry, text columns kept as text (codes and phones must not become numbers)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for title, (frame, headers) in sheets.items():
        ws = wb.create_sheet(title)
        f = frame.rename(columns=headers or {})
        ws.append([str(c) for c in f.columns])
        for row in f.itertuples(index=False):
            ws.append([None if (v is None or (isinstance(v, float) and pd.isna(v))) else (v.item() if hasattr(v, "item") else v) for v in row])
        for col in ws.columns:
            width = max(len(str(c.value or "")) for c in col)
            ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 1.6))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def roster_export(session: Session, fmt: str, *, include_inactive: bool = False) -> bytes:
    frame = roster_frame(session, include_inactive=include_inactive)
    return to_csv(frame, ROSTER_HEADERS) if fmt == "csv" else to_xlsx({"花名册": (frame, ROSTER_HEADERS)})


def compliance_export(session: Session, fmt: str, rules: StaffingRules = StaffingRules(), *, level: str = "grid") -> bytes:
    """XLSX: two sheets (网格, 社区). CSV: one level, ``grid`` or ``community``."""
    grids, comms = compliance(session, rules)
    if fmt == "csv":
        return to_csv(grids, GRID_HEADERS) if level == "grid" else to_csv(comms, COMMUNITY_HEADERS)
    return to_xlsx({"网格": (grids, GRID_HEADERS), "社区": (comms, COMMUNITY_HEADERS)})
