"""Simulated reviewers: answer a review DM of any task kind the way a person does, by
pressing the buttons they can see and filling in the modals that open, all through the
signed request sender, so the demo and tests drive the real Slack surface. What to
press for an answer is the task kind's (`simulate` in bot/kinds/).

`truth` is what a careful expert would answer (a label or list of labels, scores per
criterion, the better response's id or "tie" / "both_bad", the corrected text or None for
"Looks right"); with probability `accuracy` the simulated reviewer gives it, otherwise a
plausible wrong answer. The sender cannot aim at one block of a message, so a click on a
button whose text repeats (Likert scores) is sent with that block alone.
"""

from __future__ import annotations

import random
from typing import Any

from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.kinds.base import Click, SimulatedReview
from bot.kinds.registry import kind_of
from bot.slack import ids
from bot.slack.views import split_for_inputs
from bot.workflow.project_versions import project_config
from storage.models import Assignment, Item, Project


class NotAReviewRequest(LookupError):
    """The message has no answer controls (already answered, skipped, or not a review)."""


def _assignment_id(message: dict) -> int:
    for block in message.get("blocks") or []:
        block_id = block.get("block_id") or ""
        if block_id.startswith(("answer:", "rate:", "labels:")):
            found = ids.assignment_of_block(block_id)
            if found is not None:
                return found
    raise NotAReviewRequest("no answer controls in this message")


def _load(sandbox: Any, assignment_id: int) -> tuple[Assignment, Item, ProjectConfig]:
    with Session(sandbox.ctx.engine) as session:
        assignment = session.get(Assignment, assignment_id)
        assert assignment is not None  # the id is from a review DM the bot posted for it
        item = session.get(Item, assignment.item_id)
        assert item is not None  # foreign key: an assignment's item exists
        project = session.get(Project, item.project_id)
        assert project is not None  # foreign key: an item's project exists
        return assignment, item, project_config(session, project)


def answer_review(
    sandbox: Any,
    user: str,
    message: dict,
    *,
    rng: random.Random,
    accuracy: float = 0.9,
    truth: Any = None,
) -> Any:
    """Answer one review DM; returns what the simulated reviewer meant to answer."""
    assignment, item, config = _load(sandbox, _assignment_id(message))
    right = rng.random() < accuracy
    review = SimulatedReview(
        content=item.content,
        presentation=assignment.presentation,
        message=message,
        truth=truth,
        right=right,
        accuracy=accuracy,
        rng=rng,
    )
    meant, clicks = kind_of(config).simulate(config, review)
    for click in clicks:
        _perform(sandbox, user, message, click)
    return meant


def _perform(sandbox: Any, user: str, message: dict, click: Click) -> None:
    if click.block_id is not None:
        block = next(b for b in message["blocks"] if b.get("block_id") == click.block_id)
        message = {**message, "blocks": [block]}
    opened = len(sandbox.emulator.views_opened())
    sandbox.sender.click(
        user,
        message,
        **{
            name: value
            for name, value in (
                ("text", click.text),
                ("action_id", click.action_id),
                ("selected", click.selected),
                ("values", click.values),
            )
            if value is not None
        },
    )
    if click.modal_text is None:
        return
    # With a background runtime the app acks first and opens the modal just after.
    modal = sandbox.wait_until(
        lambda: (views := sandbox.emulator.views_opened())[opened:] and views[-1]
    )
    text = click.modal_text
    parts, _ = split_for_inputs(text)
    inputs = sum(
        1 for b in modal["blocks"] if (b.get("block_id") or "").startswith(ids.CORRECTION_BLOCK)
    )
    parts = (parts + [""] * inputs)[:inputs] if len(parts) <= inputs else [text]
    values = {ids.correction_block(i): {ids.TEXT_INPUT: part} for i, part in enumerate(parts)}
    sandbox.sender.submit_view(user, modal, values)
