"""`label`: choose the label of a conversation (often confirming or correcting a model's
prediction), or several labels with `multi_label: true`.

Stored and canonical value: the label (``"billing"``), or the sorted list of labels for
multi-label projects; two multi-label answers agree only on the exact same set.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

from pydantic import Field, create_model
from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextObject,
    StaticMultiSelectElement,
    StaticSelectElement,
)

from bot.content.base import ItemRecord, Record
from bot.content.conversation import CONVERSATION, ConversationRecord
from bot.content.media import MediaContent
from bot.content.samples import MEDIA_SAMPLES
from bot.kinds.base import (
    DECISION_BLOCK,
    VALUE_ACTION,
    Click,
    Facet,
    InvalidAnswer,
    KindConfig,
    ReviewView,
    SimulatedReview,
    TaskKind,
    show_value,
)
from bot.slack import ids
from bot.slack.messages import actions, answer_value, assignment_value, button, context, control
from bot.slack.payloads import label_from_token, label_token
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say, say_plain

MAX_LABEL_BUTTONS = 5  # more than this read badly as a row of buttons on a phone
MAX_LABEL_BUTTON_CHARS = 30
MAX_CHECKBOXES = 10  # Slack's limit for a checkbox group
MAX_OPTION_TEXT = 75
MAX_LABELS = 100  # Slack's limit for a select's options


class Prediction(Record):
    label: str | list[str]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    model: str | None = None


class LabelRecord(ConversationRecord):
    prediction: Prediction | None = None


def _predicted_record(content: MediaContent) -> tuple[MediaContent, type[ItemRecord]]:
    """The content type with its record plus the model's `prediction`."""
    record = create_model(
        f"Label{content.record.__name__}",
        __base__=content.record,
        prediction=(Prediction | None, None),
    )
    return content, cast(type[ItemRecord], record)


def option_text(text: str) -> str:
    return text if len(text) <= MAX_OPTION_TEXT else text[: MAX_OPTION_TEXT - 1] + "…"


def _option(label: str) -> Option:
    return Option(value=label_token(label), text=PlainTextObject(text=option_text(label)))


def _suffix(change: bool) -> tuple[str, ...]:
    return ("c",) if change else ()


def labels_for_tokens(config: KindConfig, tokens: list[Any]) -> list[str]:
    """Labels for option values (long labels travel as hashed tokens); unknown ones are
    kept as given so validation names them."""
    return [label_from_token(str(t), config.labels) or str(t) for t in tokens]


def uses_buttons(config: KindConfig) -> bool:
    return len(config.labels) <= MAX_LABEL_BUTTONS and all(
        len(label) <= MAX_LABEL_BUTTON_CHARS for label in config.labels
    )


def _code(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True) if isinstance(value, list) else str(value)


def _predicted(content: dict) -> Any:
    return (content.get("prediction") or {}).get("label")


class Label(TaskKind):
    name = "label"
    content = CONVERSATION
    record = LabelRecord
    other_contents = tuple(_predicted_record(content) for content in MEDIA_SAMPLES)
    shows_suggestion = True

    def config_problem(self, config: KindConfig) -> str | None:
        if len(config.labels) < 2:
            return "a label project needs `labels` with at least two labels"
        if len(set(config.labels)) != len(config.labels):
            return "`labels` must not repeat a label"
        if len(config.labels) > MAX_LABELS:
            return f"`labels` holds at most {MAX_LABELS} labels (Slack's select limit)"
        return None

    def record_problems(self, record: Any, config: KindConfig) -> list[str]:
        problems: list[str] = []
        allowed = ", ".join(config.labels)
        predicted = record.prediction.label if record.prediction else None
        for label in [predicted] if isinstance(predicted, str) else predicted or []:
            if label not in config.labels:
                problems.append(
                    f"field `prediction.label`: {label!r} is not a label of {config.name} ({allowed})"
                )
        gold = record.gold
        for label in [gold] if isinstance(gold, str) else gold or []:
            if label not in config.labels:
                problems.append(
                    f"field `gold`: {label!r} is not a label of {config.name} ({allowed})"
                )
        if isinstance(predicted, list) and not config.multi_label:
            problems.append(
                "field `prediction.label`: a list needs `multi_label: true` in the project"
            )
        return problems

    # --- answering ----------------------------------------------------------------------
    def decode(self, config: KindConfig, content: dict, presentation: dict | None, raw: Any) -> Any:
        if isinstance(raw, list):
            chosen = set(labels_for_tokens(config, raw))
            return [label for label in config.labels if label in chosen] or raw
        if isinstance(raw, str):
            return label_from_token(raw, config.labels) or raw
        return raw

    def validate(self, config: KindConfig, value: Any) -> str | None:
        values = value if isinstance(value, list) else [value]
        if not values or any(v not in config.labels for v in values):
            return f"{value!r} is not a label of this project"
        if isinstance(value, list) and not config.multi_label:
            return "this project takes a single label"
        return None

    def draft_for_change(self, value: Any) -> dict:
        return {"labels": list(value)} if isinstance(value, list) else {}

    # --- comparing ----------------------------------------------------------------------
    def canonical(
        self, value: Any, content: dict | None = None, presentation: dict | None = None
    ) -> Any:
        if isinstance(value, dict):
            value = value.get("labels", value.get("label", value))
        if isinstance(value, list | tuple):
            return sorted(str(v) for v in value)
        return value

    def value_columns(self, value: Any) -> dict[str, Any]:
        value = self.canonical(value)
        if isinstance(value, list):
            return {"labels": [str(v) for v in value]}
        return {"label": str(value)} if value is not None else {}

    def facets(self, config: KindConfig) -> list[Facet]:
        classes = None if config.multi_label else tuple(config.labels)
        return [Facet("label", classes, _code)]

    # --- reading ------------------------------------------------------------------------
    def describe(
        self, config: KindConfig, canonical_value: Any, content: dict | None = None
    ) -> str:
        if canonical_value is None:
            return "no answer"
        if isinstance(canonical_value, list):
            return ", ".join(canonical_value) if canonical_value else "no label"
        return str(canonical_value)

    def describe_answer(self, config: KindConfig, value: Any, presentation: dict | None) -> str:
        if isinstance(value, list):
            return ", ".join(escape_mrkdwn(str(v)) for v in value)
        return escape_mrkdwn(str(value))

    # --- Slack --------------------------------------------------------------------------
    def context_blocks(self, config: KindConfig, content: dict) -> list[Block]:
        prediction = content.get("prediction") or {}
        if prediction.get("label") is None:
            return []
        label = prediction["label"]
        shown = ", ".join(label) if isinstance(label, list) else label
        return [
            context(
                say(
                    "prediction",
                    label=escape_mrkdwn(str(shown)),
                    confidence=prediction.get("confidence"),
                    model=escape_mrkdwn(str(prediction.get("model") or "")) or None,
                )
            )
        ]

    def channel_context(self, content: dict) -> list[str]:
        prediction = content.get("prediction") or {}
        if prediction.get("label") is None:
            return []
        label = prediction["label"]
        shown = ", ".join(label) if isinstance(label, list) else str(label)
        extra = []
        if prediction.get("confidence") is not None:
            extra.append(f"confidence {float(prediction['confidence']):.2f}")
        if prediction.get("model"):
            extra.append(str(prediction["model"]))
        more = f" ({escape_mrkdwn(', '.join(extra))})" if extra else ""
        return [f"Model prediction: *{escape_mrkdwn(shown)}*{more}"]

    def controls(self, config: KindConfig, view: ReviewView) -> list[Block]:
        predicted = _predicted(view.content)
        assignment_id, change = view.assignment_id, view.change
        if config.multi_label:
            ticked = view.draft.get("labels")
            if ticked is None and isinstance(view.changing, list):
                ticked = view.changing
            return self._multi_controls(config, assignment_id, predicted, ticked or [], change)
        block_id = ids.block("answer", assignment_id, *_suffix(change))
        if uses_buttons(config):
            buttons = [
                button(
                    say_plain("confirm_button", label=label) if label == predicted else label,
                    ids.indexed(ids.ANSWER, index),
                    answer_value(assignment_id, label_token(label), change=change),
                    style="primary" if label == predicted else None,
                )
                for index, label in enumerate(config.labels)
            ]
            return [actions(buttons, block_id=block_id)]
        elements: list[Any] = []
        if isinstance(predicted, str) and predicted in config.labels:
            elements.append(
                button(
                    say_plain("confirm_button", label=predicted),
                    ids.indexed(ids.ANSWER, 0),
                    answer_value(assignment_id, label_token(predicted), change=change),
                    style="primary",
                )
            )
        elements.append(
            StaticSelectElement(
                action_id=ids.PICK_LABEL,
                placeholder=control("choose_label"),
                options=[_option(label) for label in config.labels],
            )
        )
        return [actions(elements, block_id=block_id)]

    def _multi_controls(
        self,
        config: KindConfig,
        assignment_id: int,
        predicted: Any,
        ticked: list[str],
        change: bool,
    ) -> list[Block]:
        options = [_option(label) for label in config.labels]
        initial = [o for o, label in zip(options, config.labels, strict=True) if label in ticked]
        picker: Any
        if len(config.labels) <= MAX_CHECKBOXES:
            picker = CheckboxesElement(
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
                    say_plain("confirm_button", label=", ".join(predicted)),
                    ids.indexed(ids.ANSWER, 0),
                    answer_value(assignment_id, [label_token(p) for p in predicted], change=change),
                )
            )
        return [
            actions([picker], block_id=ids.block("labels", assignment_id, *_suffix(change))),
            actions(submit, block_id=ids.block("submit", assignment_id, *_suffix(change))),
        ]

    def decision_inputs(self, config: KindConfig, content: dict, consensus: Any) -> list[Block]:
        options = [_option(label) for label in config.labels]  # values: tokens (≤ 150 chars)
        by_value = {label: option for label, option in zip(config.labels, options, strict=True)}
        element: Any
        if config.multi_label:
            initial = [by_value[v] for v in consensus or [] if v in by_value] or None
            element = StaticMultiSelectElement(
                action_id=VALUE_ACTION, options=options, initial_options=initial
            )
        else:
            element = StaticSelectElement(
                action_id=VALUE_ACTION, options=options, initial_option=by_value.get(consensus)
            )
        return [InputBlock(block_id=DECISION_BLOCK, label="Final label", element=element)]

    def decision_value(self, config: KindConfig, content: dict, raw: Any) -> Any:
        if isinstance(raw, list):
            return self.canonical(labels_for_tokens(config, raw), content)
        return self.canonical(labels_for_tokens(config, [raw])[0], content)

    def decision_problem(self, config: KindConfig, content: dict, value: Any) -> str | None:
        values = value if isinstance(value, list) else [value]
        if not values or any(v not in config.labels for v in values):
            return "Choose labels of this project."
        if isinstance(value, list) and not config.multi_label:
            return "This project takes a single label."
        return None

    # --- LLM assist ---------------------------------------------------------------------
    def prompt_variables(self, config: KindConfig, content: dict) -> dict[str, Any]:
        prediction = content.get("prediction")
        return {"prediction": prediction if isinstance(prediction, dict) else None}

    def llm_value_schema(self, config: KindConfig) -> dict:
        one = {"type": "string", "enum": list(config.labels)}
        if config.multi_label:
            return {"type": "array", "items": one, "minItems": 1}
        return one

    def llm_value(self, config: KindConfig, content: dict, value: object) -> object:
        if config.multi_label:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidAnswer("value is not a list of labels")
            if not value:
                raise InvalidAnswer("no label chosen")
            unknown = [v for v in value if v not in config.labels]
            if unknown:
                raise InvalidAnswer(f"label {show_value(unknown[0])} not in the label set")
            return list(dict.fromkeys(value))
        if not isinstance(value, str):
            raise InvalidAnswer("value is not a label")
        if value not in config.labels:
            raise InvalidAnswer(f"label {show_value(value)} not in the label set")
        return value

    # --- simulated reviewers ------------------------------------------------------------
    def demo_truth(self, config: KindConfig, external_id: str, content: dict) -> Any:
        return _predicted(content)

    def simulate(self, config: KindConfig, review: SimulatedReview) -> tuple[Any, list[Click]]:
        content, truth, right, rng = review.content, review.truth, review.right, review.rng
        if config.multi_label:
            wanted = list(truth) if isinstance(truth, list) else [rng.choice(config.labels)]
            if not right:
                wanted = rng.sample(config.labels, k=rng.randint(1, min(2, len(config.labels))))
            block = block_with_prefix(review.message, "labels:")
            picker = block["elements"][0]
            values = {block["block_id"]: {picker["action_id"]: [label_token(w) for w in wanted]}}
            return wanted, [Click(text=control("submit_labels"), values=values)]
        label = truth if isinstance(truth, str) else rng.choice(config.labels)
        if not right:
            label = rng.choice([other for other in config.labels if other != label] or [label])
        predicted = _predicted(content)
        if uses_buttons(config) or label == predicted:
            text = say_plain("confirm_button", label=label) if label == predicted else label
            return label, [Click(text=text)]
        return label, [Click(action_id=ids.PICK_LABEL, selected=label_token(label))]


def block_with_prefix(message: dict, prefix: str) -> dict:
    """The first block of a message whose block id starts with `prefix`."""
    for block in message.get("blocks") or []:
        if (block.get("block_id") or "").startswith(prefix):
            return block
    raise LookupError(f"no block {prefix}… in this message")
