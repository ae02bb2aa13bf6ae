"""A sample 网格事项清单 for the demo: items of the kinds counties admit into grids (patrols that find problems,
reports to departments, help to residents), most admitted, one still proposed and one that has left grid work,
so every state of the admission record is on show."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.gridwork import catalogue

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
