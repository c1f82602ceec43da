"""The review stage (bot/config/stages.py): which items the reviewers agreed on go to a
senior reviewer before they sign off, and which senior.

An item goes to review when its stage's `when` holds: a reproducible `sample` (drawn per
item and stage, as the routing audit sample is, so every process and rerun agrees), or
a listed condition: `low_agreement` (the answers were not unanimous) or
`low_confidence` (the consensus' confidence under `confidence_below`). The senior is the
least loaded of the project's senior reviewers who meet the item's requirements, are not
paused, have room under their `max_open` (open reviews) and did not answer it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.config.stages import StageWhen, review_stage
from bot.kinds.base import ItemAgreement
from bot.workflow.intake.qualified import requirements_of
from bot.workflow.intake.routing import audit_draw
from storage import escalation_queries, queries
from storage.models import Item


def review_reason(
    config: ProjectConfig,
    item: Item,
    agreement: ItemAgreement,
    confidence: Callable[[], float | None],
) -> str | None:
    """Why the item goes to the review stage (for its audit trail), or None."""
    stage = review_stage(config.stages)
    if stage is None or not isinstance(stage.when, StageWhen):
        return None
    when = stage.when
    draw = audit_draw(config.name, item.external_id, salt=f"stage:{stage.name}")
    if draw < when.sample:
        return f"review sample (rate {when.sample:.0%})"
    if "low_agreement" in when.any_of and agreement.share < 1.0:
        return f"agreement {agreement.share:.2f} < 1.00"
    if "low_confidence" in when.any_of:
        value = confidence()
        if value is not None and value < when.confidence_below:
            return f"confidence {value:.2f} < {when.confidence_below:.2f}"
    return None


def choose_senior(
    session: Session, item: Item, config: ProjectConfig, *, answered_by: Collection[str]
) -> str | None:
    """The senior reviewer to give the item's review to, or None when nobody can."""
    requirements = requirements_of(item, config)
    seniors = [
        person
        for person in config.seniors.values()
        if person.id not in answered_by and requirements.met_by(person)
    ]
    paused = queries.paused_reviewers(session, [p.id for p in seniors]) if seniors else set()
    load = {p.id: escalation_queries.open_reviews(session, p.id) for p in seniors}
    free = [
        p.id
        for p in seniors
        if p.id not in paused and (p.max_open is None or load[p.id] < p.max_open)
    ]
    # Ties in load go by a draw fixed by the item, so seniors share a fresh project.
    return min(
        free,
        key=lambda senior: (load[senior], audit_draw(config.name, item.external_id, senior)),
        default=None,
    )
