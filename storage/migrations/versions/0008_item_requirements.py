"""Item requirements (languages, skills) and why an item has fewer reviewers than it needs

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


def downgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.drop_column('understaffed')
        batch.drop_column('requires')
