"""grid_items: the 网格事项清单, items admitted into grid work (准入) and leaving it (退出)

Revision ID: 0011
Revises: 0010

One row per item: the department that owns it, its category (one of the incident catalogue, so a request for
the item becomes an incident of that category), what the grid worker does (发现/上报/协助/办理), the time
limit in working days and the admission record. The check constraints keep the record whole whatever writes
the row: an admitted item names who approved it and when, an exited one when and why.
"""

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_items",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("worker_role", sa.String(4), nullable=False),
        sa.Column("time_limit_days", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False, server_default="proposed"),
        sa.Column("proposed_by", sa.Text(), nullable=False),
        sa.Column("proposed_on", sa.Date(), nullable=False),
        sa.Column("approved_by", sa.Text(), nullable=True),
        sa.Column("admitted_on", sa.Date(), nullable=True),
        sa.Column("exited_on", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'admitted', 'exited')", name="grid_item_status"),
        sa.CheckConstraint("worker_role IN ('发现', '上报', '协助', '办理')", name="grid_item_worker_role"),
        sa.CheckConstraint("time_limit_days > 0", name="grid_item_time_limit_positive"),
        sa.CheckConstraint("status = 'proposed' OR (approved_by IS NOT NULL AND admitted_on IS NOT NULL)", name="grid_item_admission_recorded"),
        sa.CheckConstraint("status <> 'exited' OR (exited_on IS NOT NULL AND exit_reason IS NOT NULL)", name="grid_item_exit_recorded"),
    )
    # Lists filter by status (the admitted ones are the Open311 services) and by owning department.
    op.create_index("ix_grid_items_status", "grid_items", ["status"])
    op.create_index("ix_grid_items_department", "grid_items", ["department"])


def downgrade() -> None:
    op.drop_table("grid_items")
