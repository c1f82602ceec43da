"""indexes for the click path: every foreign key, and the hot lookups

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:40:00.000000

- outboxmessage.assignment_id, outboxmessage.escalation_id: foreign keys without an
  index. SQLite (foreign_keys=ON) checks an assignment's children whenever its key is
  written, which was a scan of the whole outbox on every answer; both are also looked
  up by the delivery worker and the reminder sweep.
- response (reviewer_id, created_at): a reviewer's counts (App Home, /quorum stats).
- assignment (status, due_at): the expiry sweep (pending assignments past due_at).
- event (project_id, kind, id): a lead's recently flagged items.
"""

from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outboxmessage_assignment_id', 'outboxmessage', ['assignment_id'])
    op.create_index('ix_outboxmessage_escalation_id', 'outboxmessage', ['escalation_id'])
    op.create_index('ix_response_reviewer_created', 'response', ['reviewer_id', 'created_at'])
    op.create_index('ix_assignment_status_due', 'assignment', ['status', 'due_at'])
    op.create_index('ix_event_project_kind', 'event', ['project_id', 'kind', 'id'])


def downgrade() -> None:
    op.drop_index('ix_event_project_kind', table_name='event')
    op.drop_index('ix_assignment_status_due', table_name='assignment')
    op.drop_index('ix_response_reviewer_created', table_name='response')
    op.drop_index('ix_outboxmessage_escalation_id', table_name='outboxmessage')
    op.drop_index('ix_outboxmessage_assignment_id', table_name='outboxmessage')
