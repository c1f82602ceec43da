"""Notes a reviewer leaves on an item besides the answer: a rationale, and flags.

Flagging does not answer an item. A flag is a note for the leads ("unsafe", "contains
personal data"); the reviewer still answers or skips, so a flag never silently removes
an expert judgement from the agreement count. Notes given before answering wait in the
assignment's draft and are moved onto the response when it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.slack import ids
from bot.slack.wording import say
from bot.workflow.review import messages
from bot.workflow.review.outcome import (
    Loaded,
    Outcome,
    ReviewResult,
    closed,
    gone,
    load,
    with_error,
)
from storage import queries, review_queries
from storage.models import FLAG_REASONS, Assignment, AssignmentStatus, Response


def _attach_note(
    session: Session,
    assignment: Assignment,
    response: Response | None,
    note: str,
    update: Callable[[Any], Any],
    *,
    now: datetime,
) -> tuple[bool, Any]:
    """Set a note (`note` is "rationale" or "flags") to `update(previous)`: on the response
    once answered, in the draft before that (it is attached when the answer is recorded).
    Returns whether it was attached (not when the assignment left the reviewer) and the
    previous value."""
    if assignment.status == AssignmentStatus.ANSWERED and response is not None:
        previous = getattr(response, note)
        setattr(response, note, update(previous))
        session.add(response)
        return True, previous
    if assignment.status == AssignmentStatus.PENDING:
        assert assignment.id is not None
        draft = review_queries.get_draft(session, assignment.id)
        draft_value = dict(draft.value) if draft else {}
        previous = draft_value.get(note)
        review_queries.save_draft(
            session, assignment.id, {**draft_value, note: update(previous)}, now=now
        )
        return True, previous
    return False, None


def add_rationale(
    session: Session, *, assignment_id: int, user_id: str, text: str, now: datetime
) -> ReviewResult:
    """Store (or replace) the reviewer's rationale: on the response once answered, in
    the draft before that (it is attached when the answer is recorded)."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return with_error(loaded, ids.RATIONALE_BLOCK)
    text = text.strip()
    if not text:
        return ReviewResult(Outcome.INVALID, errors={ids.RATIONALE_BLOCK: say("rationale_empty")})
    if loaded.closed:
        return with_error(closed(loaded), ids.RATIONALE_BLOCK)
    assignment = loaded.assignment
    response = queries.response_for_assignment(session, loaded.assignment_id)
    attached, previous = _attach_note(
        session, assignment, response, "rationale", lambda _: text, now=now
    )
    if not attached:
        return with_error(gone(loaded), ids.RATIONALE_BLOCK)
    _note_recorded(
        session,
        loaded,
        "rationale_added",
        {"rationale": text, "before_answer": response is None, "replaced": previous is not None},
        now=now,
    )
    return ReviewResult(Outcome.SAVED, loaded.item.id)


def flag(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    reason: str,
    note: str | None,
    now: datetime,
) -> ReviewResult:
    """Flag the item for the leads. Allowed before and after answering, and after the
    item closed (personal data found late still matters); not after it left the reviewer."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return with_error(loaded, ids.FLAG_REASON_BLOCK)
    if reason not in FLAG_REASONS:
        return ReviewResult(
            Outcome.INVALID, errors={ids.FLAG_REASON_BLOCK: say("flag_reason_missing")}
        )
    assignment = loaded.assignment
    entry = {"reason": reason, "note": (note or "").strip() or None, "at": now.isoformat()}
    response = queries.response_for_assignment(session, loaded.assignment_id)
    attached, _ = _attach_note(
        session, assignment, response, "flags", lambda flags: [*(flags or []), entry], now=now
    )
    if not attached:
        return with_error(gone(loaded), ids.FLAG_REASON_BLOCK)
    _note_recorded(session, loaded, "flagged", {"reason": reason, "note": entry["note"]}, now=now)
    return ReviewResult(Outcome.FLAGGED, loaded.item.id)


def _note_recorded(
    session: Session, loaded: Loaded, kind: str, details: dict, *, now: datetime
) -> None:
    """The audit event of a rationale or flag, and the reviewer's DM re-rendered with it."""
    assignment = loaded.assignment
    record_event(
        session,
        kind,
        actor=assignment.reviewer_id,
        project_id=loaded.item.project_id,
        item_id=loaded.item.id,
        at=now,
        data={"assignment_id": assignment.id, "reviewer": assignment.reviewer_id, **details},
    )
    messages.refresh(session, assignment, now=now)
