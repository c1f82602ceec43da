"""The answer controls of a review request, one builder per task kind, plus the row of
tools every kind shares (rationale, skip, flag, change my answer).

Every control answers in one tap where Slack allows it: a button per label, per Likert
score, per preference. A select replaces buttons only when buttons would not fit or
read well on a phone. In "change" mode the same controls carry a change flag, and their
block ids differ so Slack does not carry over a half-made selection.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ConfirmObject,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)

from bot.config.project import ProjectConfig
from bot.slack import ids
from bot.slack.messages import (
    actions,
    answer_value,
    assignment_value,
    button,
    control,
    section,
)
from bot.slack.payloads import encode, label_token
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say

MAX_LABEL_BUTTONS = 5  # more than this read badly as a row of buttons on a phone
MAX_LABEL_BUTTON_CHARS = 30
MAX_CHECKBOXES = 10  # Slack's limit for a checkbox group
MAX_OPTION_TEXT = 75
MAX_CRITERIA_AS_BUTTONS = 12  # two blocks each; beyond this one select per criterion
MAX_CRITERIA = 38  # one block each, within the message's 50


def _suffix(change: bool) -> tuple[str, ...]:
    return ("c",) if change else ()


def is_change_block(block_id: str | None) -> bool:
    return (block_id or "").endswith(":c")


def _option_text(text: str) -> str:
    return text if len(text) <= MAX_OPTION_TEXT else text[: MAX_OPTION_TEXT - 1] + "…"


def _label_option(label: str) -> Option:
    return Option(value=label_token(label), text=PlainTextObject(text=_option_text(label)))


def criterion_name(criterion: str) -> str:
    name = criterion.replace("_", " ")
    return name[:1].upper() + name[1:]


# --- label --------------------------------------------------------------------------------


def label_uses_buttons(config: ProjectConfig) -> bool:
    return len(config.labels) <= MAX_LABEL_BUTTONS and all(
        len(label) <= MAX_LABEL_BUTTON_CHARS for label in config.labels
    )


def label_controls(
    config: ProjectConfig,
    assignment_id: int,
    content: dict,
    *,
    ticked: list[str] | None = None,
    change: bool = False,
) -> list[Block]:
    predicted = (content.get("prediction") or {}).get("label")
    if config.multi_label:
        return _multi_label_controls(config, assignment_id, predicted, ticked or [], change)
    block_id = ids.block("answer", assignment_id, *_suffix(change))
    if label_uses_buttons(config):
        elements = [
            button(
                say("confirm_button", label=label) if label == predicted else label,
                ids.indexed(ids.ANSWER, index),
                answer_value(assignment_id, label, change=change),
                style="primary" if label == predicted else None,
            )
            for index, label in enumerate(config.labels)
        ]
        return [actions(elements, block_id=block_id)]
    elements: list[Any] = []
    if isinstance(predicted, str) and predicted in config.labels:
        elements.append(
            button(
                say("confirm_button", label=predicted),
                ids.indexed(ids.ANSWER, 0),
                answer_value(assignment_id, predicted, change=change),
                style="primary",
            )
        )
    elements.append(
        StaticSelectElement(
            action_id=ids.PICK_LABEL,
            placeholder=control("choose_label"),
            options=[_label_option(label) for label in config.labels],
        )
    )
    return [actions(elements, block_id=block_id)]


def _multi_label_controls(
    config: ProjectConfig,
    assignment_id: int,
    predicted: Any,
    ticked: list[str],
    change: bool,
) -> list[Block]:
    options = [_label_option(label) for label in config.labels]
    initial = [o for o, label in zip(options, config.labels, strict=True) if label in ticked]
    if len(config.labels) <= MAX_CHECKBOXES:
        picker: Any = CheckboxesElement(
            action_id=ids.TICK_LABELS, options=options, initial_options=initial or None
        )
    else:
        picker = StaticMultiSelectElement(
            action_id=ids.TICK_LABELS,
            placeholder=control("choose_labels"),
            options=options,
            initial_options=initial or None,
        )
    submit = [
        button(
            control("submit_labels"),
            ids.SUBMIT_LABELS,
            assignment_value(assignment_id, **({"c": 1} if change else {})),
            style="primary",
        )
    ]
    if isinstance(predicted, list) and predicted and set(predicted) <= set(config.labels):
        submit.append(
            button(
                say("confirm_button", label=", ".join(predicted)),
                ids.indexed(ids.ANSWER, 0),
                answer_value(assignment_id, predicted, change=change),
            )
        )
    return [
        actions([picker], block_id=ids.block("labels", assignment_id, *_suffix(change))),
        actions(submit, block_id=ids.block("submit", assignment_id, *_suffix(change))),
    ]


# --- rating -------------------------------------------------------------------------------


def rating_controls(
    config: ProjectConfig, assignment_id: int, scores: dict[str, int], *, change: bool = False
) -> list[Block]:
    if len(config.criteria) > MAX_CRITERIA:
        raise ValueError(
            f"{config.name}: {len(config.criteria)} criteria do not fit in one Slack message "
            f"(at most {MAX_CRITERIA})"
        )
    points = range(config.scale.min, config.scale.max + 1)
    as_buttons = len(config.criteria) <= MAX_CRITERIA_AS_BUTTONS
    blocks: list[Block] = []
    for index, criterion in enumerate(config.criteria):
        chosen = scores.get(criterion)
        heading = say(
            "criterion",
            name=escape_mrkdwn(criterion_name(criterion)),
            chosen=config.scale.label_for(chosen) if chosen is not None else None,
        )
        block_id = ids.block("rate", assignment_id, index, *_suffix(change))
        if as_buttons:
            blocks.append(section(heading))
            blocks.append(
                actions(
                    [
                        button(
                            config.scale.label_for(score),
                            ids.indexed(ids.RATE, score),
                            _rate_value(assignment_id, criterion, score, change),
                            style="primary" if score == chosen else None,
                        )
                        for score in points
                    ],
                    block_id=block_id,
                )
            )
            continue
        options = [
            Option(value=str(score), text=PlainTextObject(text=config.scale.label_for(score)))
            for score in points
        ]
        initial = next((o for o, s in zip(options, points, strict=True) if s == chosen), None)
        blocks.append(
            SectionBlock(
                block_id=block_id,
                text=MarkdownTextObject(text=heading),
                accessory=StaticSelectElement(
                    action_id=ids.RATE_SELECT,
                    placeholder=control("choose_score"),
                    options=options,
                    initial_option=initial,
                ),
            )
        )
    if change:
        blocks.append(
            actions(
                [
                    button(
                        control("save_rating"),
                        ids.SAVE_RATING,
                        assignment_value(assignment_id),
                        style="primary",
                    )
                ],
                block_id=ids.block("save", assignment_id),
            )
        )
    return blocks


def _rate_value(assignment_id: int, criterion: str, score: int, change: bool) -> str:
    data: dict[str, Any] = {"a": assignment_id, "k": criterion, "s": score}
    if change:
        data["c"] = 1
    return encode(data)


# --- preference ---------------------------------------------------------------------------


def preference_choices(config: ProjectConfig) -> list[tuple[str, dict[str, Any]]]:
    """(button text, raw choice) in display order; A and B are positions, not ids."""
    choices: list[tuple[str, dict[str, Any]]] = []
    if config.ask_strength:
        for side, strength in (("A", "much"), ("A", "slightly"), ("B", "slightly"), ("B", "much")):
            text = say("prefer_button", side=side, strength=strength)
            choices.append((text, {"pick": side, "strength": strength}))
    else:
        for side in ("A", "B"):
            choices.append((say("prefer_button", side=side, strength=None), {"pick": side}))
    if config.allow_tie:
        choices.append((control("tie"), {"pick": "tie"}))
    if config.allow_both_bad:
        choices.append((control("both_bad"), {"pick": "both_bad"}))
    return choices


def preference_controls(
    config: ProjectConfig, assignment_id: int, *, change: bool = False
) -> list[Block]:
    elements = [
        button(
            text, ids.indexed(ids.ANSWER, index), answer_value(assignment_id, raw, change=change)
        )
        for index, (text, raw) in enumerate(preference_choices(config))
    ]
    return [actions(elements, block_id=ids.block("answer", assignment_id, *_suffix(change)))]


# --- correction ---------------------------------------------------------------------------


def correction_controls(assignment_id: int, *, change: bool = False) -> list[Block]:
    elements = [
        button(
            control("edit_response"),
            ids.EDIT_RESPONSE,
            assignment_value(assignment_id, **({"c": 1} if change else {})),
            style="primary",
        ),
        button(
            control("looks_right"),
            ids.indexed(ids.ANSWER, 1),
            answer_value(assignment_id, {"looks_right": True}, change=change),
        ),
    ]
    return [actions(elements, block_id=ids.block("answer", assignment_id, *_suffix(change)))]


# --- shared tools -------------------------------------------------------------------------


def skip_confirm() -> ConfirmObject:
    return ConfirmObject(
        title=control("skip_confirm_title"),
        text=control("skip_confirm_text"),
        confirm=control("skip_confirm_yes"),
        deny=control("skip_confirm_no"),
    )


def tools_row(assignment_id: int, *, mode: str, has_rationale: bool = False) -> list[Block]:
    """mode: "pending" (rationale, skip, flag), "answered" (change, rationale, flag),
    "changing" (keep my answer) or "closed" (nothing)."""
    value = assignment_value(assignment_id)
    rationale = button(
        control("edit_rationale" if has_rationale else "add_rationale"), ids.ADD_RATIONALE, value
    )
    flag = button(control("flag"), ids.FLAG, value)
    if mode == "pending":
        skip = button(control("skip"), ids.SKIP, value, confirm=skip_confirm())
        elements = [rationale, skip, flag]
    elif mode == "answered":
        elements = [button(control("change_answer"), ids.CHANGE_ANSWER, value), rationale, flag]
    elif mode == "changing":
        elements = [button(control("keep_answer"), ids.KEEP_ANSWER, value)]
    else:
        return []
    return [actions(elements, block_id=ids.block("tools", assignment_id))]


def full_conversation_button(*, assignment_id: int | None = None, item_id: int | None = None):
    """The "Show full conversation" button; leads' messages pass the item instead."""
    value = encode({"a": assignment_id} if assignment_id is not None else {"i": item_id})
    return button(control("full_conversation"), ids.FULL_CONVERSATION, value)
