"""A sample 网格事项清单 for the demo: items of the kinds counties admit into grids (patrols that find problems,
reports to departments, help to residents), most admitted, one still proposed and one that has left grid work,
so every state of the admission record is on show."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.gridwork import calendar_store, catalogue

#: (code, name, owning department, incident category, what the grid worker does, working days, status)
SAMPLE_ITEMS = [
    ("JZ-001", "占道经营、流动摊贩巡查", "城市管理局", "街面秩序", "发现", 3, "admitted"),
    ("JZ-002", "暴露垃圾、乱堆乱放", "城市管理局", "市容环境", "上报", 2, "admitted"),
    ("AQ-001", "消防通道堵塞、电动车违规充电", "应急管理局", "安全隐患", "发现", 1, "admitted"),
    ("AQ-002", "汛期危旧房屋隐患排查", "住房和城乡建设局", "安全隐患", "协助", 2, "admitted"),
    ("MF-001", "邻里矛盾纠纷调解", "司法局", "矛盾纠纷", "办理", 15, "admitted"),
    ("MS-001", "独居老人、困难群众走访关爱", "民政局", "民生服务", "协助", 5, "admitted"),
    ("GG-001", "违规户外广告", "城市管理局", "宣传广告", "上报", 3, "exited"),
    ("SG-001", "夜间施工扰民", "住房和城乡建设局", "施工管理", "上报", 2, "proposed"),
]


def load_sample_items(session: Session, *, actor: str = "demo") -> int:
    """Put the sample items in an empty catalogue (a store with items is left alone); how many were added."""
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM grid_items)")).scalar_one():
        return 0
    proposed_on, admitted_on = date(2026, 1, 5), date(2026, 1, 20)
    for code, name, department, category, role, days, status in SAMPLE_ITEMS:
        catalogue.propose(session, code=code, name=name, department=department, category=category, worker_role=role, time_limit_days=days, actor=actor, on=proposed_on)
        if status in ("admitted", "exited"):
            catalogue.admit(session, code, approved_by=actor, on=admitted_on)
        if status == "exited":
            catalogue.exit_item(session, code, reason="职责已划归街道综合行政执法队，不再入格", actor=actor, on=date(2026, 6, 30))
    return len(SAMPLE_ITEMS)


#: The State Council's schedule of public holidays for 2026 (国务院办公厅关于2026年部分节假日安排的通知): the days
#: off, and the weekend days worked in exchange (调休上班). As a CSV, the format ``gridplanner calendar import`` reads.
HOLIDAYS_2026_CSV = "日期,类型,名称\n" + "\n".join(
    [f"2026-01-{d:02d},放假,元旦" for d in (1, 2, 3)] + ["2026-01-04,上班,元旦调休"]
    + ["2026-02-14,上班,春节调休"] + [f"2026-02-{d:02d},放假,春节" for d in range(15, 24)] + ["2026-02-28,上班,春节调休"]
    + [f"2026-04-{d:02d},放假,清明节" for d in (4, 5, 6)]
    + [f"2026-05-{d:02d},放假,劳动节" for d in range(1, 6)] + ["2026-05-09,上班,劳动节调休"]
    + [f"2026-06-{d:02d},放假,端午节" for d in (19, 20, 21)]
    + ["2026-09-20,上班,国庆节调休"] + [f"2026-09-{d:02d},放假,中秋节" for d in (25, 26, 27)]
    + [f"2026-10-{d:02d},放假,国庆节" for d in range(1, 8)] + ["2026-10-10,上班,国庆节调休"]
) + "\n"


def load_sample_calendar(session: Session, *, actor: str = "demo") -> int:
    """The 2026 holidays in an empty calendar (a calendar with days is left alone); how many days were added."""
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM calendar_days)")).scalar_one():
        return 0
    report = calendar_store.import_calendar(session, HOLIDAYS_2026_CSV.encode(), "2026年节假日安排（示例）", actor=actor)
    return report.holidays + report.workdays


#: The demo's department account (password: the demo accounts'), tied to the catalogue's 城市管理局.
DEMO_DEPARTMENT = ("chengguan", "城市管理局")


def load_sample_escalations(session: Session, *, actor: str = "demo") -> int:
    """吹哨报到 on show: up to three open incidents in 派遣/处置 escalated to the owner of the admitted item of their
    category (城市管理局 when none fits) — one answered, one acknowledged, one still waiting — and the department's
    account; the answered one is then closed and rated 4. Only when the store has no escalation; how many were made."""
    from gridplanner.auth.accounts import DEMO_PASSWORD, create_user
    from gridplanner.gridwork import escalations
    from gridplanner.settings import get_settings

    if session.execute(text("SELECT EXISTS (SELECT 1 FROM escalations)")).scalar_one():
        return 0
    username, department = DEMO_DEPARTMENT
    if not session.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
        create_user(session, username, get_settings().demo_password or DEMO_PASSWORD, "department", department=department)
    rows = session.execute(text(
        """SELECT i.id, COALESCE(
                  (SELECT code FROM grid_items WHERE status = 'admitted' AND category = i.category ORDER BY code LIMIT 1),
                  (SELECT code FROM grid_items WHERE status = 'admitted' AND department = :d ORDER BY code LIMIT 1)) AS item
           FROM incidents i WHERE i.status IN ('派遣', '处置') ORDER BY i.id LIMIT 3"""), {"d": department}).all()
    made = 0
    for n, row in enumerate(rows):
        if row.item is None:
            continue
        esc = escalations.escalate(session, row.id, item_codes=[row.item], reason="网格内无法解决，提请职能部门到场处置", actor=actor)[0]
        if n < 2:
            escalations.act(session, esc["id"], "acknowledged", department=esc["department"], actor=f"{esc['department']}值班员", note="已安排人员到场")
        if n < 1:
            escalations.act(session, esc["id"], "responded", department=esc["department"], actor=f"{esc['department']}值班员", note="已现场处置完毕")
            # The answered one closes and is rated through the lifecycle, so the month's assessment has a score.
            from gridplanner.incidents import lifecycle

            steps = ("处置", "核查", "结案", "评价")
            for step in steps[steps.index(lifecycle.HANDLING) + (esc["incident_status"] == lifecycle.HANDLING):]:
                lifecycle.advance(session, row.id, step, actor=actor, note="居民回访：满意" if step == "评价" else None, score=4 if step == "评价" else None)
        made += 1
    return made


def load_sample_patrols(session: Session, *, actor_suffix: str = "（示例）") -> int:
    """巡查走访 on show: the 专职网格员 of the three grids with the most buildings each walk a track through five of
    their buildings (this morning, Beijing time); the first one's finding becomes an incident. Only when the
    store has no visit; how many were logged."""
    import shapely

    from gridplanner.gridwork import patrols
    from gridplanner.incidents.locate import fulltime_of
    from gridplanner.store.published import published_plan_id

    if session.execute(text("SELECT EXISTS (SELECT 1 FROM patrol_visits)")).scalar_one():
        return 0
    plan = published_plan_id(session)
    grids = session.execute(text(f"""SELECT g.code, {fulltime_of('g.code')} AS staff_id FROM grids g
        WHERE g.plan_id = :p AND g.code IS NOT NULL AND {fulltime_of('g.code')} IS NOT NULL ORDER BY g.building_count DESC NULLS LAST, g.code LIMIT 3"""), {"p": plan}).all()
    now = session.execute(text("SELECT now()")).scalar_one()
    made = 0
    for n, g in enumerate(grids):
        pts = session.execute(text("""SELECT ST_X(ST_PointOnSurface(b.geom)) AS x, ST_Y(ST_PointOnSurface(b.geom)) AS y FROM buildings b
            JOIN grids g ON g.plan_id = :p AND g.code = :c AND ST_Intersects(g.geom, ST_PointOnSurface(b.geom)) ORDER BY b.id LIMIT 5"""), {"p": plan, "c": g.code}).all()
        if len(pts) < 2:
            continue
        name = session.execute(text("SELECT name FROM staff WHERE id = :s"), {"s": g.staff_id}).scalar_one()
        finding = {"category": "安全隐患", "description": "楼道堆放杂物，堵塞消防通道"} if n == 0 else None
        patrols.log_visit(session, staff_id=g.staff_id, actor=f"{name}{actor_suffix}", shape=shapely.LineString([(p.x, p.y) for p in pts]),
                          started_at=now - timedelta(hours=3), ended_at=now - timedelta(hours=2), found="楼道堆放杂物" if finding else "未发现问题", finding=finding)
        made += 1
    return made
