"""grids: the Web Mercator geometry and its minimum clearance, kept by PostgreSQL for the vector tiles

Revision ID: 0010
Revises: 0009

Every grid tile used to project each grid to EPSG:3857 and test (or repair) the validity of its outline snapped
to the tile's pixels. Both depend on the grid alone, so they are stored once per write instead:

- ``geom_3857``: the outline in EPSG:3857;
- ``clearance_3857``: its minimum clearance in metres (no vertex closer than that to another vertex or to a
  segment it does not end), or 0 when the outline is not valid in EPSG:3857. Snapping moves each vertex by at
  most half a pixel diagonal, so an outline whose clearance spans 2 pixels stays valid once snapped and needs no
  check at that zoom (tiles.mvt).

(``ST_IsValid(g, 0)``: the same test without a NOTICE per invalid outline.) Generated columns, so every writer (plans, editing, copies of a plan, psql) keeps them right without knowing.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """ALTER TABLE grids
               ADD COLUMN geom_3857 geometry(Polygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED,
               ADD COLUMN clearance_3857 double precision GENERATED ALWAYS AS (
                   CASE WHEN ST_IsValid(ST_Transform(geom, 3857), 0) THEN ST_MinimumClearance(ST_Transform(geom, 3857)) ELSE 0 END) STORED"""
    )


def downgrade() -> None:
    op.execute("ALTER TABLE grids DROP COLUMN clearance_3857, DROP COLUMN geom_3857")
