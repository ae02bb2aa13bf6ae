"""incidents: the grid item an incident was filed for, and the address and media URL the filer gave

Revision ID: 0012
Revises: 0011

Open311 GeoReport v2 requests become incidents. Their ``service_code`` is the code of an admitted grid item
(网格事项), kept on the incident so requests can be listed by service and the item's name and owning
department shown; ``address`` and ``media_url`` are the request's ``address_string`` and ``media_url``.
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("service_code", sa.String(32), sa.ForeignKey("grid_items.code", name="incidents_service_code_fkey"), nullable=True))
    op.add_column("incidents", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("incidents", sa.Column("media_url", sa.Text(), nullable=True))
    # Partial: most incidents (hotline imports, patrols) have no service code.
    op.create_index("ix_incidents_service_code", "incidents", ["service_code"], postgresql_where=sa.text("service_code IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_incidents_service_code", table_name="incidents")
    op.drop_column("incidents", "media_url")
    op.drop_column("incidents", "address")
    op.drop_column("incidents", "service_code")
