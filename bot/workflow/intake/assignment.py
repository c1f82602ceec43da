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
from bot.slack.wording import say
from bot.workflow.intake.prelabel import suggestion_for
from bot.workflow.intake.qualified import (
    Choice,
    choose,
    free_reviewers,
    requirements_of,
    shortfall_reason,
)
from storage import queries
from storage.models import Assignment, AssignmentStatus, Item, ItemStatus

ACTIVE = (AssignmentStatus.PENDING, AssignmentStatus.ANSWERED)


def assign_reviewers(
    session: Session,
    item: Item,
    config: ProjectConfig,
    *,
    now: datetime,
    rng: random.Random,
    actor: str = "quorum",
) -> list[Assignment]:
    """Top the item up to `overlap` active assignments of free reviewers who meet its
    requirements (intake/qualified.py) and queue a review DM for each; an item that
    stays short for want of qualified people is marked `understaffed` with the reason."""
    assert item.id is not None
    assignments = queries.assignments_for_item(session, item.id)
    active = [a for a in assignments if a.status in ACTIVE]
    wanted = item.overlap or config.initial_overlap
    needed = wanted - len(active)
    if needed <= 0:
        _staffed(session, item, now=now, actor=actor)
        return []
    if any(p.max_open is not None for p in config.people.values()):
        # Counting open work and adding to it, one dispatcher at a time per project:
        # max_open holds with several processes.
        queries.lock_project(session, item.project_id)
    choice = choose(
        free_reviewers(session, config, item.project_id),
        requirements_of(item, config),
        active={a.reviewer_id for a in active},
        excluded={a.reviewer_id for a in assignments},  # never the same person twice
        needed=needed,
        rng=rng,
    )
    chosen = choice.chosen
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
    have = len(active) + len(created)
    if have >= wanted:
        _staffed(session, item, now=now, actor=actor)
    elif not choice.requirements.empty or choice.capped:
        _understaffed(session, item, config, choice, wanted=wanted, have=have, now=now, actor=actor)
    else:  # the pool is smaller than the overlap: the project's problem (intake/staffing.py)
        record_event(
            session,
            "understaffed",
            actor=actor,
            project_id=item.project_id,
            item_id=item.id,
            data={"wanted": wanted, "have": have},
            at=now,
        )
    if created and item.status == ItemStatus.QUEUED:
        item.status = ItemStatus.ASSIGNED
        item.updated_at = now
        session.add(item)
    return created


def _understaffed(
    session: Session,
    item: Item,
    config: ProjectConfig,
    choice: Choice,
    *,
    wanted: int,
    have: int,
    now: datetime,
    actor: str,
) -> None:
    """The item waits for qualified people: its reason kept on it (and updated as it
    changes); when it becomes understaffed, an event, and one note to the leads when
    people are missing (too few qualified reviewers, or they are paused): an item that
    only waits for busy people to get under their max_open goes out by itself."""
    reason = shortfall_reason(choice)
    if item.understaffed == reason:
        return
    became = item.understaffed is None
    item.understaffed = reason
    item.updated_at = now
    session.add(item)
    if not became:
        return
    record_event(
        session,
        "understaffed",
        actor=actor,
        project_id=item.project_id,
        item_id=item.id,
        data={
            "wanted": wanted,
            "have": have,
            "reason": reason,
            "requires": choice.requirements.model_dump(),
        },
        at=now,
    )
    if choice.unpaused >= wanted:
        return
    text = say(
        "understaffed_item", project_name=config.name, external_id=item.external_id, reason=reason
    )
    key = f"understaffed:item:{item.id}:{int(now.timestamp() * 1000)}"
    if config.escalation_channel:
        payload = {"channel": config.escalation_channel, "text": text}
        outbox.enqueue(session, outbox.POST_MESSAGE, payload, key=key, now=now, item_id=item.id)
    for lead in [] if config.escalation_channel else config.leads:
        outbox.enqueue(
            session,
            outbox.POST_DM,
            {"user": lead, "text": text},
            key=f"{key}:{lead}",
            now=now,
            item_id=item.id,
        )


def _staffed(session: Session, item: Item, *, now: datetime, actor: str) -> None:
    """A waiting item has all the reviewers it needs again."""
    if item.understaffed is None:
        return
    item.understaffed = None
    item.updated_at = now
    session.add(item)
    record_event(
        session,
        "staffed",
        actor=actor,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={},
    )


def ask_one_more(
    session: Session, item: Item, config: ProjectConfig, *, reason: str, now: datetime
) -> bool:
    """An adaptive overlap asks for one more answer: the item is given to one more
    reviewer (an `overlap_extended` event with the reason). True when it now waits for
    someone, a new reviewer or a qualified one still to come; False when nobody can take
    it, and it is decided on the answers it has."""
    assert item.id is not None
    active = [a for a in queries.assignments_for_item(session, item.id) if a.status in ACTIVE]
    before, status = item.overlap, item.status
    item.overlap, item.status = len(active) + 1, ItemStatus.ASSIGNED
    # Seeded by the item and its round: a replay gives the same reviewer.
    created = assign_reviewers(
        session, item, config, now=now, rng=random.Random(f"{item.id}:{len(active)}")
    )
    if not created and item.understaffed is None:
        item.overlap, item.status = before, status
        return False
    item.updated_at = now
    session.add(item)
    record_event(
        session,
        "overlap_extended",
        actor="quorum",
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={"answers": len(active), "overlap": item.overlap, "reason": reason},
    )
    return True
