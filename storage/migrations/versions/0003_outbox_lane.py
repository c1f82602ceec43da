"""outbox lanes: rows a person is waiting for are claimed before bulk rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:20:00.000000

- outboxmessage.lane: 0 interactive (the DM update after a click, App Home), 1 bulk
  (review DMs after an import, reminders, digests). The delivery worker claims due rows
  by lane, then due time.
"""

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch:
        batch.add_column(sa.Column('lane', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage') as batch:
        batch.drop_column('lane')
