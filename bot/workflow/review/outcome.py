"""What a reviewer's click is about and what came of it.

`load` finds the assignment a click names, locked with its item, if the person who
clicked is its reviewer; every review step starts there. The outcomes are what the
handlers tell the reviewer (`refusal` words the ones where nothing was recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.slack.wording import say
from bot.workflow.project_versions import config_for_item
from storage import queries, review_queries
from storage.models import Assignment, Item, ItemStatus, Project

CLOSED_STATES = (ItemStatus.SIGNED_OFF, ItemStatus.AUTO_ACCEPTED, ItemStatus.ESCALATED)


class AnswerOutcome:
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the same answer again: a double click or a Slack retry
    NOT_ASSIGNED = "not_assigned"
    CLOSED = "closed"  # the item was decided or the assignment moved on
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AnswerResult:
    outcome: str
    item_id: int | None = None
    detail: str = ""


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
    def assignment_id(self) -> int:
        assert self.assignment.id is not None
        return self.assignment.id

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
    project, config = config_for_item(session, item)
    return Loaded(assignment, item, project, config)


def gone(loaded: Loaded) -> ReviewResult:
    return ReviewResult(Outcome.GONE, loaded.item.id, detail=loaded.assignment.status)


def closed(loaded: Loaded) -> ReviewResult:
    return ReviewResult(Outcome.CLOSED, loaded.item.id, detail=loaded.item.status)


def with_error(result: ReviewResult, block: str) -> ReviewResult:
    """The result with its refusal shown on a modal's input block."""
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
