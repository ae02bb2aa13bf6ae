"""edit log: the before and after grids of every hand edit of a draft, for undo and redo

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 04:20:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('edit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('plan_id', sa.Integer(), sa.ForeignKey('grid_plans.id', ondelete='CASCADE'), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), nullable=False, server_default='{}'),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('undone', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # Undo takes a plan's newest done entry, redo its oldest undone one.
    op.create_index('ix_edit_log_plan_id', 'edit_log', ['plan_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_edit_log_plan_id', table_name='edit_log')
    op.drop_table('edit_log')
