"""item.failure and the `failed` status, project.staffing_problem, reviewer_group

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('failure', sa.Text(), nullable=True))
    with op.batch_alter_table('project') as batch:
        batch.add_column(sa.Column('staffing_problem', sa.Text(), nullable=True))
    op.create_table(
        'reviewer_group',
        sa.Column('group_id', sa.String(length=32), nullable=False),
        sa.Column('members', sa.JSON(), nullable=False),
        sa.Column('error', sa.String(length=64), nullable=True),
        sa.Column('refreshed_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('group_id'),
    )


def downgrade() -> None:
    op.drop_table('reviewer_group')
    with op.batch_alter_table('project') as batch:
        batch.drop_column('staffing_problem')
    with op.batch_alter_table('item') as batch:
        batch.drop_column('failure')
