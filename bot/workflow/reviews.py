"""Entry points the Slack handlers call for reviewer answers: one transaction each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from bot.delivery.outbox import wake_delivery
from bot.runtime.context import QuorumContext
from bot.workflow.responses import AnswerResult, record_answer
from storage.db import session_scope

ATTEMPTS = 4


def answer(
    ctx: QuorumContext,
    *,
    assignment_id: int,
    user_id: str,
    value: Any,
    interaction_id: str | None = None,
    rationale: str | None = None,
) -> AnswerResult:
    """Record a click. A concurrent duplicate (two deliveries of one click racing) loses
    on the database's unique constraint and is re-read as a duplicate."""
    for attempt in range(ATTEMPTS):
        try:
            with session_scope(ctx.engine) as session:
                result = record_answer(
                    session,
                    assignment_id=assignment_id,
                    user_id=user_id,
                    value=value,
                    now=ctx.clock.now(),
                    interaction_id=interaction_id,
                    rationale=rationale,
                )
            wake_delivery()
            return result
        except (IntegrityError, OperationalError):
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
