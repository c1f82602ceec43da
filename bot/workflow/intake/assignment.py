"""Giving items to reviewers: balanced by open work, never the same reviewer twice."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.delivery import outbox
from bot.kinds.registry import kind_of
from bot.slack.review import build_review_request, presentation_for
from bot.workflow.intake.prelabel import suggestion_for
from bot.workflow.intake.staffing import reviewer_pool
from storage import queries
from storage.models import Assignment, AssignmentStatus, Item, ItemStatus

ACTIVE = (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED)


def choose_reviewers(
    session: Session, item: Item, config: ProjectConfig, *, needed: int, rng: random.Random
) -> list[str]:
    """The `needed` least-loaded reviewers of the pool (listed and user group members)
    not yet on this item and not paused.

    Ties in load are broken at random so that the first names of the pool do not get
    every item of a fresh project.
    """
    assert item.id is not None
    already = {a.reviewer_id for a in queries.assignments_for_item(session, item.id)}
    pool = [r for r in reviewer_pool(session, config) if r not in already]
    paused = (
        queries.paused_reviewers(session, pool) if pool else set()
    )  # one query, not one per reviewer
    pool = [r for r in pool if r not in paused]
    load = queries.open_assignment_counts(session, pool) if pool else {}
    shuffled = rng.sample(pool, len(pool))
    return sorted(shuffled, key=lambda reviewer: load[reviewer])[:needed]


def assign_reviewers(
    session: Session,
    item: Item,
    config: ProjectConfig,
    *,
    now: datetime,
    rng: random.Random,
    actor: str = "quorum",
) -> list[Assignment]:
    """Top the item up to `overlap` active assignments and queue a review DM for each."""
    assert item.id is not None
    active = [a for a in queries.assignments_for_item(session, item.id) if a.status in ACTIVE]
    needed = config.overlap - len(active)
    if needed <= 0:
        return []
    chosen = choose_reviewers(session, item, config, needed=needed, rng=rng)
    suggestion = suggestion_for(session, config, item.id) if chosen else None
    content_type = kind_of(config).content_for(item.content)
    created = []
    for reviewer in chosen:
        assignment = Assignment(
            item_id=item.id,
            reviewer_id=reviewer,
            presentation=presentation_for(config, item.content, rng),
            due_at=now + timedelta(hours=config.timing.reassign_after_hours),
            created_at=now,
        )
        session.add(assignment)
        session.flush()
        message = build_review_request(config, assignment, item.content, suggestion=suggestion)
        payload = {"user": reviewer, "text": message.text, "blocks": message.blocks}
        if message.prefetch:  # what its full view shows: uploaded before the DM goes
            payload["prefetch"] = message.prefetch
        outbox.enqueue(
            session,
            outbox.POST_DM,
            payload,
            key=f"review:assignment:{assignment.id}",
            now=now,
            item_id=item.id,
            assignment_id=assignment.id,
        )
        for number, shared in enumerate(content_type.shared_files(item.content)):
            outbox.enqueue(  # in the DM's thread, once the DM is posted
                session,
                outbox.SHARE_FILE,
                {"thread_of": {"assignment_id": assignment.id}, **shared},
                key=f"review:assignment:{assignment.id}:file:{number}",
                now=now,
                item_id=item.id,
                assignment_id=assignment.id,
            )
        record_event(
            session,
            "assigned",
            actor=actor,
            project_id=item.project_id,
            item_id=item.id,
            data={"assignment_id": assignment.id, "reviewer": reviewer},
            at=now,
        )
        created.append(assignment)
    if len(active) + len(created) < config.overlap:
        record_event(
            session,
            "understaffed",
            actor=actor,
            project_id=item.project_id,
            item_id=item.id,
            data={"wanted": config.overlap, "have": len(active) + len(created)},
            at=now,
        )
    if created and item.status == ItemStatus.QUEUED:
        item.status = ItemStatus.ASSIGNED
        item.updated_at = now
        session.add(item)
    return created
