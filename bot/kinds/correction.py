"""`correction`: check the last assistant turn of a conversation and edit it where it is
wrong ("Edit response" opens a modal prefilled with it; "Looks right" keeps it).

Stored value: ``{"text": final text, "changed": bool, "diff": unified diff or ""}``.
Canonical value: ``{"text", "changed"}``; "Looks right" is ``changed: false`` with the
model's own text. Two edits agree only when their texts are equal after collapsing
whitespace, so edited texts rarely match: an item signs off only when every reviewer gave
the same answer (all "Looks right", or identical edits); any other goes to a lead.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, cast

import pyarrow as pa
from pydantic import Field, create_model
from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement

from bot.content.base import ItemRecord
from bot.content.conversation import CONVERSATION, ReviewedConversationRecord, original_response
from bot.content.media import MAX_TEXT_CHARS, MediaContent, medium_messages
from bot.content.parts import export_turns
from bot.content.samples import MEDIA_SAMPLES
from bot.kinds.base import (
    DECISION_BLOCK,
    NO_ANSWERS,
    TEXT_INPUT_LIMIT,
    VALUE_ACTION,
    Click,
    InvalidAnswer,
    ItemAgreement,
    KindConfig,
    ReviewView,
    SimulatedReview,
    TaskKind,
    majority,
    short,
    squash,
)
from bot.kinds.exporting import MESSAGES, ExportFormat, Form, Labelled, Row
from bot.slack import ids
from bot.slack.conversation import cut
from bot.slack.messages import actions, answer_value, assignment_value, button, control, section
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say

_UNCHANGED_WORDS = {"unchanged", "looks_right", "looks right"}
_TEXT_KEYS = ("text", "corrected", "edited", "correction", "response", "content")


def normalise_text(text: str) -> str:
    """Text as compared for "unchanged": line endings and trailing spaces don't count."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def text_diff(original: str, corrected: str) -> str:
    """A unified diff of the correction, line by line, as reviewers and exports read it."""
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            corrected.splitlines(keepends=True),
            fromfile="original",
            tofile="corrected",
        )
    )


def stored_value(original: str, corrected: str | None) -> dict[str, Any]:
    """The stored value of a correction; None means "Looks right"."""
    if corrected is None or normalise_text(corrected) == normalise_text(original):
        return {"text": original, "changed": False, "diff": ""}
    return {"text": corrected, "changed": True, "diff": text_diff(original, corrected)}


def diff_size(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) in a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


# An edit may add this many characters to the response: each input box is capped by
# Slack, but a forged submission could claim any number of boxes.
EDIT_ROOM = 3000


def edit_problem(content: dict, text: str, recorded: Any) -> str | None:
    """Why an edit from the modal is not recorded (a wording template name), or None:
    empty, far longer than the response, the model's text unchanged, or the reviewer's
    own recorded text again."""
    if not text.strip():
        return "correction_empty"
    if len(text) > len(original_response(content)) + EDIT_ROOM:
        return "correction_too_long"
    if normalise_text(text) == normalise_text(original_response(content)):
        return "correction_unchanged"
    if isinstance(recorded, dict) and normalise_text(
        str(recorded.get("text", ""))
    ) == normalise_text(text):
        return "correction_same"
    return None


def corrected_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "corrected", "content"):
            if isinstance(value.get(key), str):
                return value[key]
    return None


def _with_text(content: MediaContent) -> tuple[MediaContent, type[ItemRecord]]:
    """The content type with its record, its `text` required: the text to correct."""
    record = create_model(
        f"Correction{content.record.__name__}",
        __base__=content.record,
        text=(str, Field(min_length=1, max_length=MAX_TEXT_CHARS)),
    )
    return content, cast(type[ItemRecord], record)


class Correction(TaskKind):
    name = "correction"
    content = CONVERSATION
    record = ReviewedConversationRecord
    # A transcript of a recording, a caption of an image, … is corrected beside its medium.
    other_contents = tuple(_with_text(content) for content in MEDIA_SAMPLES)
    judges_reviewed_turn = True
    shows_suggestion = True
    compares_with_content = True

    # --- answering ----------------------------------------------------------------------
    def decode(self, config: KindConfig, content: dict, presentation: dict | None, raw: Any) -> Any:
        original = original_response(content)
        if isinstance(raw, dict) and raw.get("looks_right"):
            return stored_value(original, None)
        if isinstance(raw, dict) and isinstance(raw.get("text"), str):
            return stored_value(original, raw["text"])
        raise InvalidAnswer("not a correction")

    def validate(self, config: KindConfig, value: Any) -> str | None:
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            return "a correction holds the final text"
        if not value["text"].strip():
            return "a correction cannot be empty"
        if not isinstance(value.get("changed"), bool):
            return "a correction says whether the text changed"
        return None

    # --- comparing ----------------------------------------------------------------------
    def canonical(
        self, value: Any, content: dict | None = None, presentation: dict | None = None
    ) -> Any:
        original = original_response(content)
        text: str | None
        if isinstance(value, str):
            text = value
        elif isinstance(value, dict):
            if value.get("changed") is False or value.get("unchanged") is True:
                return {"text": original, "changed": False}
            text = next((value[k] for k in _TEXT_KEYS if isinstance(value.get(k), str)), None)
            if text is None:
                return value
        else:
            return value
        if not text.strip() or text.strip().lower() in _UNCHANGED_WORDS:
            return {"text": original, "changed": False}
        if content is not None and squash(text) == squash(original):
            return {"text": original, "changed": False}
        return {"text": text, "changed": True}

    def value_columns(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            return {}
        changed = value.get("changed")
        return {"text": value["text"], "changed": changed if isinstance(changed, bool) else None}

    def answer_key(self, canonical_value: Any) -> str:
        if isinstance(canonical_value, dict) and "text" in canonical_value:
            if canonical_value.get("changed") is False:
                return "unchanged"
            return "edit:" + squash(str(canonical_value["text"]))
        return super().answer_key(canonical_value)

    def is_unchanged(self, canonical_value: Any) -> bool:
        return isinstance(canonical_value, dict) and canonical_value.get("changed") is False

    def agreement(self, config: KindConfig, values: list[Any]) -> ItemAgreement:
        if not values:
            return NO_ANSWERS
        value, top, tied = majority(values, self.answer_key)
        n = len(values)
        needs_lead = None
        if top != n:
            needs_lead = "reviewers edited the response differently"
            if not any(self.is_unchanged(v) for v in values):
                needs_lead = "every reviewer edited the response, in different words"
        return ItemAgreement(value, top / n, tied, n, top, top == n, needs_lead)

    def metric_codes(
        self, config: KindConfig, value: Any, content: dict | None
    ) -> dict[str, str | None]:
        return {"changed": "unchanged" if self.is_unchanged(value) else "edited"}

    # --- reading ------------------------------------------------------------------------
    def describe(
        self, config: KindConfig, canonical_value: Any, content: dict | None = None
    ) -> str:
        if self.is_unchanged(canonical_value):
            return "Looks right"
        if isinstance(canonical_value, dict) and "text" in canonical_value:
            return f"Edited: {short(str(canonical_value['text']), 48)}"
        return super().describe(config, canonical_value, content)

    def describe_answer(self, config: KindConfig, value: Any, presentation: dict | None) -> str:
        if not isinstance(value, dict):
            return super().describe_answer(config, value, presentation)
        added, removed = diff_size(value.get("diff") or "")
        return say(
            "correction_answer", changed=bool(value.get("changed")), added=added, removed=removed
        )

    def edited_text(self, canonical_value: Any) -> str | None:
        if isinstance(canonical_value, dict) and canonical_value.get("changed"):
            return str(canonical_value.get("text", ""))
        return None

    def suggestion_text(self, config: KindConfig, value: Any) -> str:
        text = value.get("text") if isinstance(value, dict) else value
        return cut(escape_mrkdwn(str(text)), 200)[0]

    # --- Slack --------------------------------------------------------------------------
    def controls(self, config: KindConfig, view: ReviewView) -> list[Block]:
        change = view.change
        elements = [
            button(
                control("edit_response"),
                ids.EDIT_RESPONSE,
                assignment_value(view.assignment_id, **({"c": 1} if change else {})),
                style="primary",
            ),
            button(
                control("looks_right"),
                ids.indexed(ids.ANSWER, 1),
                answer_value(view.assignment_id, {"looks_right": True}, change=change),
            ),
        ]
        suffix = ("c",) if change else ()
        return [actions(elements, block_id=ids.block("answer", view.assignment_id, *suffix))]

    def answered_blocks(self, config: KindConfig, value: Any) -> list[Block]:
        if not (isinstance(value, dict) and value.get("changed")):
            return []
        text = cut(escape_mrkdwn(str(value["text"])), 2400)[0]
        return [section(f"*{control('your_version')}:*\n{text}")]

    def decision_inputs(self, config: KindConfig, content: dict, consensus: Any) -> list[Block]:
        text = original_response(content)
        if isinstance(consensus, dict) and isinstance(consensus.get("text"), str):
            text = consensus["text"]
        element = PlainTextInputElement(
            action_id=VALUE_ACTION,
            multiline=True,
            initial_value=text[:TEXT_INPUT_LIMIT] or None,
            max_length=TEXT_INPUT_LIMIT,
        )
        return [
            InputBlock(
                block_id=DECISION_BLOCK,
                label="Final response (leave as it is to keep the model's answer)",
                element=element,
            )
        ]

    def decision_value(self, config: KindConfig, content: dict, raw: Any) -> Any:
        return self.canonical({"text": raw} if isinstance(raw, str) else raw, content)

    def decision_problem(self, config: KindConfig, content: dict, value: Any) -> str | None:
        if isinstance(value, dict) and str(value.get("text", "")).strip():
            return None
        return "Give the final response."

    # --- LLM assist ---------------------------------------------------------------------
    def prompt_variables(self, config: KindConfig, content: dict) -> dict[str, Any]:
        if "conversation" not in content:  # a medium's text: the medium is its context
            return {"context": [], "target": original_response(content)}
        context, target = CONVERSATION.reviewed(content, kind=self.name, verb="correct")
        return {"context": context, "target": target}

    def llm_value_schema(self, config: KindConfig) -> dict:
        return {"type": "string", "description": "the full corrected response"}

    def llm_value(self, config: KindConfig, content: dict, value: object) -> object:
        if not isinstance(value, str):
            raise InvalidAnswer("corrected response is not text")
        if not value.strip():
            raise InvalidAnswer("corrected response is empty")
        return value

    # --- exports ------------------------------------------------------------------------
    @property
    def export_formats(self) -> tuple[ExportFormat, ...]:
        return (SFT,)

    # --- simulated reviewers ------------------------------------------------------------
    def simulate(self, config: KindConfig, review: SimulatedReview) -> tuple[Any, list[Click]]:
        content, truth, right = review.content, review.truth, review.right
        corrected = truth
        if not right:
            original = original_response(content)
            corrected = (
                None
                if truth is not None
                else original.rstrip() + "\n\n(Please check with counsel.)"
            )
        if corrected is None:
            return None, [Click(text=control("looks_right"))]
        return corrected, [Click(text=control("edit_response"), modal_text=corrected)]


def sft_rows(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
    """The conversation up to the reviewed assistant turn, that turn as signed off; for
    an item showing a medium, the medium (TRL's vision format for an image) and its text
    as signed off."""
    content = label.content or {}
    if "conversation" not in content:
        final, changed = _signed_off_text(label, original_response(content))
        yield "row", {"id": label.id, **medium_messages(content, final), "changed": changed}
        return
    conversation = export_turns(content.get("conversation"))
    last = max((i for i, t in enumerate(conversation) if t["role"] == "assistant"), default=None)
    if last is None:
        return
    final, changed = _signed_off_text(label, conversation[last]["content"])
    messages = conversation[:last] + [{"role": "assistant", "content": final}]
    yield "row", {"id": label.id, "messages": messages, "changed": changed}


def _signed_off_text(label: Labelled, original: Any) -> tuple[Any, bool]:
    """(the text as signed off, whether it differs from the model's)."""
    text = corrected_text(label.value)
    final = text if text is not None else original
    changed = label.value.get("changed") if isinstance(label.value, dict) else None
    return final, bool(changed) if changed is not None else final != original


def prompt_completion(row: Row) -> Row:
    """TRL's conversational prompt/completion form: the completion is the signed-off
    turn alone, so a trainer's completion-only loss never learns from earlier assistant
    turns that nobody reviewed."""
    messages = row["messages"]
    shaped = {k: v for k, v in row.items() if k != "messages"}
    return {**shaped, "prompt": messages[:-1], "completion": messages[-1:]}


SFT = ExportFormat(
    name="sft",
    needs_content=True,
    build=sft_rows,
    schema=pa.schema([("id", pa.string()), ("messages", MESSAGES), ("changed", pa.bool_())]),
    forms=(
        Form(
            "prompt-completion",
            prompt_completion,
            pa.schema(
                [
                    ("id", pa.string()),
                    ("changed", pa.bool_()),
                    ("prompt", MESSAGES),
                    ("completion", MESSAGES),
                ]
            ),
        ),
    ),
    form="messages",
)
