"""Disagreement summaries: two sentences telling a lead what reviewers disagree about.

Optional help for escalations (`llm.summarize_escalations`); a lead can always decide
without it, so a failure raises SummaryFailed and the escalation goes out unsummarised.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.config.project import ProjectConfig
from bot.llm.client import LLMCallFailed, MalformedOutput, call_with_retries, client_secret
from bot.llm.prelabel import (
    InvalidContent,
    PromptTemplateError,
    completion_text,
    item_variables,
    render_messages,
)

SUMMARY_TEMPLATE = "summary.j2"
MAX_SUMMARY_CHARS = 600
MAX_VALUE_CHARS = 1500


class SummaryFailed(LLMCallFailed):
    """No summary; `reason` says why, e.g. "summary failed: timeout after 3 attempts"."""


def value_text(value: object) -> str:
    """One reviewer's answer as a short phrase the model (and a lead) can read."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {score}" for key, score in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"
    return json.dumps(value, ensure_ascii=False, default=str)


def _clean(text: str) -> str:
    """One paragraph, bounded: it is shown in a Slack section next to the answers."""
    text = " ".join(text.split())
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1].rstrip() + "…"
    return text


def summarize_disagreement(
    client: Any,
    config: ProjectConfig,
    content: dict,
    answers: list[dict],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Two sentences for team leads on what the reviewers disagree about.

    `answers`: [{"reviewer": "U..", "value": ..., "rationale": str | None}]. The text
    is plain (not escaped for Slack); the caller renders it safely.
    """
    llm = config.llm
    try:
        variables = item_variables(config, content)
        variables["answers"] = [
            {
                "reviewer": str(answer.get("reviewer", "reviewer")),
                "value_text": value_text(answer.get("value")),
                "rationale": (answer.get("rationale") or "").strip() or None,
            }
            for answer in answers
        ]
        messages, _digest = render_messages(SUMMARY_TEMPLATE, variables)
    except (InvalidContent, PromptTemplateError) as exc:
        raise SummaryFailed(f"summary failed: {exc}") from None

    def attempt() -> str:
        completion = client.chat.completions.create(
            model=llm.model,
            messages=messages,
            temperature=llm.temperature,
            timeout=llm.timeout_s,
        )
        text = _clean(completion_text(completion))
        if not text:
            raise MalformedOutput("empty summary")
        return text

    text, _attempts = call_with_retries(
        attempt,
        what="summary",
        max_retries=llm.max_retries,
        secret=client_secret(client),
        sleep=sleep,
        error=SummaryFailed,
    )
    return text
