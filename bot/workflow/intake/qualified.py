"""Who may take an item: its requirements (imported `requires`, and the project's `route`
rule on its metadata), the reviewers who meet them, and of those the ones free now
(not paused, under their `max_open` in the project, not on the item already).

Everyone who takes part in an item meets all its requirements. When too few qualified
reviewers are free, the item is `understaffed`: it goes to those who are, waits for the
rest with its reason (`understaffed: needs de + cardiology, 1 of 3 qualified reviewers
available`) and is topped up by dispatch as people qualify (intake/dispatch.py). An item
short of reviewers for no reason of its own (the project's pool is smaller than its
overlap) is the project's staffing problem instead (intake/staffing.py), as before.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session

from bot.config.people import NO_REQUIREMENTS, Person, Requirements
from bot.config.project import ProjectConfig
from bot.workflow.intake.staffing import reviewer_people
from storage import queries
from storage.models import Item


def requirements_of(item: Item, config: ProjectConfig) -> Requirements:
    """What the item requires; ValueError (naming the metadata path) when its metadata
    holds something the project's `route` rule cannot read as tags."""
    return requirements_of_stored(item.requires, item.meta, config)


def requirements_of_stored(
    requires: dict | None, meta: dict | None, config: ProjectConfig
) -> Requirements:
    imported = Requirements.model_validate(requires) if requires else NO_REQUIREMENTS
    return imported.merged(config.route.read(meta)) if config.route else imported


@dataclass(frozen=True)
class Free:
    """The project's reviewers as dispatch sees them now."""

    people: dict[str, Person]  # the pool: listed (with attributes) and group members
    free: frozenset[str]  # not paused and under their max_open in the project
    full: frozenset[str]  # at their max_open in the project
    load: dict[str, int]  # open assignments, all projects: least loaded first


def free_reviewers(session: Session, config: ProjectConfig, project_id: int) -> Free:
    people = reviewer_people(session, config)
    ids = list(people)
    paused = queries.paused_reviewers(session, ids) if ids else set()
    capped = [p.id for p in people.values() if p.max_open is not None and p.id not in paused]
    open_here = queries.open_assignment_counts(session, capped, project_id=project_id)
    full = frozenset(r for r in capped if open_here[r] >= (people[r].max_open or 0))
    free = frozenset(r for r in ids if r not in paused and r not in full)
    load = queries.open_assignment_counts(session, sorted(free)) if free else {}
    return Free(people, free, full, load)


@dataclass(frozen=True)
class Choice:
    chosen: list[str]
    requirements: Requirements
    qualified: int  # reviewers of the pool who meet the requirements
    available: int  # of them free now or already taking part
    capped: bool  # someone qualified was left out for their max_open
    unpaused: int  # qualified and not paused (free, at their max_open, or taking part)
    pool: int  # the project's reviewers, qualified or not


def choose(
    free: Free,
    requirements: Requirements,
    *,
    active: Collection[str],
    excluded: Collection[str],
    needed: int,
    rng: random.Random,
) -> Choice:
    """The `needed` least-loaded free reviewers who meet `requirements` and have not had
    the item (`excluded`); ties in load broken at random, so that the first names of the
    pool do not get every item of a fresh project. `active`: who is working on it now."""
    qualified = [p.id for p in free.people.values() if requirements.met_by(p)]
    candidates = [r for r in qualified if r in free.free and r not in excluded]
    shuffled = rng.sample(candidates, len(candidates))
    chosen = sorted(shuffled, key=lambda reviewer: free.load.get(reviewer, 0))[:needed]
    available = sum(1 for r in qualified if r in free.free or r in active)
    capped = any(r in free.full and r not in active for r in qualified)
    unpaused = sum(1 for r in qualified if r in free.free or r in free.full or r in active)
    return Choice(
        chosen, requirements, len(qualified), available, capped, unpaused, len(free.people)
    )


def shortfall_reason(choice: Choice) -> str:
    """Why an item waits for more reviewers, for `quorum status`, its provenance and
    the leads' note."""
    if choice.requirements.empty:
        return f"understaffed: {choice.available} of {choice.qualified} reviewers available"
    if not choice.qualified:
        return (
            f"understaffed: needs {choice.requirements.describe()}, none of the project's "
            f"{choice.pool} reviewers qualifies"
        )
    return (
        f"understaffed: needs {choice.requirements.describe()}, {choice.available} of "
        f"{choice.qualified} qualified reviewers available"
    )
