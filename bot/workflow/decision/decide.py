"""Deciding an item once its answers are in: one more reviewer (an adaptive overlap),
consensus sign-off, a senior reviewer's review first (a review stage), or escalation to
the leads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.kinds.base import ItemAgreement
from bot.kinds.registry import kind_of
from bot.workflow.decision.escalation import escalate, request_review
from bot.workflow.decision.labels import sign_off
from bot.workflow.decision.posterior import consensus_confidence
from bot.workflow.decision.review_stage import choose_senior, review_reason
from bot.workflow.decision.rule import ask_another, settled, verdict
from bot.workflow.intake.assignment import ask_one_more
from storage import quality_queries, queries
from storage.models import Assignment, Escalation, Item, Label, Project


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

    A gold item signs off to its gold value (and scores the reviewers); any other goes by
    the sign-off rule (bot/workflow/decision/rule.py; the posterior is computed as
    bot/workflow/decision/posterior.py says, kinds without one skip that step), escalating
    with the consensus offered to the lead as the default. `assignments`: the item's
    assignments, when the caller has just read them in this transaction.
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

    def posterior() -> float | None:
        return consensus_confidence(
            session,
            project,
            config,
            content=item.content,
            answers=answers,
            consensus=agreement.value,
        )

    judged = verdict(config, agreement, posterior)
    if config.adaptive is not None:
        known = judged.confidence
        confidence = known if known is not None or agreement.value is None else posterior()
        more = ask_another(config, len(answers), judged, confidence)
        if more is not None and ask_one_more(session, item, config, reason=more, now=now):
            return None  # decided again when the new reviewer has answered
        judged = settled(config, judged, confidence, len(answers))
    if not judged.signs_off:
        return to_lead(judged.reason, judged.confidence)
    review = review_reason(
        config,
        item,
        agreement,
        lambda: judged.confidence if judged.confidence is not None else posterior(),
    )
    if review is not None:  # a senior checks what the reviewers agreed on first
        senior = choose_senior(session, item, config, answered_by={r for r, _ in answers})
        if senior is None:
            return to_lead(f"{review}; no senior reviewer available", judged.confidence)
        return request_review(
            session,
            item,
            reviewer=senior,
            consensus=agreement,
            reason=review,
            now=now,
            confidence=judged.confidence,
        )
    return sign_off(
        session,
        item,
        project,
        value=agreement.value,
        method="consensus",
        now=now,
        actor="quorum",
        agreement=agreement.share,
        confidence=judged.confidence,
        reason=judged.reason,
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
