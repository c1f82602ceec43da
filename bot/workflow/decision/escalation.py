"""Escalations: handing an item to the leads, posting the disagreement, resolving it, and
chasing it.

An escalated item waits for one of its project's leads (``config.leads``). The message in
``config.escalation_channel`` shows the sample, every answer with its rationale and time,
the agreement figures and one "Accept: <answer>" button per distinct answer plus
"Decide…". Resolution signs the item off with method "lead", updates the message to show
who decided what, and tells reviewers whose answer differed (``sign_off.notify_overruled``).
All Slack calls go through the outbox, in the transaction of the change that caused them.

Blind review holds: an item is escalated only once every assigned reviewer has answered,
the channel is for leads, and overruled reviewers hear of other answers only after the
decision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.config.stages import review_stage
from bot.delivery import outbox
from bot.kinds.base import ItemAgreement
from bot.kinds.registry import kind_of
from bot.runtime.context import QuorumContext
from bot.slack import escalation as blocks
from bot.slack.messages import SlackMessage
from bot.webhooks import events as webhook_events
from bot.workflow.decision.labels import sign_off
from bot.workflow.decision.posterior import consensus_confidence
from bot.workflow.decision.rule import LEAD_SIGNS_OFF_ALL
from bot.workflow.project_versions import project_config
from bot.workflow.roles import may_decide
from bot.workflow.transaction import transact
from storage import escalation_queries, quality_queries, queries
from storage.db import session_scope
from storage.models import Escalation, Item, ItemStatus, Project


class ResolveOutcome:
    RESOLVED = "resolved"
    NOT_LEAD = "not_lead"
    ALREADY_RESOLVED = "already_resolved"
    UNKNOWN = "unknown"
    INVALID = "invalid"


@dataclass(frozen=True)
class ResolveResult:
    outcome: str
    notice: str | None = None  # an ephemeral note for the person who clicked, if any
    errors: dict[str, str] | None = None  # modal errors by block id


@dataclass(frozen=True)
class _Context:
    escalation: Escalation
    item: Item
    project: Project
    config: ProjectConfig
    answers: list[tuple[Any, Any]]  # (AnswerRow, canonical value)


def _load(session: Session, escalation: Escalation) -> _Context:
    item = session.get(Item, escalation.item_id)
    project = session.get(Project, escalation.project_id)
    assert item is not None and item.id is not None and project is not None
    config = project_config(session, project)
    rows = quality_queries.item_answers(session, item.id)
    kind = kind_of(config)
    answers = [(row, kind.canonical(row.value, item.content, row.presentation)) for row in rows]
    return _Context(escalation, item, project, config, answers)


# --------------------------------------------------------------------------- escalating


def escalate(
    session: Session,
    item: Item,
    *,
    consensus: ItemAgreement,
    reason: str,
    now: datetime,
    confidence: float | None = None,
) -> Escalation:
    """Mark the item for a lead's decision and queue its message to the leads' channel.
    `consensus` gives the agreement figures the `escalated` event records."""
    escalation = _opened(session, item, reason=reason, status=ItemStatus.ESCALATED, now=now)
    record_event(
        session,
        "escalated",
        actor="quorum",
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "reason": reason,
            "agreement": consensus.share,
            "tied": consensus.tied,
            "confidence": confidence,
            "escalation_id": escalation.id,
        },
    )
    webhook_events.item_escalated(
        session, item, escalation, agreement=consensus.share, tied=consensus.tied, now=now
    )
    announce_escalation(session, escalation, now=now)
    return escalation


def _opened(
    session: Session,
    item: Item,
    *,
    reason: str,
    status: str,
    now: datetime,
    stage: str = escalation_queries.SIGN_OFF,
    assignee: str | None = None,
) -> Escalation:
    """The item's escalation row (flushed, so it has its id), the item set to `status`."""
    assert item.id is not None
    escalation = Escalation(
        item_id=item.id,
        project_id=item.project_id,
        stage=stage,
        assignee=assignee,
        reason=reason,
        created_at=now,
    )
    session.add(escalation)
    item.status, item.updated_at = status, now
    session.add(item)
    session.flush()
    return escalation


def review_stage_name(config: ProjectConfig) -> str | None:
    stage = review_stage(config.stages)
    return stage.name if stage else None


def request_review(
    session: Session,
    item: Item,
    *,
    reviewer: str,
    consensus: ItemAgreement,
    reason: str,
    now: datetime,
    confidence: float | None = None,
) -> Escalation:
    """Give what the reviewers agreed on to a senior `reviewer` (a review stage): the
    item waits, answered, while their DM offers "Accept: <consensus>" and "Fix…"."""
    escalation = _opened(
        session,
        item,
        reason=reason,
        status=ItemStatus.ANSWERED,
        now=now,
        stage=escalation_queries.REVIEW,
        assignee=reviewer,
    )
    project = session.get(Project, item.project_id)
    assert project is not None
    record_event(
        session,
        "review_requested",
        actor="quorum",
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={
            "stage": review_stage_name(project_config(session, project)),
            "reviewer": reviewer,
            "reason": reason,
            "consensus": consensus.value,
            "agreement": consensus.share,
            "confidence": confidence,
            "escalation_id": escalation.id,
        },
    )
    send_review(session, escalation, key=f"escalation:{escalation.id}:post", now=now)
    return escalation


def send_review(session: Session, escalation: Escalation, *, key: str, now: datetime) -> None:
    """Queue the review's DM to its senior reviewer (`escalation.assignee`)."""
    message = build_escalation_message(session, escalation)
    outbox.enqueue(
        session,
        outbox.POST_DM,
        {"user": escalation.assignee, "text": message.text, "blocks": message.blocks},
        key=key,
        now=now,
        item_id=escalation.item_id,
        escalation_id=escalation.id,
    )


# --------------------------------------------------------------------------- the message


def _card(session: Session, ctx: _Context) -> blocks.EscalationCard:
    config, item, escalation = ctx.config, ctx.item, ctx.escalation
    assert escalation.id is not None
    kind = kind_of(config)
    agreement = kind.agreement(config, [value for _, value in ctx.answers])
    shown = []
    for number, (row, value) in enumerate(ctx.answers, start=1):
        text = kind.describe(config, value, item.content)
        if kind.edited_text(value):
            text = f"edit {number}"
        shown.append(
            blocks.ShownAnswer(
                reviewer=row.reviewer_id,
                text=text,
                seconds=row.latency_ms / 1000 if row.latency_ms is not None else None,
                rationale=row.rationale,
                edited_text=kind.edited_text(value),
                flags=[
                    str(flag.get("reason"))
                    for flag in row.flags or []
                    if isinstance(flag, dict) and flag.get("reason")
                ],
            )
        )
    choices: dict[str, blocks.Choice] = {}
    consensus_key = kind.answer_key(agreement.value) if agreement.value else None
    for number, (row, value) in enumerate(ctx.answers, start=1):
        key = kind.answer_key(value)
        if key in choices:
            found = choices[key]
            choices[key] = blocks.Choice(
                found.text, found.response_id, found.count + 1, found.is_consensus
            )
            continue
        text = kind.describe(config, value, item.content)
        if kind.edited_text(value):
            text = f"edit {number}"
        choices[key] = blocks.Choice(text, row.response_id, 1, key == consensus_key)
    ordered = sorted(choices.values(), key=lambda c: (not c.is_consensus, -c.count))
    review = escalation.stage == escalation_queries.REVIEW
    if review:  # the senior accepts what the reviewers agreed on, or fixes it
        ordered = [c for c in ordered if c.is_consensus]
    posterior = None
    if agreement.value is not None:
        posterior = consensus_confidence(
            session,
            ctx.project,
            config,
            content=item.content,
            answers=[(row.reviewer_id, value) for row, value in ctx.answers],
            consensus=agreement.value,
        )
    resolved_text = None
    if escalation.resolved_by:
        resolved_text = kind.describe(config, escalation.resolved_value, item.content)
    return blocks.EscalationCard(
        escalation_id=escalation.id,
        config=config,
        external_id=item.external_id,
        content=item.content,
        reason=escalation.reason,
        answers=shown,
        choices=ordered,
        share=agreement.share,
        agreeing=agreement.agreeing,
        per_criterion=agreement.per_criterion,
        posterior=posterior,
        sign_off_only=escalation.reason == LEAD_SIGNS_OFF_ALL,
        consensus=agreement.value,
        consensus_text=kind.describe(config, agreement.value, item.content)
        if agreement.value is not None
        else None,
        summary=escalation.summary,
        resolved_by=escalation.resolved_by,
        resolved_text=resolved_text,
        resolution_rationale=escalation.resolution_rationale,
        resolved_at=escalation.resolved_at,
        review=review,
    )


def build_escalation_message(session: Session, escalation: Escalation) -> SlackMessage:
    """The escalation message as it should look now (open, summarised or resolved)."""
    text, built = blocks.escalation_blocks(_card(session, _load(session, escalation)))
    return SlackMessage(text=text, blocks=built)


def _channel(session: Session, escalation: Escalation) -> str | None:
    if escalation.channel:
        return escalation.channel
    project = session.get(Project, escalation.project_id)
    return project_config(session, project).escalation_channel if project else None


def announce_escalation(
    session: Session, escalation: Escalation, *, now: datetime, key: str | None = None
) -> None:
    """Queue the escalation message to the project's escalation channel. The delivery
    worker stores the posted message's channel and ts on the escalation row. `key`: when
    the escalation was a review first (its post had the default key)."""
    channel = _channel(session, escalation)
    if channel is None:
        return  # leads still see it on their App Home; nothing to post
    message = build_escalation_message(session, escalation)
    outbox.enqueue(
        session,
        outbox.POST_MESSAGE,
        {"channel": channel, "text": message.text, "blocks": message.blocks},
        key=key or f"escalation:{escalation.id}:post",
        now=now,
        item_id=escalation.item_id,
        escalation_id=escalation.id,
    )


def refresh_escalation_message(session: Session, escalation: Escalation, now: datetime) -> None:
    """Queue a chat.update that re-renders the posted message (after a summary or the
    decision). Identical renders share an idempotency key, so they are sent once. A
    review's DM is found when it is sent (the DM may not be posted yet)."""
    if escalation.stage != escalation_queries.REVIEW and _channel(session, escalation) is None:
        return
    message = build_escalation_message(session, escalation)
    digest = hashlib.sha256(
        json.dumps([message.text, message.blocks], sort_keys=True).encode()
    ).hexdigest()[:16]
    outbox.enqueue_update(
        session,
        key=f"escalation:{escalation.id}:update:{digest}",
        now=now,
        target={"escalation_id": escalation.id},
        text=message.text,
        blocks=message.blocks,
        item_id=escalation.item_id,
    )


# --------------------------------------------------------------------------- resolving


def resolve_escalation(
    session: Session,
    *,
    escalation_id: int,
    lead: str,
    now: datetime,
    response_id: int | None = None,
    value: Any = None,
    rationale: str | None = None,
) -> ResolveResult:
    """A lead's decision: accept an answer (``response_id``) or give a final ``value``;
    or a senior reviewer's, on the review they were given: accept the consensus or fix it.

    Only the project's leads may resolve (and only a review's senior review it); a
    resolved escalation is never resolved again. ``lead`` is whoever clicked.
    """
    escalation = escalation_queries.lock_escalation(session, escalation_id)
    if escalation is None:
        return ResolveResult(ResolveOutcome.UNKNOWN, blocks.UNKNOWN_NOTICE)
    project = session.get(Project, escalation.project_id)
    assert project is not None
    config = project_config(session, project)
    review = escalation.stage == escalation_queries.REVIEW
    if not may_decide(config, escalation.stage, escalation.assignee, lead):
        return ResolveResult(ResolveOutcome.NOT_LEAD, _refusal(config, escalation))
    item = queries.lock_item(session, escalation.item_id)
    assert item is not None
    waiting = ItemStatus.ANSWERED if review else ItemStatus.ESCALATED
    if escalation.status != escalation_queries.OPEN or item.status != waiting:
        decided = (
            kind_of(config).describe(config, escalation.resolved_value, item.content)
            if escalation.resolved_by
            else None
        )
        notice = blocks.already_resolved_notice(escalation.resolved_by, decided)
        plain = f"Already resolved by {escalation.resolved_by or 'a lead'}; nothing was changed."
        return ResolveResult(ResolveOutcome.ALREADY_RESOLVED, notice, {"rationale": plain})
    ctx = _load(session, escalation)
    if response_id is not None:
        chosen = next((v for row, v in ctx.answers if row.response_id == response_id), None)
        if chosen is None:
            return ResolveResult(ResolveOutcome.INVALID, "That answer is not part of this item.")
        final = chosen
    else:
        kind = kind_of(config)
        final = kind.decision_value(config, item.content, value)
        problem = kind.decision_problem(config, item.content, final)
        if problem:
            return ResolveResult(ResolveOutcome.INVALID, problem, {"decision": problem})
    agreement = kind_of(config).agreement(config, [v for _, v in ctx.answers])
    escalation.status = escalation_queries.RESOLVED
    escalation.resolved_by = lead
    escalation.resolved_value = final
    escalation.resolution_rationale = rationale or None
    escalation.resolved_at = now
    session.add(escalation)
    session.flush()
    data = {
        "escalation_id": escalation.id,
        "value": final,
        "rationale": rationale or None,
        "accepted_response_id": response_id,
        "via": "button" if response_id is not None else "modal",
    }
    if review:
        _reviewed(session, ctx, final, data, reviewer=lead, agreement=agreement, now=now)
    else:
        record_event(
            session,
            "resolved",
            actor=lead,
            project_id=item.project_id,
            item_id=item.id,
            at=now,
            data=data,
        )
        sign_off(
            session,
            item,
            project,
            value=final,
            method="lead",
            now=now,
            actor=lead,
            agreement=agreement.share,
            signed_off_by=lead,
            reason=rationale or "a lead accepted a reviewer's answer",
        )
    refresh_escalation_message(session, escalation, now)
    if config.sign_off.notify_overruled:
        role = "senior reviewer" if review else "lead"
        _tell_overruled(session, ctx, final, lead=lead, rationale=rationale, now=now, role=role)
    return ResolveResult(ResolveOutcome.RESOLVED)


def _refusal(config: ProjectConfig, escalation: Escalation) -> str:
    if escalation.stage == escalation_queries.REVIEW:
        return blocks.not_your_review_notice(escalation.assignee)
    return blocks.not_a_lead_notice(config)


def _reviewed(
    session: Session,
    ctx: _Context,
    final: Any,
    data: dict[str, Any],
    *,
    reviewer: str,
    agreement: ItemAgreement,
    now: datetime,
) -> None:
    """A senior reviewer's verdict on the consensus: accepted, it signs off as the
    reviewers' consensus (checked); fixed, their value overrules (method `review`)."""
    config, item, escalation = ctx.config, ctx.item, ctx.escalation
    accepted = agreement.value is not None and kind_of(config).same_answer(final, agreement.value)
    action = "accepted" if accepted else "fixed"
    record_event(
        session,
        "reviewed",
        actor=reviewer,
        project_id=item.project_id,
        item_id=item.id,
        at=now,
        data={**data, "stage": review_stage_name(config), "action": action},
    )
    rationale = data["rationale"]
    sign_off(
        session,
        item,
        ctx.project,
        value=final,
        method="consensus" if accepted else "review",
        now=now,
        actor=reviewer,
        agreement=agreement.share,
        signed_off_by=reviewer,
        reason=rationale or f"a senior reviewer {action} the reviewers' consensus",
        details={
            "review": {
                "stage": review_stage_name(config),
                "reviewer": reviewer,
                "action": action,
                "why": escalation.reason,
            }
        },
    )


def _tell_overruled(
    session: Session,
    ctx: _Context,
    final: Any,
    *,
    lead: str,
    rationale: str | None,
    now: datetime,
    role: str = "lead",
) -> None:
    config, item = ctx.config, ctx.item
    decided = kind_of(config).describe(config, final, item.content)
    for row, value in ctx.answers:
        if kind_of(config).same_answer(value, final):
            continue
        yours = kind_of(config).describe(config, value, item.content)
        text, built = blocks.overruled_message(
            config,
            external_id=item.external_id,
            yours=yours,
            decided=decided,
            lead=lead,
            rationale=rationale,
            role=role,
        )
        outbox.enqueue(
            session,
            outbox.POST_DM,
            {"user": row.reviewer_id, "text": text, "blocks": built},
            key=f"escalation:{ctx.escalation.id}:overruled:{row.reviewer_id}",
            now=now,
            item_id=item.id,
        )


def _resolve_in_transaction(ctx: QuorumContext, **kwargs: Any) -> ResolveResult:
    """One transaction; two leads racing lose on the lock or on the one-label-per-item
    constraint, and the retry then reads "already resolved". Nothing is kept unless the
    escalation was resolved."""
    return transact(
        ctx,
        lambda session, now: resolve_escalation(session, now=now, **kwargs),
        keep=lambda result: result.outcome == ResolveOutcome.RESOLVED,
    )


def accept_answer(
    ctx: QuorumContext, *, escalation_id: int, response_id: int, lead: str
) -> ResolveResult:
    """An "Accept: <answer>" click."""
    return _resolve_in_transaction(
        ctx, escalation_id=escalation_id, lead=lead, response_id=response_id
    )


def submit_decision(
    ctx: QuorumContext, *, escalation_id: int, lead: str, state_values: dict
) -> ResolveResult:
    """A submitted "Decide…" modal: a final value and a required rationale."""
    with session_scope(ctx.engine) as session:
        escalation = session.get(Escalation, escalation_id)
        if escalation is None:
            return ResolveResult(ResolveOutcome.UNKNOWN, blocks.UNKNOWN_NOTICE)
        project = session.get(Project, escalation.project_id)
        assert project is not None
        config = project_config(session, project)
    value, rationale, errors = blocks.read_decision(config, state_values)
    if errors:
        return ResolveResult(ResolveOutcome.INVALID, errors=errors)
    result = _resolve_in_transaction(
        ctx, escalation_id=escalation_id, lead=lead, value=value, rationale=rationale
    )
    if result.outcome in (ResolveOutcome.NOT_LEAD, ResolveOutcome.UNKNOWN):
        refusal = (
            "Only this project's leads can resolve its escalations, and only its senior "
            "reviewer this review; nothing was changed."
        )
        if result.outcome == ResolveOutcome.UNKNOWN:
            refusal = "This escalation no longer exists; nothing was changed."
        return ResolveResult(result.outcome, result.notice, {"rationale": refusal})
    if result.errors and "decision" in result.errors:
        # The kind says which input shows a problem with the value (ratings and rankings
        # have one input per criterion or rank).
        block = kind_of(config).decision_error_block(config)
        return ResolveResult(result.outcome, result.notice, {block: result.errors["decision"]})
    return result


@dataclass(frozen=True)
class DecisionModal:
    view: dict | None = None
    refusal: str | None = None


def decision_modal(ctx: QuorumContext, *, escalation_id: int, lead: str) -> DecisionModal:
    """The "Decide…" modal for a lead, or the reason it is refused (not a lead, resolved)."""
    with session_scope(ctx.engine) as session:
        escalation = session.get(Escalation, escalation_id)
        if escalation is None:
            return DecisionModal(refusal=blocks.UNKNOWN_NOTICE)
        loaded = _load(session, escalation)
        if not may_decide(loaded.config, escalation.stage, escalation.assignee, lead):
            return DecisionModal(refusal=_refusal(loaded.config, escalation))
        if escalation.status != escalation_queries.OPEN:
            decided = kind_of(loaded.config).describe(
                loaded.config, escalation.resolved_value, loaded.item.content
            )
            return DecisionModal(
                refusal=blocks.already_resolved_notice(escalation.resolved_by, decided)
            )
        return DecisionModal(view=blocks.decision_modal(_card(session, loaded)))


# --------------------------------------------------------------------------- reminders


def remind_stale_escalations(target: Session | QuorumContext, now: datetime | None = None) -> int:
    """Chase open escalations: after ``timing.escalation_reminder_hours`` without a decision
    a reminder in the message's thread mentioning the first lead, then at each further
    interval a mention of the next lead in ``config.leads`` (cycling). Returns how many
    reminders were queued. Safe to run often: each reminder has its own idempotency key."""
    if isinstance(target, QuorumContext):
        with session_scope(target.engine) as session:
            sent = remind_stale_escalations(session, now or target.clock.now())
        if sent:
            outbox.wake_delivery()
        return sent
    assert now is not None, "pass `now` with a session"
    session = target
    sent = 0
    configs: dict[int, ProjectConfig] = {}
    for escalation, _, project in escalation_queries.open_escalations(session):
        if escalation.project_id not in configs:
            configs[escalation.project_id] = project_config(session, project)
        config = configs[escalation.project_id]
        channel = escalation.channel or config.escalation_channel
        if channel is None:
            continue
        interval = timedelta(hours=config.timing.escalation_reminder_hours)
        since = escalation.last_reminded_at or escalation.created_at
        if now - since < interval:
            continue
        number = escalation.reminders_sent + 1
        lead = config.leads[(number - 1) % len(config.leads)] if config.leads else None
        waited = (now - escalation.created_at).total_seconds() / 3600
        outbox.enqueue(
            session,
            outbox.POST_MESSAGE,
            {
                "channel": channel,
                "thread_of": {"escalation_id": escalation.id},
                "text": blocks.reminder_text(lead=lead, number=number, waited_hours=waited),
            },
            key=f"escalation:{escalation.id}:reminder:{number}",
            now=now,
            item_id=escalation.item_id,
            escalation_id=escalation.id,
        )
        escalation.reminders_sent = number
        escalation.last_reminded_at = now
        session.add(escalation)
        record_event(
            session,
            "escalation_reminder",
            actor="quorum",
            project_id=escalation.project_id,
            item_id=escalation.item_id,
            at=now,
            data={"escalation_id": escalation.id, "reminder": number, "mentioned": lead},
        )
        sent += 1
    return sent


__all__ = [
    "LEAD_SIGNS_OFF_ALL",
    "DecisionModal",
    "ResolveOutcome",
    "ResolveResult",
    "accept_answer",
    "announce_escalation",
    "build_escalation_message",
    "decision_modal",
    "escalate",
    "refresh_escalation_message",
    "remind_stale_escalations",
    "resolve_escalation",
    "submit_decision",
]
