"""Deciding an item once its answers are in: consensus sign-off or escalation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.kinds.base import ItemAgreement
from bot.kinds.registry import kind_of
from bot.workflow.decision.escalation import LEAD_SIGNS_OFF_ALL, escalate
from bot.workflow.decision.labels import sign_off
from bot.workflow.decision.posterior import consensus_confidence
from storage import quality_queries, queries
from storage.models import Assignment, Escalation, Item, Label, Project


def meets_agreement(share: float, threshold: float) -> bool:
    """Compare as the share is shown, to two decimals: "agreement: 0.67" reads as
    "two of three", and 2/3 = 0.6667 must pass it."""
    return round(share, 2) >= threshold


def decide(
    session: Session,
    item: Item,
    project: Project,
    config: ProjectConfig,
    *,
    now: datetime,
    assignments: Sequence[Assignment] | None = None,
) -> Label | Escalation | None:
    """Sign off or escalate an item whose active assignments are all answered.

    In order: a gold item signs off to its gold value (and scores the reviewers); a tie,
    agreement under the threshold, or a kind rule (an edited correction) escalates; with
    `sign_off.min_confidence` set, a posterior under it escalates (see
    bot/workflow/decision/posterior.py for how it is computed; kinds without a posterior skip this rule); with
    `sign_off.lead_signs_off_all` everything else escalates with the consensus offered to
    the lead as the default. Otherwise the consensus is signed off. `assignments`: the
    item's assignments, when the caller has just read them in this transaction.
    """
    assert item.id is not None
    if assignments is None:
        assignments = queries.assignments_for_item(session, item.id)
    active = [a for a in assignments if a.status in ("pending", "answered")]
    if not active or any(a.status == "pending" for a in active):
        return None
    kind = kind_of(config)
    answers = [
        (row.reviewer_id, kind.canonical(row.value, item.content, row.presentation))
        for row in quality_queries.item_answers(session, item.id)
    ]
    agreement = kind.agreement(config, [value for _, value in answers])
    if item.gold is not None:
        return _sign_off_gold(session, item, project, config, answers, agreement, now=now)

    def to_lead(reason: str, confidence: float | None = None) -> Escalation:
        return escalate(
            session, item, consensus=agreement, reason=reason, now=now, confidence=confidence
        )

    if agreement.tied:
        return to_lead("tie between answers")
    if not meets_agreement(agreement.share, config.agreement):
        return to_lead(f"agreement {agreement.share:.2f} < {config.agreement:.2f}")
    if agreement.needs_lead:
        return to_lead(agreement.needs_lead)
    confidence = None
    bound = config.sign_off.min_confidence
    if bound is not None:
        confidence = consensus_confidence(
            session,
            project,
            config,
            content=item.content,
            answers=answers,
            consensus=agreement.value,
        )
        if confidence is not None and confidence < bound:
            # The bound as configured, the posterior with as many digits as it takes.
            digits = max(2, len(f"{bound:g}".partition(".")[2]))
            while round(confidence, digits) >= bound and digits < 6:
                digits += 1
            return to_lead(f"posterior {confidence:.{digits}f} < {bound:g}", confidence)
    if config.sign_off.lead_signs_off_all:
        return to_lead(LEAD_SIGNS_OFF_ALL, confidence)
    return sign_off(
        session,
        item,
        project,
        value=agreement.value,
        method="consensus",
        now=now,
        actor="quorum",
        agreement=agreement.share,
        confidence=confidence,
        reason=agreement.describe(),
    )


def _sign_off_gold(
    session: Session,
    item: Item,
    project: Project,
    config: ProjectConfig,
    answers: list[tuple[str, object]],
    agreement: ItemAgreement,
    *,
    now: datetime,
) -> Label:
    """A gold item takes its known value, whatever the reviewers said; each reviewer's
    correctness goes into the sign-off event (reviewer stats recompute it from the answers)."""
    kind = kind_of(config)
    correct = {
        reviewer: kind.matches_gold(value, item.gold, item.content) for reviewer, value in answers
    }
    return sign_off(
        session,
        item,
        project,
        value=kind.canonical(item.gold, item.content),
        method="gold",
        now=now,
        actor="quorum",
        agreement=agreement.share,
        reason=f"gold item: {sum(correct.values())} of {len(correct)} reviewers right",
        details={"gold_correct": correct},
    )
