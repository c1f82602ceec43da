"""Pausing (holidays) and resuming a reviewer.

Pausing moves the reviewer's pending items (and a senior reviewer's open reviews) to
others at once, instead of letting them wait out the reassignment timer, because a
paused reviewer has said they will not answer. Each item moves on by the one release
rule (bot.workflow.review.release); a review goes to another senior, or to the leads
(bot.workflow.decision.review_stage.hand_over_reviews). Someone in no project has nothing to pause: they are told
so (`member` False) and nothing is written, no reviewer row and no event.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.workflow.decision.review_stage import hand_over_reviews
from bot.workflow.review import queue, release
from storage import review_queries
from storage.review_queries import lock_or_create_reviewer


@dataclass(frozen=True)
class PauseResult:
    already: bool
    moved: int = 0
    member: bool = True  # False: in no project, and nothing was changed


NOT_A_MEMBER = PauseResult(already=False, member=False)


def _known(session: Session, user_id: str) -> bool:
    """In a project's pool or leads, or paused already (someone dropped from a project
    while paused may still resume)."""
    if queue.memberships(session, user_id):
        return True
    reviewer = review_queries.get_reviewer(session, user_id)
    return reviewer is not None and reviewer.paused


def _record_for_projects(
    session: Session, kind: str, user_id: str, *, now: datetime, data: dict
) -> None:
    projects = [m.project.id for m in queue.memberships(session, user_id)] or [None]
    for project_id in projects:
        record_event(session, kind, actor=user_id, project_id=project_id, at=now, data=data)


def pause(session: Session, *, user_id: str, now: datetime, rng: random.Random) -> PauseResult:
    """Stop sending the reviewer items and move their pending ones to others."""
    if not queue.memberships(session, user_id):
        return NOT_A_MEMBER
    reviewer = lock_or_create_reviewer(session, user_id, now=now)
    if reviewer.paused:
        return PauseResult(already=True)
    reviewer.paused, reviewer.updated_at = True, now
    session.add(reviewer)
    session.flush()
    _record_for_projects(session, "paused", user_id, now=now, data={"reviewer": user_id})
    moved = release.release_reviewer(
        session, user_id, reason="paused", actor=user_id, now=now, rng=rng
    )
    moved += hand_over_reviews(session, user_id, reason="paused", now=now)
    queue.mark_home_stale(session, user_id, now=now)
    return PauseResult(already=False, moved=moved)


def resume(session: Session, *, user_id: str, now: datetime) -> PauseResult:
    if not _known(session, user_id):
        return NOT_A_MEMBER
    reviewer = lock_or_create_reviewer(session, user_id, now=now)
    if not reviewer.paused:
        return PauseResult(already=True)
    reviewer.paused, reviewer.updated_at = False, now
    session.add(reviewer)
    _record_for_projects(session, "resumed", user_id, now=now, data={"reviewer": user_id})
    queue.mark_home_stale(session, user_id, now=now)
    return PauseResult(already=False)
