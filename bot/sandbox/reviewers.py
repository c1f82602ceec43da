"""Simulated reviewers: answer a review DM of any task kind the way a person does, by
pressing the buttons they can see and filling in the modals that open, all through the
signed request sender, so the demo and tests drive the real Slack surface.

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
from bot.slack import ids
from bot.slack.controls import label_uses_buttons
from bot.slack.payloads import label_token
from bot.slack.review import preference_order
from bot.slack.views import split_for_inputs
from bot.slack.wording import say
from bot.workflow.project_versions import project_config
from bot.workflow.values import BOTH_BAD, TIE, original_response
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
        item = session.get(Item, assignment.item_id)
        project = session.get(Project, item.project_id)
        return assignment, item, project_config(session, project)


def _block(message: dict, prefix: str) -> dict:
    for block in message.get("blocks") or []:
        if (block.get("block_id") or "").startswith(prefix):
            return block
    raise NotAReviewRequest(f"no block {prefix}… in this message")


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
    if config.kind == "label":
        return _answer_label(sandbox, user, message, config, item, truth, right, rng)
    if config.kind == "rating":
        return _answer_rating(sandbox, user, message, config, truth, accuracy, rng)
    if config.kind == "preference":
        return _answer_preference(
            sandbox, user, message, config, assignment, item, truth, right, rng
        )
    return _answer_correction(sandbox, user, message, item, truth, right, rng)


def _answer_label(sandbox, user, message, config, item, truth, right, rng):  # type: ignore[no-untyped-def]
    if config.multi_label:
        wanted = list(truth) if isinstance(truth, list) else [rng.choice(config.labels)]
        if not right:
            wanted = rng.sample(config.labels, k=rng.randint(1, min(2, len(config.labels))))
        block = _block(message, "labels:")
        picker = block["elements"][0]
        sandbox.sender.click(
            user,
            message,
            text=say("controls", name="submit_labels"),
            values={block["block_id"]: {picker["action_id"]: [label_token(w) for w in wanted]}},
        )
        return wanted
    label = truth if isinstance(truth, str) else rng.choice(config.labels)
    if not right:
        label = rng.choice([other for other in config.labels if other != label] or [label])
    predicted = (item.content.get("prediction") or {}).get("label")
    if label_uses_buttons(config) or label == predicted:
        text = say("confirm_button", label=label) if label == predicted else label
        sandbox.sender.click(user, message, text=text)
    else:
        sandbox.sender.click(user, message, action_id=ids.PICK_LABEL, selected=label_token(label))
    return label


def _answer_rating(sandbox, user, message, config, truth, accuracy, rng):  # type: ignore[no-untyped-def]
    low, high = config.scale.min, config.scale.max
    scores = {}
    for index, criterion in enumerate(config.criteria):
        target = (truth or {}).get(criterion, rng.randint(low, high))
        if rng.random() >= accuracy:
            target = min(high, max(low, target + rng.choice((-1, 1))))
        scores[criterion] = target
        block = _block(message, f"rate:{_assignment_id(message)}:{index}")
        alone = {**message, "blocks": [block]}
        if block["type"] == "actions":
            sandbox.sender.click(user, alone, text=config.scale.label_for(target))
        else:
            sandbox.sender.click(user, alone, action_id=ids.RATE_SELECT, selected=str(target))
    return scores


def _answer_preference(sandbox, user, message, config, assignment, item, truth, right, rng):  # type: ignore[no-untyped-def]
    order = preference_order(item.content, assignment.presentation)
    choice = truth if truth is not None else rng.choice(order)
    if not right:
        sides = [r for r in order if r != choice]
        choice = rng.choice(sides or order)
    if choice == TIE:
        text = say("controls", name="tie")
    elif choice == BOTH_BAD:
        text = say("controls", name="both_bad")
    else:
        side = "A" if order[0] == choice else "B"
        strength = rng.choice(("slightly", "much")) if config.ask_strength else None
        text = say("prefer_button", side=side, strength=strength)
    sandbox.sender.click(user, message, text=text)
    return choice


def _answer_correction(sandbox, user, message, item, truth, right, rng):  # type: ignore[no-untyped-def]
    original = original_response(item.content)
    corrected = truth
    if not right:
        corrected = (
            None if truth is not None else original.rstrip() + "\n\n(Please check with counsel.)"
        )
    if corrected is None:
        sandbox.sender.click(user, message, text=say("controls", name="looks_right"))
        return None
    opened = len(sandbox.emulator.views_opened())
    sandbox.sender.click(user, message, text=say("controls", name="edit_response"))
    # With a background runtime the app acks first and opens the modal just after.
    modal = sandbox.wait_until(
        lambda: (views := sandbox.emulator.views_opened())[opened:] and views[-1]
    )
    parts, _ = split_for_inputs(corrected)
    inputs = sum(1 for b in modal["blocks"] if (b.get("block_id") or "").startswith("correction"))
    parts = (parts + [""] * inputs)[:inputs] if len(parts) <= inputs else [corrected]
    values = {ids.correction_block(i): {ids.TEXT_INPUT: part} for i, part in enumerate(parts)}
    sandbox.sender.submit_view(user, modal, values)
    return corrected
