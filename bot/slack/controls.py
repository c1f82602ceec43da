"""The row of tools every review request shares (rationale, skip, flag, change my
answer) and the "Show full conversation" button. The answer controls themselves differ
per task kind and live in bot/kinds/.

In "change" mode a kind's controls carry a change flag, and their block ids end in ":c"
so Slack does not carry over a half-made selection.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ConfirmObject,
)

from bot.slack import ids
from bot.slack.messages import (
    actions,
    assignment_value,
    button,
    control,
)
from bot.slack.payloads import encode


def is_change_block(block_id: str | None) -> bool:
    """Controls shown while changing an answer carry ":c" at the end of their block id."""
    return (block_id or "").endswith(":c")


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


def full_conversation_button(
    *, assignment_id: int | None = None, item_id: int | None = None, pages: bool = False
):
    """The "Show full conversation" button ("Show all pages" for a document's later
    pages); leads' messages pass the item instead."""
    value = encode({"a": assignment_id} if assignment_id is not None else {"i": item_id})
    label = control("all_pages" if pages else "full_conversation")
    return button(label, ids.FULL_CONVERSATION, value)
