"""grids: one GiST index over (plan_id, geom)

Revision ID: 0009
Revises: 0008

Every plan version keeps its own copy of the grids, so a point lookup on the published plan searched every
version's polygons in the geom-only index; with btree_gist the plan id is part of the index key.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE INDEX ix_grids_plan_geom ON grids USING gist (plan_id, geom)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_grids_plan_geom")
