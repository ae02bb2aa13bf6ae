"""吹哨报到: escalations of incidents to departments, their events, and department accounts

Revision ID: 0015
Revises: 0014

An incident the grid cannot settle is escalated (吹哨) to the departments owning admitted grid items: one row
of ``escalations`` per department, with the item it was escalated under and two deadlines fixed when it is
raised (报到 = acknowledge, and the response), counted in working days; ``escalation_events`` records every step
with who and when. A department acts through an account of the new role ``department``, tied to the
department's name as the catalogue spells it (``users.department``).
"""

from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("department", sa.Text(), nullable=True))
    op.drop_constraint("user_role", "users", type_="check")
    op.create_check_constraint("user_role", "users", "role IN ('admin', 'planner', 'viewer', 'staff', 'department')")
    op.create_check_constraint("user_department_link", "users", "(role = 'department') = (department IS NOT NULL)")

    op.create_table(
        "escalations",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("incident_id", sa.BigInteger(), sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("item_code", sa.String(32), sa.ForeignKey("grid_items.code"), nullable=False),
        sa.Column("department", sa.Text(), nullable=False, index=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False, server_default="whistled"),
        sa.Column("escalated_by", sa.Text(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_by", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('whistled', 'acknowledged', 'responded')", name="escalation_status"),
        sa.CheckConstraint("status = 'whistled' OR (acknowledged_at IS NOT NULL AND acknowledged_by IS NOT NULL)", name="escalation_ack_recorded"),
        sa.CheckConstraint("status <> 'responded' OR (responded_at IS NOT NULL AND responded_by IS NOT NULL AND response IS NOT NULL)", name="escalation_response_recorded"),
        sa.CheckConstraint("ack_due_at <= respond_due_at", name="escalation_deadlines_ordered"),
    )
    # One open escalation per department and incident: whistling twice at the same department is a mistake.
    op.create_index("escalation_one_open_per_department", "escalations", ["incident_id", "department"], unique=True, postgresql_where=sa.text("status <> 'responded'"))
    op.create_table(
        "escalation_events",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("escalation_id", sa.BigInteger(), sa.ForeignKey("escalations.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("step", sa.String(12), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("step IN ('whistled', 'acknowledged', 'responded')", name="escalation_event_step"),
    )


def downgrade() -> None:
    op.drop_table("escalation_events")
    op.drop_table("escalations")
    op.drop_constraint("user_department_link", "users", type_="check")
    op.drop_constraint("user_role", "users", type_="check")
    op.execute("DELETE FROM users WHERE role = 'department'")
    op.create_check_constraint("user_role", "users", "role IN ('admin', 'planner', 'viewer', 'staff')")
    op.drop_column("users", "department")
