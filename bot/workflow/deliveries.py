"""Remembering which Slack events were handled, so a retry of one changes nothing."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.runtime.context import QuorumContext
from bot.slack.inbound import valid_event_id
from storage.db import session_scope
from storage.models import SlackDelivery


def first_delivery(ctx: QuorumContext, event_id: str) -> bool:
    """True the first time an event id is seen, False for every redelivery. An id that
    is not one Slack sends (bot.slack.inbound: "Ev" and at most 62 letters or digits,
    which fits the 64-character column) raises ValueError and stores nothing."""
    if valid_event_id(event_id) is None:
        raise ValueError("not a Slack event id")
    try:
        with session_scope(ctx.engine) as session:
            session.add(SlackDelivery(event_id=event_id, received_at=ctx.clock.now()))
        return True
    except IntegrityError:
        return False
