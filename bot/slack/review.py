"""Review requests by task kind: what a reviewer sees before answering, while changing an
answer, after answering, and when the item left them; and how an answer reads back.

AI suggestions ("AI suggests: billing (0.62)") are shown for label and correction items
unless the project sets `llm.show_suggestion: false`. They are never shown on rating and
preference items: those ask for the reviewer's own judgement of quality, where a shown
score or pick anchors people measurably, and the LLM's pick is stored for comparison
with the humans anyway.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock

from bot.config.project import ProjectConfig
from bot.kinds.base import ReviewView
from bot.kinds.registry import kind_of
from bot.slack import controls, ids
from bot.slack.conversation import Part, cut, preview_blocks
from bot.slack.messages import (
    MAX_MESSAGE_BLOCKS,
    SlackMessage,
    actions,
    context,
    control,
    intro,
    serialise,
    slack_time,
)
from bot.slack.text import Mrkdwn, escape_mrkdwn
from bot.slack.wording import say

CLOSED_WORDS = {
    "signed_off": "signed off",
    "auto_accepted": "signed off",
    "escalated": "with the leads for a decision",
}


@dataclass(frozen=True)
class ReviewState:
    """What the reviewer has done so far on an open request."""

    draft: dict | None = None  # partial answer: {"scores": {...}} or {"labels": [...]}
    rationale: str | None = None
    flags: tuple[str, ...] = ()  # flag reasons, e.g. ("unsafe",)
    changing: Any = None  # the recorded value, when "Change my answer" re-opened the choices
    notice: str | None = None


def presentation_for(config: ProjectConfig, content: dict, rng: random.Random) -> dict | None:
    """Per-reviewer presentation choices recorded with the assignment (e.g. A/B order)."""
    return kind_of(config).presentation(content, rng)


def content_parts(config: ProjectConfig, content: dict, presentation: dict | None) -> list[Part]:
    """The sample as titled parts: a conversation, or a prompt and its responses."""
    kind = kind_of(config)
    content_type = kind.content_for(content)
    return content_type.parts(content, presentation, focus_reviewed=kind.judges_reviewed_turn)


def describe_answer(config: ProjectConfig, value: Any, presentation: dict | None = None) -> Mrkdwn:
    """An answer as mrkdwn a reviewer recognises: the button they pressed, in words
    (a kind escapes what it takes from data; tests/slack/test_hostile_text.py checks)."""
    return Mrkdwn(kind_of(config).describe_answer(config, value, presentation))


def _field(suggestion: Any, name: str) -> Any:
    if isinstance(suggestion, dict):
        return suggestion.get(name)
    return getattr(suggestion, name, None)


def suggestion_block(config: ProjectConfig, suggestion: Any) -> Block | None:
    kind = kind_of(config)
    if suggestion is None or not config.llm.show_suggestion or not kind.shows_suggestion:
        return None
    if _field(suggestion, "value") is None:
        return None
    return context(
        say(
            "suggestion",
            value=Mrkdwn(kind.suggestion_text(config, _field(suggestion, "value"))),
            confidence=_field(suggestion, "confidence"),
            model=escape_mrkdwn(str(_field(suggestion, "model") or "")) or None,
        )
    )


# --- the request --------------------------------------------------------------------------


def _view(
    assignment_id: int, content: dict, presentation: dict | None, state: ReviewState
) -> ReviewView:
    return ReviewView(
        assignment_id=assignment_id,
        content=content,
        presentation=presentation,
        draft=dict(state.draft or {}),
        changing=state.changing,
    )


def _notes(config: ProjectConfig, state: ReviewState, view: ReviewView) -> list[Block]:
    notes: list[Block] = [context(line) for line in kind_of(config).progress_notes(config, view)]
    if state.rationale:
        notes.append(context(say("rationale_note", text=_short(state.rationale))))
    if state.flags:
        notes.append(context(say("flagged_note", reasons=[_flag_word(f) for f in state.flags])))
    if state.notice:
        notes.append(context(state.notice))
    return notes


def _short(text: str, limit: int = 600) -> str:
    return cut(escape_mrkdwn(text), limit)[0]


def _flag_word(reason: str) -> str:
    try:
        return control(f"flag_{reason}")
    except Exception:  # a reason from a newer version: show it as stored
        return escape_mrkdwn(reason)


def build_request_for(
    config: ProjectConfig,
    *,
    assignment_id: int,
    content: dict,
    presentation: dict | None = None,
    suggestion: Any = None,
    state: ReviewState | None = None,
) -> SlackMessage:
    state = state or ReviewState()
    changing = state.changing is not None
    kind = kind_of(config)
    view = _view(assignment_id, content, presentation, state)
    head: list[Block] = [intro(config), DividerBlock()]
    middle: list[Block] = kind.context_blocks(config, content)
    suggestion_shown = suggestion_block(config, suggestion)
    if suggestion_shown:
        middle.append(suggestion_shown)
    if changing:
        answer = describe_answer(config, state.changing, presentation)
        middle.append(context(say("change_mode", answer=answer)))
    answer_blocks = kind.controls(config, view)
    tail = _notes(config, state, view) + controls.tools_row(
        assignment_id,
        mode="changing" if changing else "pending",
        has_rationale=bool(state.rationale),
    )
    fixed = len(head) + len(middle) + len(answer_blocks) + len(tail) + 1  # + full-view button
    preview = preview_blocks(
        content_parts(config, content, presentation), max_blocks=MAX_MESSAGE_BLOCKS - fixed
    )
    full = _full_button(assignment_id, pages=bool(preview.prefetch)) if preview.truncated else []
    blocks = head + preview.blocks + full + middle + answer_blocks + tail
    text = say("notification", project_name=config.name)
    return SlackMessage(text=text, blocks=serialise(blocks), prefetch=preview.prefetch)


def _full_button(assignment_id: int, *, pages: bool = False) -> list[Block]:
    return [
        actions(
            [controls.full_conversation_button(assignment_id=assignment_id, pages=pages)],
            block_id=ids.block("full", assignment_id),
        )
    ]


def build_review_request(
    config: ProjectConfig,
    assignment: Any,
    content: dict,
    *,
    suggestion: Any = None,
    state: ReviewState | None = None,
) -> SlackMessage:
    """The DM asking a reviewer for their answer (`suggestion`: value, confidence, model)."""
    return build_request_for(
        config,
        assignment_id=assignment.id,
        content=content,
        presentation=assignment.presentation,
        suggestion=suggestion,
        state=state,
    )


# --- after the answer ---------------------------------------------------------------------


def build_answered(
    config: ProjectConfig,
    assignment: Any,
    content: dict,
    value: Any,
    at: datetime,
    *,
    rationale: str | None = None,
    flags: tuple[str, ...] | list[str] = (),
    revision: int = 1,
    item_status: str | None = None,
    notice: str | None = None,
) -> SlackMessage:
    """The request after an answer: the sample, what was recorded and when, and a way to
    change it while the item is still open."""
    closed = item_status in CLOSED_WORDS
    answer = describe_answer(config, value, assignment.presentation)
    tail: list[Block] = kind_of(config).answered_blocks(config, value)
    tail.append(context(say("answer_recorded", answer=answer, at=slack_time(at))))
    if revision > 1:
        tail.append(context(say("answer_revision", changes=revision - 1)))
    if rationale:
        tail.append(context(say("rationale_note", text=_short(rationale))))
    if flags:
        tail.append(context(say("flagged_note", reasons=[_flag_word(f) for f in flags])))
    if closed:
        assert item_status is not None  # closed means it is one of CLOSED_WORDS' keys
        tail.append(context(say("answer_closed", state=CLOSED_WORDS[item_status])))
    if notice:
        tail.append(context(notice))
    tail += controls.tools_row(
        assignment.id, mode="closed" if closed else "answered", has_rationale=bool(rationale)
    )
    head: list[Block] = [intro(config), DividerBlock()]
    fixed = len(head) + len(tail) + 1
    preview = preview_blocks(
        content_parts(config, content, assignment.presentation),
        max_blocks=MAX_MESSAGE_BLOCKS - fixed,
    )
    full = _full_button(assignment.id, pages=bool(preview.prefetch)) if preview.truncated else []
    blocks = head + preview.blocks + full + tail
    return SlackMessage(text=f"Recorded: {answer}", blocks=serialise(blocks))


def build_closed(
    config: ProjectConfig,
    assignment: Any,
    *,
    status: str,
    at: datetime | None = None,
    reason: str | None = None,
) -> SlackMessage:
    """The request once it left the reviewer: skipped, moved on, or expired. The sample
    is no longer shown: it is someone else's to review now."""
    note = say(
        "assignment_closed",
        status=status,
        at=slack_time(at) if at else None,
        reason=reason,
    )
    blocks: list[Block] = [intro(config), context(note)]
    return SlackMessage(text=note, blocks=serialise(blocks))
