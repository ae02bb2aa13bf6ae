"""The data model (GeoAlchemy2). Geometry is stored in CGCS2000 lon/lat (EPSG:4490) with GiST indexes.

Areas and lengths are never computed on these columns directly: callers measure in the district's
Gauss–Krüger zone (see :mod:`gis.crs`) or cast to geography.
"""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    SmallInteger,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4490


def geom(kind: str) -> Geometry:
    # Indexes are created by the migrations, so GeoAlchemy2 must not add its own.
    return Geometry(kind, srid=SRID, spatial_index=False)


class Base(DeclarativeBase):
    pass


class District(Base):
    """A county-level unit (区/县), GB/T 2260 6-digit code."""

    __tablename__ = "districts"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class Street(Base):
    """A street (街道), town (镇) or township (乡): 9-digit code = county + 3 digits."""

    __tablename__ = "streets"
    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(8))  # 街道 / 镇 / 乡 / 其他
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code", ondelete="CASCADE"), index=True)


class Community(Base):
    """A community (社区, 居委会) or village (村, 村委会): 12-digit 统计用区划代码."""

    __tablename__ = "communities"
    __table_args__ = (CheckConstraint("class IN ('urban', 'rural')", name="community_class"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str] = mapped_column(ForeignKey("streets.code", ondelete="CASCADE"), index=True)
    class_: Mapped[str] = mapped_column("class", String(8), default="urban")
    urban_rural_code: Mapped[str | None] = mapped_column(String(3))
    geom = mapped_column(geom("MULTIPOLYGON"), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class Building(Base):
    """A building (楼栋): footprint or point, with households and population where known."""

    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    use: Mapped[str | None] = mapped_column(String(32))
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    floors: Mapped[int | None] = mapped_column(Integer)
    #: The community holding the building's representative point; NULL when it lies in none (listed at import).
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    geom = mapped_column(geom("GEOMETRY"), nullable=False)


class LinearFeature(Base):
    """A road, river or wall: the lines grid boundaries should follow."""

    __tablename__ = "linear_features"
    __table_args__ = (CheckConstraint("kind IN ('road', 'river', 'wall')", name="linear_kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)  # 主干路 / 次干路 / 支路 ...
    geom = mapped_column(geom("MULTILINESTRING"), nullable=False)


class DedicatedArea(Base):
    """An area that gets a dedicated grid (专属网格): school, hospital, park, industrial park, market ..."""

    __tablename__ = "dedicated_areas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    geom = mapped_column(geom("MULTIPOLYGON"), nullable=False)


class DepartmentLayer(Base):
    """One department's own grid layer (综治, 城管, 党建 ...), as imported for merging (多网合一)."""

    __tablename__ = "department_layers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(Text, unique=True)
    source: Mapped[str | None] = mapped_column(Text)
    id_field: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    grids: Mapped[list[DepartmentGrid]] = relationship(back_populates="layer", cascade="all, delete-orphan", passive_deletes=True)


class DepartmentGrid(Base):
    __tablename__ = "department_grids"
    __table_args__ = (UniqueConstraint("layer_id", "dept_grid_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("department_layers.id", ondelete="CASCADE"), index=True)
    dept_grid_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSONB, default=dict)
    geom = mapped_column(geom("MULTIPOLYGON"), nullable=False)
    layer: Mapped[DepartmentLayer] = relationship(back_populates="grids")


class GridPlan(Base):
    """A version of the grid set: drafts are edited, one plan is published at a time."""

    __tablename__ = "grid_plans"
    __table_args__ = (CheckConstraint("status IN ('draft', 'published', 'archived')", name="plan_status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    #: Monotonic version number assigned when a plan is published.
    version: Mapped[int | None] = mapped_column(Integer, unique=True)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("grid_plans.id", ondelete="SET NULL"))
    settings: Mapped[dict] = mapped_column(JSONB, default=dict)
    report: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Optimistic lock: an edit names the version it read; a stale one is refused.
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": lock_version}


class Grid(Base):
    """A grid (网格) of a plan: one polygon inside one community."""

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("plan_id", "code"),
        CheckConstraint("type IN ('basic', 'dedicated')", name="grid_type"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"), index=True)
    code: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="basic")
    dedicated_kind: Mapped[str | None] = mapped_column(String(32))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    building_count: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(geom("POLYGON"), nullable=False)


class Staff(Base):
    """A grid worker: 网格长, 专职网格员 or 兼职网格员. ID numbers are kept masked only."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint("role IN ('网格长', '专职网格员', '兼职网格员')", name="staff_role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    role: Mapped[str] = mapped_column(String(8))
    grid_code: Mapped[str | None] = mapped_column(String(32), index=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class Incident(Base):
    """An incident (事件) at a point, handled through the grid it falls in (NULL grid: 无网格, kept and flagged)."""

    __tablename__ = "incidents"
    __table_args__ = (CheckConstraint("status IN ('上报', '受理', '派遣', '处置', '核查', '结案', '评价')", name="incident_status"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    category: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grid_code: Mapped[str | None] = mapped_column(String(32), index=True)
    geom = mapped_column(geom("POINT"), nullable=False)
    #: The time limit runs from dispatch (派遣): due_at = dispatched_at + the category's limit.
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    #: The grid item (网格事项) the incident was filed for: an Open311 request's service_code.
    service_code: Mapped[str | None] = mapped_column(String(32), ForeignKey("grid_items.code"))
    #: As the filer gave them (Open311 address_string, media_url).
    address: Mapped[str | None] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text)
    #: Residents' satisfaction, 1-5, given at 评价 (empty: not scored).
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)


class AuditEntry(Base):
    """Who changed what, and when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSONB, default=dict)


class Job(Base):
    """Long work run in the background (planning, merging, imports): its status can be polled."""

    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="job_status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    result: Mapped[dict] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GridCode(Base):
    """Every grid code ever published: active while a published grid holds it, then retired, never reused."""

    __tablename__ = "grid_codes"
    __table_args__ = (CheckConstraint("status IN ('active', 'retired')", name="grid_code_status"),)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), default="active")
    first_version: Mapped[int] = mapped_column(Integer)
    retired_version: Mapped[int | None] = mapped_column(Integer)


class CodeEvent(Base):
    """One step of a code's lineage, recorded when a plan is published: kept, new, split, merged, redrawn, retired."""

    __tablename__ = "code_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer, index=True)
    event: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    from_code: Mapped[str | None] = mapped_column(String(32), index=True)
    to_code: Mapped[str | None] = mapped_column(String(32), index=True)
    communities: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CrosswalkEntry(Base):
    """How much of a department's grid lies in a unified grid of a plan (多网合一), one row per overlap."""

    __tablename__ = "crosswalk"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"), index=True)
    department: Mapped[str] = mapped_column(Text)
    department_grid_id: Mapped[str] = mapped_column(Text)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    shared_area_m2: Mapped[float] = mapped_column(Float)
    share_of_department_grid: Mapped[float] = mapped_column(Float)
    share_of_unified_grid: Mapped[float] = mapped_column(Float)
    shared_households: Mapped[int] = mapped_column(Integer, default=0)


class IncidentCategory(Base):
    """A category of the incident catalogue, with its time limit counted from dispatch."""

    __tablename__ = "incident_categories"
    __table_args__ = (CheckConstraint("time_limit_hours > 0", name="category_time_limit_positive"),)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str | None] = mapped_column(Text)
    time_limit_hours: Mapped[float] = mapped_column(Float)
    sort: Mapped[int] = mapped_column(Integer, default=100)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class IncidentEvent(Base):
    """One step of an incident's lifecycle (上报 → … → 评价): who moved it, when."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(8))
    to_status: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)


class ReassignmentIssue(Base):
    """Staff or an open incident a plan publication could not move by itself: listed for a person to settle."""

    __tablename__ = "reassignment_issues"
    __table_args__ = (CheckConstraint("entity IN ('staff', 'incident')", name="reassignment_entity"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    from_code: Mapped[str | None] = mapped_column(String(32))
    candidates: Mapped[list] = mapped_column(JSONB, default=list)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_by: Mapped[str | None] = mapped_column(Text)


class User(Base):
    """An account: admin, planner (edits drafts of its districts only), viewer (read-only) or staff (a grid
    worker of the roster, ``staff_id``, who acknowledges and completes the tasks of their grid)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'planner', 'viewer', 'staff')", name="user_role"),
        CheckConstraint("staff_id IS NULL OR role = 'staff'", name="user_staff_link"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    #: 6-digit district codes a planner may edit.
    districts: Mapped[list[str]] = mapped_column(ARRAY(String(6)), default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    #: Role ``department``: the department (as the catalogue of grid items names it) the account acts for.
    department: Mapped[str | None] = mapped_column(Text)


class UserSession(Base):
    """A web session: the cookie holds a random token, the table only its sha256."""

    __tablename__ = "user_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A key for another system (12345 hotline ...): read-only scopes, stored as the sha256 of the key."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    owner: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EditLogEntry(Base):
    """One hand edit of a draft: the grids it replaced (``before``) and wrote (``after``), for undo and redo."""

    __tablename__ = "edit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plans.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    before: Mapped[list] = mapped_column(JSONB)
    after: Mapped[list] = mapped_column(JSONB)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GridItem(Base):
    """An item of the 网格事项清单: work that may enter the grids (准入) and may leave them (退出).

    Only admitted items are pushed down to grid workers; the check constraints keep the admission record whole
    (an admitted item names who approved it and when, an exited one when and why)."""

    __tablename__ = "grid_items"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'admitted', 'exited')", name="grid_item_status"),
        CheckConstraint("worker_role IN ('发现', '上报', '协助', '办理')", name="grid_item_worker_role"),
        CheckConstraint("time_limit_days > 0", name="grid_item_time_limit_positive"),
        CheckConstraint("status = 'proposed' OR (approved_by IS NOT NULL AND admitted_on IS NOT NULL)", name="grid_item_admission_recorded"),
        CheckConstraint("status <> 'exited' OR (exited_on IS NOT NULL AND exit_reason IS NOT NULL)", name="grid_item_exit_recorded"),
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    department: Mapped[str] = mapped_column(Text, index=True)
    #: A category of the incident catalogue: an Open311 request for the item becomes an incident of it.
    category: Mapped[str] = mapped_column(Text)
    worker_role: Mapped[str] = mapped_column(String(4))
    time_limit_days: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="proposed", index=True)
    proposed_by: Mapped[str] = mapped_column(Text)
    proposed_on: Mapped[date] = mapped_column(Date)
    approved_by: Mapped[str | None] = mapped_column(Text)
    admitted_on: Mapped[date | None] = mapped_column(Date)
    exited_on: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class CalendarDay(Base):
    """A day the weekday rule gets wrong: a holiday (off) or a make-up working day (调休上班)."""

    __tablename__ = "calendar_days"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="calendar_day_kind"),)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Escalation(Base):
    """吹哨报到: an incident escalated to one department, which must acknowledge (报到) then respond."""

    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(32), ForeignKey("grid_items.code"))
    department: Mapped[str] = mapped_column(Text, index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="whistled")
    escalated_by: Mapped[str] = mapped_column(Text)
    escalated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ack_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    respond_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_by: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)


class EscalationEvent(Base):
    __tablename__ = "escalation_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class PatrolVisit(Base):
    """巡查走访: a grid worker's visit (a point or a track), what was found, the incident a finding became."""

    __tablename__ = "patrol_visits"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    grid_code: Mapped[str] = mapped_column(String(32), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=False)
    found: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PatrolVisitBuilding(Base):
    __tablename__ = "patrol_visit_buildings"
    visit_id: Mapped[int] = mapped_column(ForeignKey("patrol_visits.id", ondelete="CASCADE"), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True, index=True)
    how: Mapped[str] = mapped_column(String(8))


class TaskBatch(Base):
    """Tasks sent by area: an admitted grid item, a deadline and the area drawn (or the streets, communities or
    grids picked, ``selection``); one GridTask per grid selected."""

    __tablename__ = "task_batches"
    __table_args__ = (CheckConstraint("area IS NOT NULL OR selection <> '{}'::jsonb", name="task_batch_where"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_code: Mapped[str] = mapped_column(String(32), ForeignKey("grid_items.code"), index=True)
    instructions: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    area = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=True)
    selection: Mapped[dict] = mapped_column(JSONB, default=dict)
    sent_by: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GridTask(Base):
    """One grid's task of a batch: sent → acknowledged → completed (with a note), by the grid's staff."""

    __tablename__ = "grid_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('sent', 'acknowledged', 'completed')", name="grid_task_status"),
        CheckConstraint("status = 'sent' OR acknowledged_at IS NOT NULL", name="grid_task_acknowledged_recorded"),
        CheckConstraint("status <> 'completed' OR (completed_at IS NOT NULL AND note IS NOT NULL)", name="grid_task_completed_recorded"),
        UniqueConstraint("batch_id", "grid_code", name="grid_task_one_per_grid"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("task_batches.id", ondelete="CASCADE"))
    grid_code: Mapped[str] = mapped_column(String(32), index=True)
    community_code: Mapped[str] = mapped_column(String(12))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="sent")
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class TaskPhoto(Base):
    """The photo a grid worker attached to their task (JPEG or PNG, size limited by the application)."""

    __tablename__ = "task_photos"
    __table_args__ = (
        CheckConstraint("media_type IN ('image/jpeg', 'image/png')", name="task_photo_type"),
        CheckConstraint("octet_length(content) > 0", name="task_photo_not_empty"),
    )
    task_id: Mapped[int] = mapped_column(ForeignKey("grid_tasks.id", ondelete="CASCADE"), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(16))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
