"""A review DM as it should look now, from the database: pending (with the reviewer's
draft), being changed, answered, or gone to someone else; and queuing its update.

Every change a reviewer makes re-renders the whole message from stored state, so the
message can never drift from what was recorded, however clicks and retries interleave.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.slack.messages import SlackMessage
from bot.slack.review import ReviewState, build_answered, build_closed, build_review_request
from bot.workflow.intake.prelabel import suggestion_for
from bot.workflow.project_versions import config_for_item
from bot.workflow.review.outcome import CLOSED_STATES
from storage import queries, review_queries
from storage.models import Assignment, AssignmentStatus, Item, Response

# How long the chat.update of a clicked DM waits for the click's handler, which shows the
# same render through the click's response_url and then marks the row sent (or makes it
# due at once when that failed). Only if the handler died does the row wait this long.
RESPOND_GRACE = timedelta(seconds=10)


@dataclass
class ClickedDM:
    """The message a click came from, and the renders of it queued during the click."""

    channel: str
    ts: str
    renders: list[tuple[str, SlackMessage]] = field(default_factory=list)


_clicked: ContextVar[ClickedDM | None] = ContextVar("clicked_dm", default=None)


def watching_click(clicked: ClickedDM | None) -> object:
    """Collect the renders of the clicked DM queued in this context (reset with the token)."""
    return _clicked.set(clicked)


def stop_watching(token: object) -> None:
    _clicked.reset(token)  # type: ignore[arg-type]


def flag_reasons(flags: list | None) -> tuple[str, ...]:
    return tuple(str(f.get("reason")) for f in flags or [] if isinstance(f, dict))


def current_message(
    session: Session,
    assignment: Assignment,
    *,
    item: Item | None = None,
    config: ProjectConfig | None = None,
    notice: str | None = None,
    draft_value: dict | None = None,
    response: Response | None = None,
) -> SlackMessage:
    """The DM as it should look now. `draft_value` and `response` are for callers that
    hold them already (the answer just recorded, whose draft it consumed): they are
    read from the database otherwise."""
    item = item or session.get(Item, assignment.item_id)
    assert item is not None and item.id is not None and assignment.id is not None
    if config is None:
        _, config = config_for_item(session, item)
    if draft_value is None:
        draft = review_queries.get_draft(session, assignment.id)
        draft_value = dict(draft.value) if draft else {}
    if assignment.status == AssignmentStatus.PENDING:
        state = ReviewState(
            draft=draft_value,
            rationale=draft_value.get("rationale"),
            flags=flag_reasons(draft_value.get("flags")),
            notice=notice,
        )
        return build_review_request(
            config,
            assignment,
            item.content,
            suggestion=suggestion_for(session, config, item.id),
            state=state,
        )
    if response is None:
        response = queries.response_for_assignment(session, assignment.id)
    if assignment.status == AssignmentStatus.ANSWERED and response is not None:
        if draft_value.get("changing") and item.status not in CLOSED_STATES:
            state = ReviewState(
                draft=draft_value,
                rationale=response.rationale,
                flags=flag_reasons(response.flags),
                changing=response.value,
                notice=notice,
            )
            return build_review_request(
                config,
                assignment,
                item.content,
                suggestion=suggestion_for(session, config, item.id),
                state=state,
            )
        return build_answered(
            config,
            assignment,
            item.content,
            response.value,
            response.updated_at,
            rationale=response.rationale,
            flags=flag_reasons(response.flags),
            revision=response.revision,
            item_status=item.status,
            notice=notice,
        )
    return build_closed(config, assignment, status=assignment.status)


def enqueue_message(
    session: Session,
    assignment: Assignment,
    message: SlackMessage,
    *,
    now: datetime,
    key: str | None = None,
    new: bool = False,
) -> None:
    """Queue a chat.update of the assignment's DM (sent after the DM itself); `new` as
    for outbox.enqueue. When it is the DM being clicked, the click's handler shows the
    render through the response_url first (handlers/actions/_reply.py)."""
    key = key or f"dm:assignment:{assignment.id}:{uuid.uuid4().hex[:16]}"
    clicked = _clicked.get()
    due = None
    if (
        clicked is not None
        and assignment.message_ts == clicked.ts
        and assignment.channel == clicked.channel
    ):
        clicked.renders.append((key, message))
        due = now + RESPOND_GRACE
    outbox.enqueue_update(
        session,
        key=key,
        now=now,
        target={"assignment_id": assignment.id},
        text=message.text,
        blocks=message.blocks,
        item_id=assignment.item_id,
        new=new,
        due=due,
    )


def refresh(
    session: Session,
    assignment: Assignment,
    *,
    now: datetime,
    key: str | None = None,
    notice: str | None = None,
) -> SlackMessage:
    """Re-render the assignment's DM from stored state and queue the update."""
    message = current_message(session, assignment, notice=notice)
    enqueue_message(session, assignment, message, now=now, key=key)
    return message
