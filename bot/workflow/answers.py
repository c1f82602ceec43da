"""Everything a reviewer does to a review request besides the first one-tap answer
(bot.workflow.responses.record_answer): partial ratings and label ticks, changing an
answer, corrections from the modal, rationale, flags and skips.

Each function runs inside the caller's transaction, locks the assignment and the item,
checks that the person is the assigned reviewer and that the item is still open, and
records an audit event for every state change. None of them talks to Slack: the DM is
re-rendered into the outbox (bot.workflow.review_messages).

Flagging does not answer an item. A flag is a note for the leads ("unsafe", "contains
personal data"); the reviewer still answers or skips, so a flag never silently removes
an expert judgement from the agreement count.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.slack import ids
from bot.slack.payloads import label_from_token
from bot.slack.review import preference_order
from bot.slack.wording import say
from bot.workflow import review_messages, reviewer_queue, signoff, values
from bot.workflow.assignment import assign_reviewers
from bot.workflow.responses import (
    CLOSED_STATES,
    AnswerOutcome,
    record_answer,
    validate_value,
)
from storage import queries, review_queries
from storage.models import Assignment, AssignmentStatus, Item, ItemStatus, Project, Response

FLAG_REASONS = values.FLAG_REASONS


class Outcome(AnswerOutcome):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SAVED = "saved"  # a partial answer or a note was stored; the item is not answered yet
    SKIPPED = "skipped"
    FLAGGED = "flagged"
    ALREADY_ANSWERED = "already_answered"
    GONE = "gone"  # the assignment was skipped, reassigned or expired


# What counts as the click having worked (ReviewResult.ok).
OK_OUTCOMES = frozenset(
    {
        Outcome.RECORDED,
        Outcome.CHANGED,
        Outcome.UNCHANGED,
        Outcome.SAVED,
        Outcome.SKIPPED,
        Outcome.FLAGGED,
    }
)


@dataclass(frozen=True)
class ReviewResult:
    outcome: str
    item_id: int | None = None
    detail: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # modal input block -> message

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES


@dataclass
class Loaded:
    assignment: Assignment
    item: Item
    project: Project
    config: ProjectConfig

    @property
    def closed(self) -> bool:
        return self.item.status in CLOSED_STATES


def load(session: Session, assignment_id: int, user_id: str) -> Loaded | ReviewResult:
    """The assignment, its item and project, locked, if `user_id` is its reviewer."""
    review_queries.hold_assignment(session, assignment_id)
    assignment = queries.lock_assignment(session, assignment_id)
    if assignment is None:
        return ReviewResult(Outcome.UNKNOWN, detail="no such assignment")
    if assignment.reviewer_id != user_id:
        return ReviewResult(Outcome.NOT_ASSIGNED, assignment.item_id)
    item = queries.lock_item(session, assignment.item_id)
    assert item is not None
    project, config = review_messages.config_for_item(session, item)
    return Loaded(assignment, item, project, config)


def _gone(loaded: Loaded) -> ReviewResult:
    return ReviewResult(Outcome.GONE, loaded.item.id, detail=loaded.assignment.status)


def _closed(loaded: Loaded) -> ReviewResult:
    return ReviewResult(Outcome.CLOSED, loaded.item.id, detail=loaded.item.status)


# --- turning a click into a stored value --------------------------------------------------


def labels_for_tokens(config: ProjectConfig, tokens: list[Any]) -> list[str]:
    """Labels for option values (long labels travel as hashed tokens); unknown ones are
    kept as given so validation names them."""
    return [label_from_token(str(t), config.labels) or str(t) for t in tokens]


def resolve_value(config: ProjectConfig, assignment: Assignment, item: Item, raw: Any) -> Any:
    """The stored value for what was clicked; ValueError says why it is not an answer."""
    if config.kind == "label":
        if isinstance(raw, list):
            chosen = set(labels_for_tokens(config, raw))
            return [label for label in config.labels if label in chosen] or raw
        if isinstance(raw, str):
            return label_from_token(raw, config.labels) or raw
        return raw
    if config.kind == "preference":
        if not isinstance(raw, dict) or raw.get("pick") not in (
            *values.SIDES,
            values.TIE,
            values.BOTH_BAD,
        ):
            raise ValueError("not a choice of this preference item")
        order = preference_order(item.content, assignment.presentation)
        value = values.preference_value(order, raw["pick"], raw.get("strength"))
        problem = values.preference_problem_for_item(item.content, value)
        if problem:
            raise ValueError(problem)
        return value
    if config.kind == "correction":
        original = values.original_response(item.content)
        if isinstance(raw, dict) and raw.get("looks_right"):
            return values.correction_value(original, None)
        if isinstance(raw, dict) and isinstance(raw.get("text"), str):
            return values.correction_value(original, raw["text"])
        raise ValueError("not a correction")
    return raw


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
    except ValueError as exc:
        return ReviewResult(Outcome.INVALID, loaded.item.id, detail=str(exc))
    if change:
        return change_answer(session, loaded, value=value, now=now, interaction_id=interaction_id)
    result = record_answer(
        session,
        assignment_id=assignment_id,
        user_id=user_id,
        value=value,
        now=now,
        interaction_id=interaction_id,
    )
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
        return _gone(loaded)
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
    response = queries.response_for_assignment(session, assignment.id)
    if loaded.closed:
        review_messages.refresh(session, assignment, now=now)
        return _closed(loaded)
    if assignment.status != AssignmentStatus.ANSWERED or response is None:
        review_messages.refresh(session, assignment, now=now)
        return (
            _gone(loaded)
            if assignment.status != AssignmentStatus.PENDING
            else ReviewResult(Outcome.SAVED, loaded.item.id)
        )
    draft: dict[str, Any] = {"changing": True}
    if loaded.config.kind == "rating" and isinstance(response.value, dict):
        draft["scores"] = dict(response.value)
    if loaded.config.kind == "label" and isinstance(response.value, list):
        draft["labels"] = list(response.value)
    review_queries.save_draft(session, assignment.id, draft, now=now)
    review_messages.refresh(session, assignment, now=now)
    return ReviewResult(Outcome.SAVED, loaded.item.id)


def keep_answer(
    session: Session, *, assignment_id: int, user_id: str, now: datetime
) -> ReviewResult:
    """The "Keep my answer" button: leave change mode without changing anything."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    if loaded.assignment.status == AssignmentStatus.ANSWERED:
        review_queries.delete_draft(session, loaded.assignment.id)
    review_messages.refresh(session, loaded.assignment, now=now)
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
    response = queries.response_for_assignment(session, assignment.id)
    if response is None:
        if assignment.status != AssignmentStatus.PENDING:
            return _gone(loaded)
        result = record_answer(
            session,
            assignment_id=assignment.id,
            user_id=assignment.reviewer_id,
            value=value,
            now=now,
            interaction_id=interaction_id,
        )
        return ReviewResult(result.outcome, result.item_id, detail=result.detail)
    if loaded.closed:
        review_queries.delete_draft(session, assignment.id)
        review_messages.refresh(session, assignment, now=now)
        return _closed(loaded)
    if assignment.status != AssignmentStatus.ANSWERED:
        return _gone(loaded)
    problem = validate_value(config, value)
    if problem:
        return ReviewResult(Outcome.INVALID, item.id, detail=problem)
    review_queries.delete_draft(session, assignment.id)
    if value == response.value:
        review_messages.refresh(session, assignment, now=now)
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
        signoff.decide(session, item, loaded.project, config, now=now)
    review_messages.refresh(
        session, assignment, now=now, key=f"answered:assignment:{assignment.id}:{response.revision}"
    )
    reviewer_queue.enqueue_home_refresh(session, assignment.reviewer_id, now=now)
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
        return _closed(loaded)
    draft = review_queries.get_draft(session, assignment.id)
    draft_value = dict(draft.value) if draft else {}
    if change or draft_value.get("changing"):
        if assignment.status != AssignmentStatus.ANSWERED:
            return _gone(loaded)
        scores = dict(draft_value.get("scores") or {})
        scores[criterion] = score
        review_queries.save_draft(
            session, assignment.id, {**draft_value, "changing": True, "scores": scores}, now=now
        )
        review_messages.refresh(session, assignment, now=now)
        return ReviewResult(Outcome.SAVED, loaded.item.id)
    if assignment.status == AssignmentStatus.ANSWERED:
        return ReviewResult(Outcome.ALREADY_ANSWERED, loaded.item.id)
    if assignment.status != AssignmentStatus.PENDING:
        return _gone(loaded)
    scores = dict(draft_value.get("scores") or {})
    scores[criterion] = score
    if all(c in scores for c in config.criteria):
        value = {c: scores[c] for c in config.criteria}
        result = record_answer(
            session,
            assignment_id=assignment.id,
            user_id=user_id,
            value=value,
            now=now,
            interaction_id=interaction_id,
        )
        return ReviewResult(result.outcome, result.item_id, detail=result.detail)
    review_queries.save_draft(session, assignment.id, {**draft_value, "scores": scores}, now=now)
    review_messages.refresh(session, assignment, now=now)
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
    draft = review_queries.get_draft(session, loaded.assignment.id)
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
        return _closed(loaded)
    if loaded.assignment.status not in (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED):
        return _gone(loaded)
    draft = review_queries.get_draft(session, loaded.assignment.id)
    draft_value = dict(draft.value) if draft else {}
    if loaded.assignment.status == AssignmentStatus.ANSWERED and not draft_value.get("changing"):
        return ReviewResult(Outcome.ALREADY_ANSWERED, loaded.item.id)
    chosen = set(labels_for_tokens(loaded.config, labels))
    known = [label for label in loaded.config.labels if label in chosen]
    review_queries.save_draft(
        session, loaded.assignment.id, {**draft_value, "labels": known}, now=now
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
        return _with_error(loaded, block)
    original = values.original_response(loaded.item.content)
    if not text.strip():
        return ReviewResult(Outcome.INVALID, errors={block: say("correction_empty")})
    if values.normalise_text(text) == values.normalise_text(original):
        return ReviewResult(Outcome.INVALID, errors={block: say("correction_unchanged")})
    response = queries.response_for_assignment(session, loaded.assignment.id)
    recorded = response.value if change and response is not None else None
    if isinstance(recorded, dict) and values.normalise_text(
        str(recorded.get("text", ""))
    ) == values.normalise_text(text):
        return ReviewResult(Outcome.INVALID, errors={block: say("correction_same")})
    result = submit(
        session,
        assignment_id=assignment_id,
        user_id=user_id,
        raw={"text": text},
        change=change,
        now=now,
    )
    return result if result.ok else _with_error(result, block)


def _with_error(result: ReviewResult, block: str) -> ReviewResult:
    return ReviewResult(
        result.outcome, result.item_id, result.detail, errors={block: refusal(result)}
    )


def refusal(result: ReviewResult) -> str:
    """What to tell the reviewer when nothing was recorded, in their words."""
    state = (result.detail or "").replace("_", " ")
    if result.outcome == Outcome.NOT_ASSIGNED or result.outcome == Outcome.UNKNOWN:
        return say("not_assigned")
    if result.outcome == Outcome.CLOSED:
        return say("change_refused", state=state)
    if result.outcome == Outcome.ALREADY_ANSWERED:
        return say("already_answered")
    if result.outcome == Outcome.GONE:
        return say("assignment_gone", status=state)
    if result.outcome == Outcome.INVALID and result.detail == "no_labels":
        return say("no_labels_ticked")
    return say("invalid_answer", detail=result.detail or "unknown problem")


# --- rationale, flags, skips --------------------------------------------------------------


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
        return _with_error(loaded, ids.RATIONALE_BLOCK)
    text = text.strip()
    if not text:
        return ReviewResult(Outcome.INVALID, errors={ids.RATIONALE_BLOCK: say("rationale_empty")})
    if loaded.closed:
        return _with_error(_closed(loaded), ids.RATIONALE_BLOCK)
    assignment = loaded.assignment
    response = queries.response_for_assignment(session, assignment.id)
    attached, previous = _attach_note(
        session, assignment, response, "rationale", lambda _: text, now=now
    )
    if not attached:
        return _with_error(_gone(loaded), ids.RATIONALE_BLOCK)
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
        return _with_error(loaded, ids.FLAG_REASON_BLOCK)
    if reason not in FLAG_REASONS:
        return ReviewResult(
            Outcome.INVALID, errors={ids.FLAG_REASON_BLOCK: say("flag_reason_missing")}
        )
    assignment = loaded.assignment
    entry = {"reason": reason, "note": (note or "").strip() or None, "at": now.isoformat()}
    response = queries.response_for_assignment(session, assignment.id)
    attached, _ = _attach_note(
        session, assignment, response, "flags", lambda flags: [*(flags or []), entry], now=now
    )
    if not attached:
        return _with_error(_gone(loaded), ids.FLAG_REASON_BLOCK)
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
    review_messages.refresh(session, assignment, now=now)


def skip(
    session: Session, *, assignment_id: int, user_id: str, now: datetime, rng: random.Random
) -> ReviewResult:
    """Give the item back: the assignment is skipped and the item goes to another
    reviewer. When nobody is left to take it and every other answer is in, the item is
    decided on the answers it has (an `understaffed` event records the shortfall)."""
    loaded = load(session, assignment_id, user_id)
    if isinstance(loaded, ReviewResult):
        return loaded
    assignment, item = loaded.assignment, loaded.item
    if loaded.closed:
        return _closed(loaded)
    if assignment.status == AssignmentStatus.ANSWERED:
        return ReviewResult(Outcome.ALREADY_ANSWERED, item.id)
    if assignment.status == AssignmentStatus.SKIPPED:
        return ReviewResult(Outcome.DUPLICATE, item.id, detail="already skipped")
    if assignment.status != AssignmentStatus.PENDING:
        return _gone(loaded)
    assignment.status = AssignmentStatus.SKIPPED
    session.add(assignment)
    review_queries.delete_draft(session, assignment.id)
    session.flush()
    record_event(
        session,
        "skipped",
        actor=user_id,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={"assignment_id": assignment.id, "reviewer": user_id},
    )
    replace_reviewer(session, loaded, now=now, rng=rng)
    review_messages.refresh(session, assignment, now=now, key=f"skipped:assignment:{assignment.id}")
    reviewer_queue.enqueue_home_refresh(session, user_id, now=now)
    return ReviewResult(Outcome.SKIPPED, item.id)


def replace_reviewer(
    session: Session, loaded: Loaded, *, now: datetime, rng: random.Random
) -> None:
    """Top the item up to its overlap after an assignment left it; decide it when no one
    can be found and every remaining answer is in."""
    assign_reviewers(session, loaded.item, loaded.config, now=now, rng=rng)
    remaining = queries.assignments_for_item(session, loaded.item.id)
    if loaded.item.status in ItemStatus.OPEN and not any(
        a.status == AssignmentStatus.PENDING for a in remaining
    ):
        signoff.decide(session, loaded.item, loaded.project, loaded.config, now=now)
