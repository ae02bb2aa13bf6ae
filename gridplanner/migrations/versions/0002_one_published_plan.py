"""at most one published plan

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The database itself refuses a second published plan, whatever the application does.
    op.execute("CREATE UNIQUE INDEX one_published_plan ON grid_plans ((true)) WHERE status = 'published'")


def downgrade() -> None:
    op.execute("DROP INDEX one_published_plan")
