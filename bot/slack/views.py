"""Modals: edit a response (correction), add a rationale, flag an item, and read the
full conversation, paged when it does not fit in one modal.

Each modal carries what it is about in private_metadata (the assignment, whether it
changes a recorded answer, how a long text was split), so a submission needs no
server-side session state.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
)
from slack_sdk.models.views import View

from bot.config.project import ProjectConfig
from bot.slack import conversation, ids
from bot.slack.conversation import Part
from bot.slack.messages import actions, button, context, control, section
from bot.slack.payloads import encode
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say, say_plain
from storage.models import FLAG_REASONS

MAX_INPUT = 3000
PART_CHARS = 2400  # room to add text in each box before Slack's 3000 limit
MAX_VIEW_BLOCKS = 100


def _modal(
    *,
    callback_id: str,
    title: str,
    blocks: list[Block],
    metadata: dict[str, Any],
    submit: str | None = None,
    close: str | None = None,
) -> dict:
    if len(blocks) > MAX_VIEW_BLOCKS:
        raise ValueError(f"a modal holds at most {MAX_VIEW_BLOCKS} blocks, not {len(blocks)}")
    return View(
        type="modal",
        callback_id=callback_id,
        title=title,
        submit=submit,
        close=close or control("modal_close"),
        blocks=blocks,
        private_metadata=encode(metadata),
    ).to_dict()


# --- correction ---------------------------------------------------------------------------


def split_for_inputs(text: str, limit: int = PART_CHARS) -> tuple[list[str], list[str]]:
    """A long text as (parts, joiners) for several input boxes: parts break at line ends
    (else anywhere), and joiners[i] is what goes back between part i and i + 1, so
    joining an unedited text gives back exactly the original."""
    parts: list[str] = []
    joiners: list[str] = []
    rest = text
    while len(rest) > limit:
        cut_at = rest.rfind("\n", 0, limit)
        if cut_at > limit // 2:
            parts.append(rest[:cut_at])
            joiners.append("\n")
            rest = rest[cut_at + 1 :]
        else:
            parts.append(rest[:limit])
            joiners.append("")
            rest = rest[limit:]
    parts.append(rest)
    return parts, joiners


def join_inputs(parts: list[str], joiners: list[str]) -> str:
    text = parts[0] if parts else ""
    for joiner, part in zip(joiners, parts[1:], strict=False):
        text += joiner + part
    return text


def correction_modal(
    config: ProjectConfig,
    *,
    assignment_id: int,
    content: dict,
    current_text: str,
    change: bool,
) -> dict:
    """The response prefilled in a multiline input (several when longer than one box)."""
    parts, joiners = split_for_inputs(current_text)
    asked = next(
        (t for t in reversed(content.get("conversation", [])) if t.get("role") == "user"), None
    )
    blocks: list[Block] = [section(say("correction_intro", parts=len(parts)))]
    if asked is not None:
        shown, _ = conversation.cut(escape_mrkdwn(str(asked.get("content", ""))), 1200)
        blocks.append(context(f"*{escape_mrkdwn(control('prompt'))}:* {shown}"))
    for index, part in enumerate(parts):
        blocks.append(
            InputBlock(
                block_id=ids.correction_block(index),
                label=say_plain("correction_part_label", part=index + 1, parts=len(parts)),
                element=PlainTextInputElement(
                    action_id=ids.TEXT_INPUT,
                    multiline=True,
                    initial_value=part or None,
                    max_length=MAX_INPUT,
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=ids.RATIONALE_BLOCK,
            label=control("rationale_label"),
            hint=control("rationale_hint"),
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.TEXT_INPUT, multiline=True, max_length=MAX_INPUT
            ),
        )
    )
    return _modal(
        callback_id=ids.CORRECTION_VIEW,
        title=control("modal_correction"),
        blocks=blocks,
        metadata={"a": assignment_id, "c": int(change), "n": len(parts), "j": joiners},
        submit=control("modal_submit"),
        close=control("modal_cancel"),
    )


# --- rationale ----------------------------------------------------------------------------


def rationale_modal(
    config: ProjectConfig,
    *,
    assignment_id: int,
    external_id: str,
    current: str | None,
    answer: str | None,
) -> dict:
    blocks: list[Block] = [
        context(
            say(
                "rationale_intro",
                project_name=escape_mrkdwn(config.name),
                external_id=escape_mrkdwn(external_id),
                answered=answer is not None,
                answer=answer,
            )
        ),
        InputBlock(
            block_id=ids.RATIONALE_BLOCK,
            label=control("rationale_label"),
            hint=control("rationale_hint"),
            element=PlainTextInputElement(
                action_id=ids.TEXT_INPUT,
                multiline=True,
                initial_value=(current or None) and current[:MAX_INPUT],
                max_length=MAX_INPUT,
            ),
        ),
    ]
    return _modal(
        callback_id=ids.RATIONALE_VIEW,
        title=control("modal_rationale"),
        blocks=blocks,
        metadata={"a": assignment_id},
        submit=control("modal_save"),
        close=control("modal_cancel"),
    )


# --- flag ---------------------------------------------------------------------------------


def flag_modal(config: ProjectConfig, *, assignment_id: int, external_id: str) -> dict:
    options = [
        Option(value=reason, text=PlainTextObject(text=control(f"flag_{reason}")))
        for reason in FLAG_REASONS
    ]
    blocks: list[Block] = [
        section(
            say(
                "flag_intro",
                project_name=escape_mrkdwn(config.name),
                external_id=escape_mrkdwn(external_id),
            )
        ),
        InputBlock(
            block_id=ids.FLAG_REASON_BLOCK,
            label=control("flag_reason_label"),
            element=RadioButtonsElement(action_id=ids.CHOICE_INPUT, options=options),
        ),
        InputBlock(
            block_id=ids.FLAG_NOTE_BLOCK,
            label=control("flag_note_label"),
            optional=True,
            element=PlainTextInputElement(
                action_id=ids.TEXT_INPUT, multiline=True, max_length=MAX_INPUT
            ),
        ),
    ]
    return _modal(
        callback_id=ids.FLAG_VIEW,
        title=control("modal_flag"),
        blocks=blocks,
        metadata={"a": assignment_id},
        submit=control("flag"),
        close=control("modal_cancel"),
    )


# --- the full conversation ----------------------------------------------------------------


def conversation_modal(parts: list[Part], *, ref: dict[str, Any], page: int = 0) -> dict:
    """One page of the whole sample; Next / Previous replace the view in place."""
    all_pages = conversation.pages(parts)
    page = max(0, min(page, len(all_pages) - 1))
    blocks = list(all_pages[page])
    if len(all_pages) > 1:
        nav = []
        if page > 0:
            nav.append(button(control("previous_page"), ids.PAGE_PREVIOUS, str(page - 1)))
        if page < len(all_pages) - 1:
            nav.append(button(control("next_page"), ids.PAGE_NEXT, str(page + 1), style="primary"))
        blocks.append(context(say("page_status", page=page + 1, pages=len(all_pages))))
        blocks.append(actions(nav, block_id="pages"))
    return _modal(
        callback_id=ids.CONVERSATION_VIEW,
        title=control("modal_conversation"),
        blocks=blocks,
        metadata={**ref, "p": page},
    )
