"""staffing and incidents: category catalogue, incident events, dispatch and assignee, reassignment issues

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 03:45:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

STATUSES = "('上报', '受理', '派遣', '处置', '核查', '结案', '评价')"

# The starting catalogue; gridplanner.incidents.catalogue holds the same list (and re-seeds an emptied table).
DEFAULT_CATEGORIES = [
    ("市容环境", "数字城管事件", 24, 1),
    ("宣传广告", "数字城管事件", 48, 2),
    ("施工管理", "数字城管事件", 72, 3),
    ("街面秩序", "数字城管事件", 24, 4),
    ("突发事件", "数字城管事件", 2, 5),
    ("其他", "数字城管事件", 72, 6),
    ("矛盾纠纷", "社会治理事件", 360, 7),
    ("安全隐患", "社会治理事件", 24, 8),
    ("民生服务", "社会治理事件", 72, 9),
]


def upgrade() -> None:
    op.add_column('staff', sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.add_column('staff', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.create_index('ix_staff_phone', 'staff', ['phone'])

    op.add_column('incidents', sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('incidents', sa.Column('community_code', sa.String(length=12), nullable=True))
    op.add_column('incidents', sa.Column('assignee_id', sa.Integer(), sa.ForeignKey('staff.id', ondelete='SET NULL'), nullable=True))
    op.add_column('incidents', sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.create_index('ix_incidents_community_code', 'incidents', ['community_code'])
    op.create_index('ix_incidents_assignee_id', 'incidents', ['assignee_id'])
    op.create_check_constraint('incident_status', 'incidents', f"status IN {STATUSES}")
    # Seven statuses and nine categories: b-trees on them cost more at bulk import than they save in queries.
    op.drop_index('ix_incidents_status', table_name='incidents')
    op.drop_index('ix_incidents_category', table_name='incidents')

    categories = op.create_table('incident_categories',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('time_limit_hours', sa.Float(), nullable=False),
    sa.Column('sort', sa.Integer(), nullable=False, server_default='100'),
    sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.CheckConstraint('time_limit_hours > 0', name='category_time_limit_positive'),
    sa.PrimaryKeyConstraint('name')
    )
    op.bulk_insert(categories, [{"name": n, "kind": k, "time_limit_hours": h, "sort": s, "active": True} for n, k, h, s in DEFAULT_CATEGORIES])

    op.create_table('incident_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('incident_id', sa.BigInteger(), nullable=False),
    sa.Column('from_status', sa.String(length=8), nullable=True),
    sa.Column('to_status', sa.String(length=8), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_incident_events_incident_id', 'incident_events', ['incident_id'])

    op.create_table('reassignment_issues',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=True),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('from_code', sa.String(length=32), nullable=True),
    sa.Column('candidates', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('settled_by', sa.Text(), nullable=True),
    sa.CheckConstraint("entity IN ('staff', 'incident')", name='reassignment_entity'),
    sa.ForeignKeyConstraint(['plan_id'], ['grid_plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_reassignment_issues_open', 'reassignment_issues', ['entity', 'entity_id'], postgresql_where=sa.text('settled_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_reassignment_issues_open', table_name='reassignment_issues')
    op.drop_table('reassignment_issues')
    op.drop_index('ix_incident_events_incident_id', table_name='incident_events')
    op.drop_table('incident_events')
    op.drop_table('incident_categories')
    op.create_index('ix_incidents_category', 'incidents', ['category'])
    op.create_index('ix_incidents_status', 'incidents', ['status'])
    op.drop_constraint('incident_status', 'incidents', type_='check')
    op.drop_index('ix_incidents_assignee_id', table_name='incidents')
    op.drop_index('ix_incidents_community_code', table_name='incidents')
    op.drop_column('incidents', 'created_at')
    op.drop_column('incidents', 'assignee_id')
    op.drop_column('incidents', 'community_code')
    op.drop_column('incidents', 'dispatched_at')
    op.drop_index('ix_staff_phone', table_name='staff')
    op.drop_column('staff', 'updated_at')
    op.drop_column('staff', 'created_at')
