"""patrol visits (巡查走访): where a grid worker went and when, and the buildings visited

Revision ID: 0017
Revises: 0016

A visit has a time span, a point or a track (LineString, CGCS2000 lon/lat), what was found, and the incident a
finding became. ``patrol_visit_buildings`` lists the buildings visited: named by the worker (``listed``) or
passed within a few metres by the track (``nearby``), so coverage per grid is a count, not a guess.
"""

from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patrol_visits",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True, index=True),
        sa.Column("grid_code", sa.String(32), nullable=False, index=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=4490, spatial_index=True), nullable=False),
        sa.Column("found", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("ended_at >= started_at", name="patrol_visit_ends_after_start"),
        sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'LINESTRING')", name="patrol_visit_point_or_track"),
    )
    op.create_table(
        "patrol_visit_buildings",
        sa.Column("visit_id", sa.BigInteger(), sa.ForeignKey("patrol_visits.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("building_id", sa.BigInteger(), sa.ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True, index=True),
        sa.Column("how", sa.String(8), nullable=False),
        sa.CheckConstraint("how IN ('listed', 'nearby')", name="patrol_visit_building_how"),
    )


def downgrade() -> None:
    op.drop_table("patrol_visit_buildings")
    op.drop_table("patrol_visits")
