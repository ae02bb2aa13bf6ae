"""tasks sent by area: one task per grid for an admitted item; accounts of grid staff who acknowledge them

Revision ID: 0013
Revises: 0012

A planner or an admin draws an area (or picks streets, communities or grids) and picks an admitted grid item and
a deadline: ``task_batches`` keeps what was sent (the area drawn or the codes picked, the item, the deadline, who
sent it), ``grid_tasks`` one row per grid of the published plan selected, with the grid's 专职网格员 at the time
and the steps sent → acknowledged → completed.

Grid staff acknowledge their tasks themselves, so a user account may now be one of a staff member (role
``staff``, linked to the roster row by ``staff_id``).
"""

from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL", name="users_staff_id_fkey"), nullable=True))
    op.drop_constraint("user_role", "users", type_="check")
    op.create_check_constraint("user_role", "users", "role IN ('admin', 'planner', 'viewer', 'staff')")
    # A staff account whose roster row is deleted keeps existing (SET NULL) but can act on nothing until relinked.
    op.create_check_constraint("user_staff_link", "users", "staff_id IS NULL OR role = 'staff'")

    op.create_table(
        "task_batches",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("item_code", sa.String(32), sa.ForeignKey("grid_items.code"), nullable=False, index=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("area", Geometry("MULTIPOLYGON", srid=4490, spatial_index=False), nullable=True),
        sa.Column("selection", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("sent_by", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        # Either an area was drawn or codes were picked: a batch always says where it went.
        sa.CheckConstraint("area IS NOT NULL OR selection <> '{}'::jsonb", name="task_batch_where"),
    )
    op.create_table(
        "grid_tasks",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("batch_id", sa.BigInteger(), sa.ForeignKey("task_batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("grid_code", sa.String(32), nullable=False, index=True),
        sa.Column("community_code", sa.String(12), nullable=False),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True, index=True),
        sa.Column("status", sa.String(12), nullable=False, server_default="sent"),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('sent', 'acknowledged', 'completed')", name="grid_task_status"),
        sa.CheckConstraint("status = 'sent' OR acknowledged_at IS NOT NULL", name="grid_task_acknowledged_recorded"),
        sa.CheckConstraint("status <> 'completed' OR (completed_at IS NOT NULL AND note IS NOT NULL)", name="grid_task_completed_recorded"),
        sa.UniqueConstraint("batch_id", "grid_code", name="grid_task_one_per_grid"),
    )
    # The photo a worker attaches to their task, in the database with the task (a backup holds both); the size
    # limit is the application's (settings.task_photo_max_bytes), the check only keeps out empty rows.
    op.create_table(
        "task_photos",
        sa.Column("task_id", sa.BigInteger(), sa.ForeignKey("grid_tasks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("media_type IN ('image/jpeg', 'image/png')", name="task_photo_type"),
        sa.CheckConstraint("octet_length(content) > 0", name="task_photo_not_empty"),
    )


def downgrade() -> None:
    op.drop_table("task_photos")
    op.drop_table("grid_tasks")
    op.drop_table("task_batches")
    op.drop_constraint("user_staff_link", "users", type_="check")
    op.drop_constraint("user_role", "users", type_="check")
    op.execute("DELETE FROM users WHERE role = 'staff'")
    op.create_check_constraint("user_role", "users", "role IN ('admin', 'planner', 'viewer')")
    op.drop_column("users", "staff_id")
