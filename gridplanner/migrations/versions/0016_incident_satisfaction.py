"""residents' satisfaction: a 1-5 score given at the 评价 step of an incident

Revision ID: 0016
Revises: 0015

The 评价 step recorded only who and a note, so satisfaction could not be assessed. The score is kept on the
incident (one per incident: 评价 is the last step and happens once); it stays empty for incidents rated before
this revision or imported already evaluated, and for residents who decline to score.
"""

from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("satisfaction", sa.SmallInteger(), nullable=True))
    op.create_check_constraint("incident_satisfaction_range", "incidents", "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5")
    op.create_check_constraint("incident_satisfaction_at_evaluation", "incidents", "satisfaction IS NULL OR status = '评价'")


def downgrade() -> None:
    op.drop_constraint("incident_satisfaction_at_evaluation", "incidents", type_="check")
    op.drop_constraint("incident_satisfaction_range", "incidents", type_="check")
    op.drop_column("incidents", "satisfaction")
