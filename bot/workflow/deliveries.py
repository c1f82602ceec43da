"""Remembering which Slack events were handled, so a retry of one changes nothing."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.runtime.context import QuorumContext
from storage.db import session_scope
from storage.models import SlackDelivery


def first_delivery(ctx: QuorumContext, event_id: str) -> bool:
    """True the first time an event id is seen, False for every redelivery."""
    try:
        with session_scope(ctx.engine) as session:
            session.add(SlackDelivery(event_id=event_id, received_at=ctx.clock.now()))
        return True
    except IntegrityError:
        return False
