"""Review requests by task kind: what a reviewer sees, and how an answer reads back."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from bot.projects import ProjectConfig
from bot.slack import messages
from bot.slack.messages import SlackMessage
from storage.models import Assignment


def presentation_for(config: ProjectConfig, content: dict, rng: random.Random) -> dict | None:
    """Per-reviewer presentation choices recorded with the assignment (e.g. A/B order)."""
    if config.kind == "preference":
        ids = [r["id"] for r in content["responses"]]
        if rng.random() < 0.5:
            ids.reverse()
        return {"order": ids}
    return None


def build_review_request(
    config: ProjectConfig, assignment: Assignment, content: dict
) -> SlackMessage:
    if config.kind == "label":
        return messages.label_review_request(config, assignment_id=assignment.id, content=content)
    raise NotImplementedError(f"review requests for {config.kind} items are not built yet")


def describe_answer(config: ProjectConfig, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def build_answered(
    config: ProjectConfig, assignment: Assignment, content: dict, value: Any, at: datetime
) -> SlackMessage:
    return messages.answered_message(
        config, content=content, answer=describe_answer(config, value), at=at
    )
