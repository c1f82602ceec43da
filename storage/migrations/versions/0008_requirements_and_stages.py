"""Item requirements (languages, skills), why an item has fewer reviewers than it needs,
the reviewers an adaptive overlap asked for, and the stage of an escalation (the leads'
sign-off or a senior reviewer's review)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('requires', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('understaffed', sa.Text(), nullable=True))
        batch.add_column(sa.Column('overlap', sa.Integer(), nullable=True))
    op.create_index(
        'ix_item_understaffed',
        'item',
        ['project_id', 'id'],
        postgresql_where=sa.text('understaffed IS NOT NULL'),
        sqlite_where=sa.text('understaffed IS NOT NULL'),
    )
    with op.batch_alter_table('escalation') as batch:
        batch.add_column(
            sa.Column('stage', sa.String(length=32), nullable=False, server_default='sign_off')
        )
        batch.add_column(sa.Column('assignee', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('escalation') as batch:
        batch.drop_column('assignee')
        batch.drop_column('stage')
    op.drop_index('ix_item_understaffed', table_name='item')
    with op.batch_alter_table('item') as batch:
        batch.drop_column('overlap')
        batch.drop_column('understaffed')
        batch.drop_column('requires')
