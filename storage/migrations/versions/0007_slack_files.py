"""Item media references; media uploaded to Slack, one row per content hash and rendition

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item') as batch:
        batch.add_column(sa.Column('media', sa.JSON(), nullable=True))
    when = storage.models.UTCDateTime(timezone=True)
    op.create_table(
        'slack_file',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('rendition', sa.String(length=32), nullable=False),
        sa.Column('file_id', sa.String(length=32), nullable=True),
        sa.Column('claimed_until', when, nullable=True),
        sa.Column('uploaded_at', when, nullable=True),
        sa.Column('ready_at', when, nullable=True),
        sa.PrimaryKeyConstraint('sha256', 'rendition'),
    )


def downgrade() -> None:
    op.drop_table('slack_file')
    with op.batch_alter_table('item') as batch:
        batch.drop_column('media')
