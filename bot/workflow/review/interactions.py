"""The entry points Slack handlers call for reviewer interactions: one transaction each
(bot.workflow.transaction: retried when two deliveries of one click race, the delivery
worker woken afterwards so the DM updates go out at once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.content.conversation import original_response
from bot.delivery.media import with_processed_files
from bot.runtime.context import QuorumContext
from bot.slack import views
from bot.slack.review import content_parts, describe_answer
from bot.workflow.project_versions import config_for_item
from bot.workflow.review import answer, notes, queue
from bot.workflow.review.outcome import Loaded, Outcome, ReviewResult, load
from bot.workflow.roles import oversees
from bot.workflow.transaction import run_in_transaction, transact
from storage import queries, review_queries
from storage.db import session_scope
from storage.models import Assignment, AssignmentStatus, Item

__all__ = [
    "conversation_view",
    "correction_submitted",
    "correction_view",
    "flag_view",
    "home_view",
    "rationale_view",
    "run_in_transaction",
    "transact",
]


# --- modals -------------------------------------------------------------------------------


def _load_for_notes(session: Session, assignment_id: int, user_id: str) -> Loaded | ReviewResult:
    """The assignment if the reviewer may still write on its item, else why not."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    if loaded.closed:
        return ReviewResult(Outcome.CLOSED, loaded.item.id, detail=loaded.item.status)
    if loaded.assignment.status not in (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED):
        return ReviewResult(Outcome.GONE, loaded.item.id, detail=loaded.assignment.status)
    return loaded


def correction_view(
    ctx: QuorumContext, *, assignment_id: int, user_id: str, change: bool
) -> tuple[ReviewResult, dict | None]:
    """The "Edit response" modal, prefilled with the response (or the reviewer's own
    correction when changing it)."""

    def work(session: Session, now: datetime) -> tuple[ReviewResult, dict | None]:
        loaded = _load_for_notes(session, assignment_id, user_id)
        if isinstance(loaded, ReviewResult):
            return loaded, None
        response = queries.response_for_assignment(session, loaded.assignment_id)
        if response is not None and not change:
            return ReviewResult(Outcome.ALREADY_ANSWERED, loaded.item.id), None
        text = original_response(loaded.item.content)
        if response is not None and isinstance(response.value, dict):
            text = str(response.value.get("text") or text)
        view = views.correction_modal(
            loaded.config,
            assignment_id=loaded.assignment_id,
            content=loaded.item.content,
            current_text=text,
            change=response is not None,
        )
        return ReviewResult(Outcome.SAVED, loaded.item.id), view

    return transact(ctx, work)


def correction_submitted(
    ctx: QuorumContext,
    *,
    assignment_id: int,
    user_id: str,
    text: str,
    rationale: str | None,
    change: bool,
) -> ReviewResult:
    def work(session: Session, now: datetime) -> ReviewResult:
        result = answer.submit_correction(
            session,
            assignment_id=assignment_id,
            user_id=user_id,
            text=text,
            change=change,
            now=now,
        )
        if result.ok and rationale and rationale.strip():
            notes.add_rationale(
                session, assignment_id=assignment_id, user_id=user_id, text=rationale, now=now
            )
        return result

    return transact(ctx, work)


def rationale_view(
    ctx: QuorumContext, *, assignment_id: int, user_id: str
) -> tuple[ReviewResult, dict | None]:
    def work(session: Session, now: datetime) -> tuple[ReviewResult, dict | None]:
        loaded = _load_for_notes(session, assignment_id, user_id)
        if isinstance(loaded, ReviewResult):
            return loaded, None
        response = queries.response_for_assignment(session, loaded.assignment_id)
        draft = review_queries.get_draft(session, loaded.assignment_id)
        current = (
            response.rationale if response else (draft.value if draft else {}).get("rationale")
        )
        answer = (
            describe_answer(loaded.config, response.value, loaded.assignment.presentation)
            if response
            else None
        )
        view = views.rationale_modal(
            loaded.config,
            assignment_id=loaded.assignment_id,
            external_id=loaded.item.external_id,
            current=current,
            answer=answer,
        )
        return ReviewResult(Outcome.SAVED, loaded.item.id), view

    return transact(ctx, work)


def flag_view(
    ctx: QuorumContext, *, assignment_id: int, user_id: str
) -> tuple[ReviewResult, dict | None]:
    def work(session: Session, now: datetime) -> tuple[ReviewResult, dict | None]:
        loaded = load(session, assignment_id, user_id)
        if isinstance(loaded, ReviewResult):
            return loaded, None
        if loaded.assignment.status not in (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED):
            return ReviewResult(Outcome.GONE, loaded.item.id, detail=loaded.assignment.status), None
        view = views.flag_modal(
            loaded.config, assignment_id=loaded.assignment_id, external_id=loaded.item.external_id
        )
        return ReviewResult(Outcome.SAVED, loaded.item.id), view

    return transact(ctx, work)


def conversation_view(
    ctx: QuorumContext, *, user_id: str, ref: dict[str, Any], page: int = 0
) -> dict | None:
    """A page of the full conversation, for the item's reviewers and those who oversee
    its project: leads, owners, auditors (None for anyone else). `ref` is {"a":
    assignment id} from a review DM, which keeps that reviewer's A/B order, or {"i": item
    id} from a leads' message."""
    with session_scope(ctx.engine) as session:
        assignment = session.get(Assignment, int(ref["a"])) if ref.get("a") else None
        item = session.get(Item, assignment.item_id if assignment else int(ref.get("i") or 0))
        if item is None:
            return None
        assert item.id is not None
        _, config = config_for_item(session, item)
        reviewers = {a.reviewer_id for a in queries.assignments_for_item(session, item.id)}
        allowed = (
            (assignment is not None and assignment.reviewer_id == user_id)
            or (assignment is None and user_id in reviewers)
            or oversees(config, user_id)
        )
        if not allowed:
            return None
        presentation = assignment.presentation if assignment else None
        parts = content_parts(config, item.content, presentation)
        key = {"a": assignment.id} if assignment else {"i": item.id}
    return with_processed_files(ctx.engine, views.conversation_modal(parts, ref=key, page=page))


# --- App Home and /quorum -----------------------------------------------------------------


def home_view(
    ctx: QuorumContext,
    *,
    user_id: str,
    timezone_lookup: Callable[[], tuple[str | None, int | None]] | None = None,
) -> dict:
    """The person's Home tab. The first time we see a project's reviewer or lead, their
    time zone is looked up (users.info) so "today" and "this week" are their own; for
    anyone else nothing is stored. The lookup is a Slack call: made between two
    transactions, never inside one (it would hold up every writer while it waits)."""
    zone: tuple[str | None, int | None] | None = None
    if timezone_lookup is not None and transact(
        ctx,
        lambda session, now: (
            not queue.knows_timezone(session, user_id) and bool(queue.memberships(session, user_id))
        ),
    ):
        try:
            zone = timezone_lookup()
        except Exception:  # a profile we cannot read: count in UTC
            zone = None

    def work(session: Session, now: datetime) -> dict:
        if zone is not None and zone[1] is not None:
            queue.remember_timezone(session, user_id, tz=zone[0], offset_s=zone[1], now=now)
        return queue.home_view(session, user_id, now=now)

    return transact(ctx, work)
