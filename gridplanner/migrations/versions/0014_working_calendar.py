"""the calendar of working days: public holidays and make-up working days (调休)

Revision ID: 0014
Revises: 0013

Time limits of grid items and escalations are counted in working days. A weekday is worked and a weekend day
is not, except the days listed here: ``holiday`` (a day off, whatever its weekday) and ``workday`` (a weekend
day worked, 调休上班). The State Council publishes each year's list; ``gridplanner calendar import`` loads it.
"""

from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="calendar_day_kind"),
    )


def downgrade() -> None:
    op.drop_table("calendar_days")
