"""Background pre-labelling: each queued item of an LLM-assisted project gets a pre-label,
or a recorded failure, before dispatch routes it.

Never runs inside a Slack request: the LLM can take seconds per item, retries take
longer. Each result is written in its own transaction, and only the written row releases
the item to routing, so a crash between the LLM call and the write leaves the item
waiting and it is asked again: no item is lost, none is routed without its pre-label.
The thread that runs it is bot.workflow.llm_assist; `suggestion_for` is how a review
request shows the pre-label.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot.audit.chain import record_event
from bot.config.project import ProjectConfig
from bot.llm import (
    LLMUnavailable,
    PreLabel,
    PreLabelFailed,
    prelabel_many,
    prompt_template_hash,
)
from bot.llm.prelabel import PromptTemplateError
from bot.runtime.context import QuorumContext
from bot.workflow.llm_projects import ClientFactory, llm_projects, openai_client_for
from storage import prelabel_queries, queries
from storage.db import session_scope
from storage.models import ItemStatus, PreLabelRecord

log = logging.getLogger(__name__)


@dataclass
class PrelabelReport:
    prelabelled: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.prelabelled + self.failed


def _prompt_hash(config: ProjectConfig) -> str:
    try:
        return prompt_template_hash(config.llm.prompt)
    except PromptTemplateError:
        return ""


def store_prelabel(
    session: Session,
    item_id: int,
    config: ProjectConfig,
    result: PreLabel | PreLabelFailed,
    *,
    now: datetime,
) -> PreLabelRecord | None:
    """Write one pre-label (or failure) and its event; None when the item no longer
    waits (routed meanwhile, or another worker stored its pre-label first)."""
    item = queries.lock_item(session, item_id)
    if item is None or item.status != ItemStatus.QUEUED or item.route_reason is not None:
        return None
    if prelabel_queries.latest_prelabel(session, item_id) is not None:
        return None
    if isinstance(result, PreLabel):
        record = PreLabelRecord(
            item_id=item_id,
            model=result.model[:128],
            prompt_name=result.prompt_name,
            prompt_hash=result.prompt_hash,
            value=result.value,
            confidence=result.confidence,
            rationale=result.rationale,
            raw_output=result.raw_output,
            created_at=now,
        )
        kind = "prelabelled"
        data = {
            "model": record.model,
            "prompt": record.prompt_name,
            "prompt_hash": record.prompt_hash,
            "value": result.value,
            "confidence": result.confidence,
            "attempts": result.attempts,
        }
        if result.images:  # which renditions the model saw: "<sha256>:<rendition>"
            data["images"] = list(result.images)
    else:
        record = PreLabelRecord(
            item_id=item_id,
            model=config.llm.model[:128],
            prompt_name=config.llm.prompt,
            prompt_hash=_prompt_hash(config),
            error=result.reason,
            created_at=now,
        )
        kind = "prelabel_failed"
        data = {
            "model": record.model,
            "prompt": record.prompt_name,
            "prompt_hash": record.prompt_hash,
            "reason": result.reason,
            "attempts": result.attempts,
        }
    session.add(record)
    session.flush()
    data["prelabel_id"] = record.id
    record_event(
        session,
        kind,
        actor="quorum",
        project_id=item.project_id,
        item_id=item_id,
        data=data,
        at=now,
    )
    return record


def _prelabel_batch(
    ctx: QuorumContext,
    config: ProjectConfig,
    contents: dict[int, dict],
    report: PrelabelReport,
    *,
    client_factory: ClientFactory,
    sleep: Callable[[float], None],
) -> None:
    def on_result(item_id: int, result: PreLabel | PreLabelFailed) -> None:
        with session_scope(ctx.engine) as session:
            stored = store_prelabel(session, item_id, config, result, now=ctx.clock.now())
        if stored is None:
            return
        if stored.error:
            report.failed += 1
        else:
            report.prelabelled += 1

    try:
        client = client_factory(ctx.settings, config)
    except LLMUnavailable as exc:
        # Without a key nothing can be pre-labelled; reviewers get the items, with why.
        log.warning("project %s: %s", config.name, exc)
        failure = PreLabelFailed(f"pre-label failed: {exc}")
        for item_id in contents:
            on_result(item_id, failure)
        return
    try:
        prelabel_many(client, config, contents, on_result=on_result, sleep=sleep)
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()


def prelabel_pending(
    ctx: QuorumContext,
    *,
    limit: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    client_factory: ClientFactory = openai_client_for,
) -> PrelabelReport:
    """Pre-label waiting items until none is left (or `limit` were handled).

    Batches hold a few times `llm.concurrency` items so the calls overlap while results
    are written as they come.
    """
    report = PrelabelReport()
    seen: set[int] = set()
    while limit is None or report.total < limit:
        with session_scope(ctx.engine) as session:
            configs = llm_projects(session)
            waiting = prelabel_queries.items_awaiting_prelabel(session, configs, limit=200)
            fresh = [item for item in waiting if item.id not in seen]
        if not fresh:
            break
        by_project: dict[int, dict[int, dict]] = {}
        for item in fresh:
            assert item.id is not None
            seen.add(item.id)
            by_project.setdefault(item.project_id, {})[item.id] = item.content
        for project_id, contents in by_project.items():
            config = configs[project_id]
            ids = list(contents)
            size = max(1, config.llm.concurrency * 4)
            if limit is not None:
                ids = ids[: max(0, limit - report.total)]
            for start in range(0, len(ids), size):
                batch = {item_id: contents[item_id] for item_id in ids[start : start + size]}
                _prelabel_batch(
                    ctx, config, batch, report, client_factory=client_factory, sleep=sleep
                )
    return report


def suggestion_for(session: Session, config: ProjectConfig, item_id: int) -> dict | None:
    """The item's pre-label as the review request shows it ("AI suggests: billing (0.62)"),
    or None when there is none, LLM assist is off, or the project hides suggestions to
    avoid anchoring reviewers."""
    if not (config.llm.enabled and config.llm.show_suggestion):
        return None
    record = prelabel_queries.latest_prelabel(session, item_id)
    if record is None or record.error or record.value is None:
        return None
    return {"value": record.value, "confidence": record.confidence, "model": record.model}
