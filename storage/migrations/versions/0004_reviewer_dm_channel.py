"""reviewer.dm_channel, pace_bucket.rate_factor

- reviewer.dm_channel: each person's DM channel, opened once for every process.
- pace_bucket.rate_factor: the share of a method's published rate the pacer uses, cut
  when Slack answers 429 anyway and regained over the following minutes.
- pace_bucket.sent_tat: the pacing schedule of calls actually made, which a late paid
  slot still waits for.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reviewer') as batch:
        batch.add_column(sa.Column('dm_channel', sa.String(length=32), nullable=True))
    with op.batch_alter_table('pace_bucket') as batch:
        batch.add_column(
            sa.Column('rate_factor', sa.Float(), nullable=False, server_default='1.0')
        )
        batch.add_column(
            sa.Column(
                'sent_tat',
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('pace_bucket') as batch:
        batch.drop_column('rate_factor')
        batch.drop_column('sent_tat')
    with op.batch_alter_table('reviewer') as batch:
        batch.drop_column('dm_channel')
