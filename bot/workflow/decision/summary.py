"""AI summaries of escalated disagreements, written in the background for the leads.

Optional help (`llm.summarize_escalations`): a lead can always decide without it. One
attempt per escalation (with the LLM layer's retries); a failure is recorded as an event
and the escalation simply stays unsummarised. The escalation message marks the summary
as AI-written (bot/slack/escalation.py renders it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.llm import LLMUnavailable, SummaryFailed, summarize_disagreement
from bot.runtime.context import QuorumContext
from bot.workflow.decision.escalation import refresh_escalation_message
from bot.workflow.llm_projects import ClientFactory, llm_projects, openai_client_for
from storage import prelabel_queries, queries
from storage.db import session_scope
from storage.models import Escalation, Item

log = logging.getLogger(__name__)

SUMMARIZED = "escalation_summarized"
SUMMARY_FAILED = "escalation_summary_failed"


@dataclass(frozen=True)
class _Pending:
    escalation_id: int
    item_id: int
    project_id: int
    config: ProjectConfig
    content: dict
    answers: list[dict]


def _pending(ctx: QuorumContext, limit: int) -> list[_Pending]:
    with session_scope(ctx.engine) as session:
        configs = {
            pid: config
            for pid, config in llm_projects(session).items()
            if config.llm.summarize_escalations
        }
        escalations = prelabel_queries.escalations_awaiting_summary(
            session, configs, done_kinds=(SUMMARIZED, SUMMARY_FAILED), limit=limit
        )
        pending = []
        for escalation in escalations:
            item = session.get(Item, escalation.item_id)
            if item is None:
                continue
            assert escalation.id is not None and item.id is not None
            answers = [
                {"reviewer": r.reviewer_id, "value": r.value, "rationale": r.rationale}
                for r in queries.responses_for_item(session, item.id)
            ]
            pending.append(
                _Pending(
                    escalation.id,
                    item.id,
                    escalation.project_id,
                    configs[escalation.project_id],
                    item.content,
                    answers,
                )
            )
        return pending


def _store(ctx: QuorumContext, pending: _Pending, summary: str | None, reason: str | None) -> bool:
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        escalation = session.get(Escalation, pending.escalation_id, with_for_update=True)
        if escalation is None or escalation.summary is not None:
            return False
        if summary is None:
            record_event(
                session,
                SUMMARY_FAILED,
                actor="quorum",
                project_id=pending.project_id,
                item_id=pending.item_id,
                data={"escalation_id": pending.escalation_id, "reason": reason},
                at=now,
            )
            return False
        escalation.summary = summary
        session.add(escalation)
        session.flush()
        record_event(
            session,
            SUMMARIZED,
            actor="quorum",
            project_id=pending.project_id,
            item_id=pending.item_id,
            data={
                "escalation_id": pending.escalation_id,
                "model": pending.config.llm.model,
                "summary": summary,
            },
            at=now,
        )
        # Re-render the posted escalation so the leads see the summary, marked as AI-written.
        refresh_escalation_message(session, escalation, now)
    return True


def summarize_pending_escalations(
    ctx: QuorumContext,
    *,
    limit: int = 50,
    sleep: Callable[[float], None] = time.sleep,
    client_factory: ClientFactory = openai_client_for,
) -> int:
    """Summarise open escalations that have no summary yet; returns how many got one."""
    done = 0
    for pending in _pending(ctx, limit):
        summary = reason = None
        try:
            client = client_factory(ctx.settings, pending.config)
            try:
                summary = summarize_disagreement(
                    client, pending.config, pending.content, pending.answers, sleep=sleep
                )
            finally:
                client.close()
        except (SummaryFailed, LLMUnavailable) as exc:
            reason = getattr(exc, "reason", None) or f"summary failed: {exc}"
            log.warning("escalation %s left without a summary: %s", pending.escalation_id, reason)
        done += _store(ctx, pending, summary, reason)
    return done
