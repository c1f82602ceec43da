"""Notes a reviewer leaves before answering (a rationale, flags), held in the assignment's
draft until the answer is recorded and then moved onto the response."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from storage import review_queries


@dataclass(frozen=True)
class DraftNotes:
    rationale: str | None = None
    flags: list | None = None


def take_draft_notes(session: Session, assignment_id: int) -> DraftNotes:
    """The draft's rationale and flags; the draft is deleted (the answer supersedes it)."""
    draft = review_queries.get_draft(session, assignment_id)
    if draft is None:
        return DraftNotes()
    notes = DraftNotes(draft.value.get("rationale"), draft.value.get("flags") or None)
    review_queries.delete_draft(session, assignment_id)
    return notes
