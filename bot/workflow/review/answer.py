"""Recording a reviewer's answer, exactly once and only from the assigned reviewer, and
everything else that gives or changes an answer: one-tap answers, partial ratings and
label ticks, "Change my answer", and corrections from the modal.

Each function runs inside the caller's transaction, locks the assignment and the item,
checks that the person is the assigned reviewer and that the item is still open, and
records an audit event for every state change. None of them talks to Slack: the DM is
re-rendered into the outbox (bot.workflow.review.messages).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.kinds.base import InvalidAnswer
from bot.kinds.correction import EDIT_ROOM, edit_problem
from bot.kinds.label import labels_for_tokens
from bot.kinds.registry import kind_of
from bot.slack import ids
from bot.slack.wording import say
from bot.workflow.decision.decide import decide
from bot.workflow.project_versions import config_for_item
from bot.workflow.review import messages, queue
from bot.workflow.review.drafts import take_draft_notes
from bot.workflow.review.outcome import (
    CLOSED_STATES,
    AnswerOutcome,
    AnswerResult,
    Loaded,
    Outcome,
    ReviewResult,
    closed,
    gone,
    load,
    with_error,
)
from storage import queries, review_queries
from storage.models import Assignment, AssignmentStatus, Item, ItemStatus, Response


def validate_value(config: ProjectConfig, value: Any) -> str | None:
    """A reason the value is not a valid answer for this project, or None."""
    return kind_of(config).validate(config, value)


def record_answer(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    value: Any,
    now: datetime,
    interaction_id: str | None = None,
    rationale: str | None = None,
    loaded: Loaded | None = None,
) -> AnswerResult:
    """Record `value` as the reviewer's answer, once. With `loaded` (what the review
    step's `load` read and locked in this transaction, for `user_id`), the assignment,
    item and config are not read again."""
    if loaded is None:
        assignment = queries.lock_assignment(session, assignment_id)
        if assignment is None:
            return AnswerResult(AnswerOutcome.UNKNOWN, detail="no such assignment")
        if assignment.reviewer_id != user_id:
            return AnswerResult(AnswerOutcome.NOT_ASSIGNED, assignment.item_id)
        item = queries.lock_item(session, assignment.item_id)
    else:
        assignment, item = loaded.assignment, loaded.item
    assert item is not None and item.id is not None
    # A response is written together with its assignment's "answered" status, so only an
    # assignment that is no longer pending can have one (response.assignment_id is
    # unique whatever happens).
    if assignment.status != AssignmentStatus.PENDING and (
        queries.response_for_assignment(session, assignment_id) is not None
    ):
        return AnswerResult(AnswerOutcome.DUPLICATE, item.id, detail="already answered")
    if item.status in CLOSED_STATES or assignment.status != AssignmentStatus.PENDING:
        return AnswerResult(AnswerOutcome.CLOSED, item.id, detail=item.status)
    project, config = (loaded.project, loaded.config) if loaded else config_for_item(session, item)
    problem = validate_value(config, value)
    if problem:
        return AnswerResult(AnswerOutcome.INVALID, item.id, detail=problem)
    latency_ms = int((now - assignment.created_at).total_seconds() * 1000)
    notes = take_draft_notes(session, assignment_id)  # rationale and flags given before answering
    response = Response(
        assignment_id=assignment_id,
        item_id=item.id,
        reviewer_id=user_id,
        value=value,
        rationale=rationale or notes.rationale,
        flags=notes.flags,
        latency_ms=latency_ms,
        interaction_id=interaction_id,
        created_at=now,
        updated_at=now,
    )
    session.add(response)
    assignment.status = AssignmentStatus.ANSWERED
    assignment.answered_at = now
    session.add(assignment)
    # Read after the flush of this answer: is anyone still working on the item? An
    # understaffed item also waits for the qualified reviewers it is still short of.
    assignments = queries.assignments_for_item(session, item.id)
    all_answered = item.understaffed is None and all(
        a.status != AssignmentStatus.PENDING for a in assignments
    )
    if item.status in (ItemStatus.QUEUED, ItemStatus.ASSIGNED) and all_answered:
        item.status = ItemStatus.ANSWERED
    session.flush()
    record_event(
        session,
        "answered",
        actor=user_id,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "assignment_id": assignment.id,
            "reviewer": user_id,
            "value": value,
            "latency_ms": latency_ms,
        },
    )
    if all_answered:  # decide() waits while any assignment of the item is pending
        decide(session, item, project, config, now=now, assignments=assignments)
    # Rendered after the decision: when this answer closed the item, the DM says so and
    # offers no "Change my answer". The draft was consumed above; the key is this
    # response's, so nothing can have queued it before.
    message = messages.current_message(
        session, assignment, item=item, config=config, draft_value={}, response=response
    )
    messages.enqueue_message(
        session,
        assignment,
        message,
        now=now,
        key=f"answered:assignment:{assignment.id}:1",
        new=True,
    )
    queue.mark_home_stale(session, user_id, now=now)
    return AnswerResult(AnswerOutcome.RECORDED, item.id)


# --- turning a click into a stored value --------------------------------------------------


def _record(
    session: Session,
    loaded: Loaded,
    user_id: str,
    value: Any,
    now: datetime,
    interaction_id: str | None,
) -> AnswerResult:
    """record_answer for an assignment already loaded (and checked) by the caller."""
    return record_answer(
        session,
        assignment_id=loaded.assignment_id,
        user_id=user_id,
        value=value,
        now=now,
        interaction_id=interaction_id,
        loaded=loaded,
    )


def resolve_value(config: ProjectConfig, assignment: Assignment, item: Item, raw: Any) -> Any:
    """The stored value for what was clicked; InvalidAnswer says why it is not an answer."""
    return kind_of(config).decode(config, item.content, assignment.presentation, raw)


def submit(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    raw: Any,
    change: bool,
    now: datetime,
    interaction_id: str | None = None,
) -> ReviewResult:
    """A one-tap answer (or a new answer chosen after "Change my answer")."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    try:
        value = resolve_value(loaded.config, loaded.assignment, loaded.item, raw)
    except InvalidAnswer as exc:
        return ReviewResult(Outcome.INVALID, loaded.item.id, detail=str(exc))
    if change:
        return change_answer(session, loaded, value=value, now=now, interaction_id=interaction_id)
    result = _record(session, loaded, user_id, value, now, interaction_id)
    if result.outcome == AnswerOutcome.DUPLICATE:
        # The same answer again is a double click or a retry: nothing to say. A different
        # one is a second answer: point to "Change my answer".
        recorded = queries.response_for_assignment(session, assignment_id)
        if recorded is not None and recorded.value == value:
            return ReviewResult(Outcome.DUPLICATE, result.item_id, detail=result.detail)
        return ReviewResult(Outcome.ALREADY_ANSWERED, result.item_id, detail=result.detail)
    if result.outcome == AnswerOutcome.CLOSED and loaded.assignment.status in (
        AssignmentStatus.SKIPPED,
        AssignmentStatus.REASSIGNED,
        AssignmentStatus.EXPIRED,
    ):
        return gone(loaded)
    return ReviewResult(result.outcome, result.item_id, detail=result.detail)


# --- changing an answer -------------------------------------------------------------------


def start_change(
    session: Session, *, assignment_id: int, user_id: str, now: datetime
) -> ReviewResult:
    """The "Change my answer" button: re-open the choices, showing what is recorded."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    assignment = loaded.assignment
    response = queries.response_for_assignment(session, loaded.assignment_id)
    if loaded.closed:
        messages.refresh(session, assignment, now=now)
        return closed(loaded)
    if assignment.status != AssignmentStatus.ANSWERED or response is None:
        messages.refresh(session, assignment, now=now)
        return (
            gone(loaded)
            if assignment.status != AssignmentStatus.PENDING
            else ReviewResult(Outcome.SAVED, loaded.item.id)
        )
    draft: dict[str, Any] = {
        "changing": True,
        **kind_of(loaded.config).draft_for_change(response.value),
    }
    review_queries.save_draft(session, loaded.assignment_id, draft, now=now)
    messages.refresh(session, assignment, now=now)
    return ReviewResult(Outcome.SAVED, loaded.item.id)


def keep_answer(
    session: Session, *, assignment_id: int, user_id: str, now: datetime
) -> ReviewResult:
    """The "Keep my answer" button: leave change mode without changing anything."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    if loaded.assignment.status == AssignmentStatus.ANSWERED:
        review_queries.delete_draft(session, loaded.assignment_id)
    messages.refresh(session, loaded.assignment, now=now)
    return ReviewResult(Outcome.UNCHANGED, loaded.item.id)


def change_answer(
    session: Session,
    loaded: Loaded,
    *,
    value: Any,
    now: datetime,
    interaction_id: str | None = None,
) -> ReviewResult:
    """Replace a recorded answer while the item is open; refused once it is signed off
    or escalated. Records answer_changed with the old and new value and bumps the
    response's revision, then re-runs the sign-off decision."""
    assignment, item, config = loaded.assignment, loaded.item, loaded.config
    response = queries.response_for_assignment(session, loaded.assignment_id)
    if response is None:
        if assignment.status != AssignmentStatus.PENDING:
            return gone(loaded)
        result = record_answer(
            session,
            assignment_id=loaded.assignment_id,
            user_id=assignment.reviewer_id,
            value=value,
            now=now,
            interaction_id=interaction_id,
            loaded=loaded,
        )
        return ReviewResult(result.outcome, result.item_id, detail=result.detail)
    if loaded.closed:
        review_queries.delete_draft(session, loaded.assignment_id)
        messages.refresh(session, assignment, now=now)
        return closed(loaded)
    if assignment.status != AssignmentStatus.ANSWERED:
        return gone(loaded)
    problem = validate_value(config, value)
    if problem:
        return ReviewResult(Outcome.INVALID, item.id, detail=problem)
    review_queries.delete_draft(session, loaded.assignment_id)
    if value == response.value:
        messages.refresh(session, assignment, now=now)
        return ReviewResult(Outcome.UNCHANGED, item.id)
    old = response.value
    response.value = value
    response.revision += 1
    response.updated_at = now
    response.interaction_id = interaction_id
    session.add(response)
    session.flush()
    record_event(
        session,
        "answer_changed",
        actor=assignment.reviewer_id,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "assignment_id": assignment.id,
            "reviewer": assignment.reviewer_id,
            "old": old,
            "new": value,
            "revision": response.revision,
        },
    )
    if item.status in ItemStatus.OPEN:
        decide(session, item, loaded.project, config, now=now)
    messages.refresh(
        session, assignment, now=now, key=f"answered:assignment:{assignment.id}:{response.revision}"
    )
    queue.mark_home_stale(session, assignment.reviewer_id, now=now)
    return ReviewResult(Outcome.CHANGED, item.id)


# --- partial answers ----------------------------------------------------------------------


def rate(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    criterion: str | None,
    score: int,
    change: bool,
    now: datetime,
    interaction_id: str | None = None,
    criterion_index: int | None = None,
) -> ReviewResult:
    """One Likert score (for `criterion`, or the criterion at `criterion_index`). The
    answer is recorded when every criterion has one; until then the scores are kept as a
    draft and the DM shows which criteria are missing."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    config, assignment = loaded.config, loaded.assignment
    if criterion is None and criterion_index is not None:
        in_range = 0 <= criterion_index < len(config.criteria)
        criterion = config.criteria[criterion_index] if in_range else str(criterion_index)
    if criterion not in config.criteria or not config.scale.min <= score <= config.scale.max:
        return ReviewResult(Outcome.INVALID, loaded.item.id, detail=f"{criterion} {score}")
    if loaded.closed:
        return closed(loaded)
    draft = review_queries.get_draft(session, loaded.assignment_id)
    draft_value = dict(draft.value) if draft else {}
    if change or draft_value.get("changing"):
        if assignment.status != AssignmentStatus.ANSWERED:
            return gone(loaded)
        scores = dict(draft_value.get("scores") or {})
        scores[criterion] = score
        review_queries.save_draft(
            session,
            loaded.assignment_id,
            {**draft_value, "changing": True, "scores": scores},
            now=now,
        )
        messages.refresh(session, assignment, now=now)
        return ReviewResult(Outcome.SAVED, loaded.item.id)
    if assignment.status == AssignmentStatus.ANSWERED:
        return ReviewResult(Outcome.ALREADY_ANSWERED, loaded.item.id)
    if assignment.status != AssignmentStatus.PENDING:
        return gone(loaded)
    scores = dict(draft_value.get("scores") or {})
    scores[criterion] = score
    if all(c in scores for c in config.criteria):
        value = {c: scores[c] for c in config.criteria}
        result = _record(session, loaded, user_id, value, now, interaction_id)
        return ReviewResult(result.outcome, result.item_id, detail=result.detail)
    review_queries.save_draft(
        session, loaded.assignment_id, {**draft_value, "scores": scores}, now=now
    )
    messages.refresh(session, assignment, now=now)
    return ReviewResult(Outcome.SAVED, loaded.item.id)


def step(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    raw: Any,
    change: bool,
    now: datetime,
    interaction_id: str | None = None,
) -> ReviewResult:
    """One partial step of an answer made of several choices (a rank). The task kind
    merges it into the draft; the answer is recorded (or the recorded one replaced) once
    the draft holds a complete one, and until then the DM shows the progress, or why a
    step was refused, in place."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    if loaded.closed:
        return closed(loaded)
    assignment = loaded.assignment
    draft = review_queries.get_draft(session, loaded.assignment_id)
    draft_value = dict(draft.value) if draft else {}
    changing = change or bool(draft_value.get("changing"))
    if changing and assignment.status != AssignmentStatus.ANSWERED:
        return gone(loaded)
    kind = kind_of(loaded.config)
    if not changing and assignment.status == AssignmentStatus.ANSWERED:
        # The step that completed the answer, delivered again (a double click, a retry).
        recorded = queries.response_for_assignment(session, loaded.assignment_id)
        if recorded is not None and kind.step_repeats(recorded.value, raw):
            return ReviewResult(Outcome.DUPLICATE, loaded.item.id)
        return ReviewResult(Outcome.ALREADY_ANSWERED, loaded.item.id)
    if not changing and assignment.status != AssignmentStatus.PENDING:
        return gone(loaded)
    try:
        result = kind.step(
            loaded.config, loaded.item.content, assignment.presentation, draft_value, raw
        )
    except InvalidAnswer as exc:
        return ReviewResult(Outcome.INVALID, loaded.item.id, detail=str(exc))
    if result.value is not None and changing:
        return change_answer(
            session, loaded, value=result.value, now=now, interaction_id=interaction_id
        )
    if result.value is not None:
        answered = _record(session, loaded, user_id, result.value, now, interaction_id)
        return ReviewResult(answered.outcome, answered.item_id, detail=answered.detail)
    draft_now = {**result.draft, "changing": True} if changing else result.draft
    if draft_now != draft_value:
        review_queries.save_draft(session, loaded.assignment_id, draft_now, now=now)
    messages.refresh(session, assignment, now=now, notice=result.notice)
    return ReviewResult(Outcome.SAVED, loaded.item.id)


def save_rating(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    now: datetime,
    interaction_id: str | None = None,
) -> ReviewResult:
    """The "Save new ratings" button, while changing a rating."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    draft = review_queries.get_draft(session, loaded.assignment_id)
    scores = (draft.value if draft else {}).get("scores") or {}
    value = {c: scores[c] for c in loaded.config.criteria if c in scores}
    return change_answer(session, loaded, value=value, now=now, interaction_id=interaction_id)


def tick_labels(
    session: Session, *, assignment_id: int, user_id: str, labels: list[str], now: datetime
) -> ReviewResult:
    """Checkbox changes of a multi-label request: kept as a draft until "Submit". The
    reviewer's client already shows the ticks, so the DM is not re-sent."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    if loaded.closed:
        return closed(loaded)
    if loaded.assignment.status not in (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED):
        return gone(loaded)
    draft = review_queries.get_draft(session, loaded.assignment_id)
    draft_value = dict(draft.value) if draft else {}
    if loaded.assignment.status == AssignmentStatus.ANSWERED and not draft_value.get("changing"):
        return ReviewResult(Outcome.ALREADY_ANSWERED, loaded.item.id)
    chosen = set(labels_for_tokens(loaded.config, labels))
    known = [label for label in loaded.config.labels if label in chosen]
    review_queries.save_draft(
        session, loaded.assignment_id, {**draft_value, "labels": known}, now=now
    )
    return ReviewResult(Outcome.SAVED, loaded.item.id)


def submit_labels(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    labels: list[str] | None,
    change: bool,
    now: datetime,
    interaction_id: str | None = None,
) -> ReviewResult:
    """The "Submit" button of a multi-label request, with the ticks Slack sent (or the
    draft's)."""
    if labels is None:
        draft = review_queries.get_draft(session, assignment_id)
        labels = list((draft.value if draft else {}).get("labels") or [])
    if not labels:
        return ReviewResult(Outcome.INVALID, detail="no_labels")
    return submit(
        session,
        assignment_id=assignment_id,
        user_id=user_id,
        raw=list(labels),
        change=change,
        now=now,
        interaction_id=interaction_id,
    )


# --- the correction modal -----------------------------------------------------------------


def submit_correction(
    session: Session,
    *,
    assignment_id: int,
    user_id: str,
    text: str,
    change: bool,
    now: datetime,
) -> ReviewResult:
    """The edited response from the modal. Empty or unchanged text is refused with an
    error on the input, so the reviewer sees why nothing was recorded."""
    block = ids.correction_block(0)
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return with_error(loaded, block)
    response = queries.response_for_assignment(session, loaded.assignment_id)
    recorded = response.value if change and response is not None else None
    problem = edit_problem(loaded.item.content, text, recorded)
    if problem:
        return ReviewResult(Outcome.INVALID, errors={block: say(problem, room=EDIT_ROOM)})
    result = submit(
        session,
        assignment_id=assignment_id,
        user_id=user_id,
        raw={"text": text},
        change=change,
        now=now,
    )
    return result if result.ok else with_error(result, block)
