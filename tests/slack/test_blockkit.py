"""Block Kit limits the emulator enforces, so oversize messages fail in tests, not in Slack."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.models.views import View

from bot.slack.blockkit import validate_message_blocks, validate_view


def section(text: str = "hello", kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}}


def button(text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, **extra}


def modal(**extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Review"},
        "blocks": [section()],
        **extra,
    }


def test_valid_message_built_with_slack_sdk_models() -> None:
    blocks = [
        SectionBlock(text="*Which team?*").to_dict(),
        ActionsBlock(
            block_id="answer",
            elements=[
                ButtonElement(text="Confirm: billing", action_id="confirm", value="billing"),
                ButtonElement(text="Skip", action_id="skip", value="skip", style="danger"),
            ],
        ).to_dict(),
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "item t-1"}]},
        {"type": "header", "text": {"type": "plain_text", "text": "Title", "emoji": True}},
    ]
    assert validate_message_blocks(blocks) == []


def test_fifty_blocks_is_the_message_limit() -> None:
    assert validate_message_blocks([section()] * 50) == []
    assert validate_message_blocks([section()] * 51) == [
        "blocks: must have at most 50 items (got 51)"
    ]


def test_button_text_of_76_characters_names_its_path() -> None:
    blocks = [section(), section(), section(), {"type": "actions", "elements": [button("x" * 76)]}]
    assert validate_message_blocks(blocks) == [
        "blocks[3].elements[0].text: must be at most 75 characters (got 76)"
    ]
    blocks[3]["elements"][0]["text"]["text"] = "x" * 75
    assert validate_message_blocks(blocks) == []


def test_plain_text_required_where_slack_requires_it() -> None:
    mrkdwn_button = {"type": "button", "text": {"type": "mrkdwn", "text": "*Go*"}}
    errors = validate_message_blocks(
        [
            {"type": "actions", "elements": [mrkdwn_button]},
            {"type": "header", "text": {"type": "mrkdwn", "text": "Head"}},
        ]
    )
    assert errors == [
        "blocks[0].elements[0].text: must be plain_text (got 'mrkdwn')",
        "blocks[1].text: must be plain_text (got 'mrkdwn')",
    ]


def test_lengths_and_ids() -> None:
    errors = validate_message_blocks(
        [
            section("y" * 3001),
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
            {
                "type": "actions",
                "block_id": "b" * 256,
                "elements": [button(value="v" * 2001, action_id="a"), button(action_id="a")],
            },
            {"type": "section", "block_id": "dup", "text": {"type": "mrkdwn", "text": "a"}},
            {"type": "section", "block_id": "dup", "text": {"type": "mrkdwn", "text": "b"}},
            section(""),
        ]
    )
    assert errors == [
        "blocks[0].text: must be at most 3000 characters (got 3001)",
        "blocks[1].text: must be at most 150 characters (got 151)",
        "blocks[2].block_id: must be at most 255 characters (got 256)",
        "blocks[2].elements[0].value: must be at most 2000 characters (got 2001)",
        "blocks[2].elements[1].action_id: duplicate action_id 'a' in block",
        "blocks[4].block_id: duplicate block_id 'dup'",
        "blocks[5].text: must not be empty",
    ]


def test_element_counts_and_options() -> None:
    options = [
        {"text": {"type": "plain_text", "text": f"o{i}"}, "value": str(i)} for i in range(101)
    ]
    long_option = {"text": {"type": "plain_text", "text": "t" * 76}, "value": "v" * 151}
    errors = validate_message_blocks(
        [
            {"type": "actions", "elements": [button(action_id=str(i)) for i in range(26)]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11},
            {
                "type": "actions",
                "elements": [
                    {"type": "static_select", "action_id": "s", "options": options},
                    {"type": "checkboxes", "action_id": "c", "options": options[:11]},
                    {"type": "static_select", "action_id": "l", "options": [long_option]},
                ],
            },
        ]
    )
    assert errors == [
        "blocks[0].elements: must have at most 25 items (got 26)",
        "blocks[1].elements: must have at most 10 items (got 11)",
        "blocks[2].elements[0].options: must have at most 100 items (got 101)",
        "blocks[2].elements[1].options: must have at most 10 items (got 11)",
        "blocks[2].elements[2].options[0].text: must be at most 75 characters (got 76)",
        "blocks[2].elements[2].options[0].value: must be at most 150 characters (got 151)",
    ]


def test_unknown_types_and_fields_are_rejected() -> None:
    errors = validate_message_blocks(
        [
            {"type": "table"},
            {"type": "section", "text": {"type": "mrkdwn", "text": "a"}, "colour": "red"},
            {"type": "actions", "elements": [{"type": "plain_text_input", "action_id": "x"}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": "a", "emoji": True}},
        ]
    )
    assert errors == [
        "blocks[0].type: unsupported block type 'table'",
        "blocks[1]: unknown field 'colour'",
        "blocks[2].elements[0].type: element type 'plain_text_input' is not allowed in actions",
        "blocks[3].text: unknown field 'emoji'",
    ]


def test_initial_option_must_be_one_of_the_options() -> None:
    select = {
        "type": "static_select",
        "action_id": "s",
        "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}],
        "initial_option": {"text": {"type": "plain_text", "text": "B"}, "value": "b"},
    }
    errors = validate_message_blocks([{"type": "actions", "elements": [select]}])
    assert errors == ["blocks[0].elements[0].initial_option: must be one of the element's options"]


def test_valid_modal_built_with_slack_sdk_models() -> None:
    view = View(
        type="modal",
        callback_id="correct",
        title="Edit response",
        submit="Save",
        close="Cancel",
        private_metadata="item=1",
        blocks=[
            {
                "type": "input",
                "block_id": "text",
                "label": {"type": "plain_text", "text": "Response"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "initial_value": "draft",
                    "max_length": 3000,
                },
            }
        ],
    ).to_dict()
    assert validate_view(view) == []


def test_modal_limits() -> None:
    view = modal(
        title={"type": "plain_text", "text": "t" * 25},
        submit={"type": "mrkdwn", "text": "Save"},
        private_metadata="m" * 3001,
        callback_id="c" * 256,
        blocks=[section()] * 101,
    )
    assert validate_view(view) == [
        "title: must be at most 24 characters (got 25)",
        "submit: must be plain_text (got 'mrkdwn')",
        "private_metadata: must be at most 3000 characters (got 3001)",
        "callback_id: must be at most 255 characters (got 256)",
        "blocks: must have at most 100 items (got 101)",
    ]


def test_modal_inputs() -> None:
    text_input = {
        "type": "plain_text_input",
        "action_id": "v",
        "initial_value": "x" * 3001,
        "max_length": 3001,
    }
    view = modal(
        blocks=[
            {"type": "input", "label": {"type": "mrkdwn", "text": "L"}, "element": text_input},
            {"type": "input", "label": {"type": "plain_text", "text": "L"}},
        ]
    )
    assert validate_view(view) == [
        "blocks[0].label: must be plain_text (got 'mrkdwn')",
        "blocks[0].element.initial_value: must be at most 3000 characters (got 3001)",
        "blocks[0].element.max_length: must be between 1 and 3000",
        "blocks[1].element: is required",
        "submit: is required when the view has input blocks",
    ]


def test_home_view() -> None:
    assert validate_view({"type": "home", "blocks": [section()] * 100}) == []
    assert validate_view(
        {"type": "home", "blocks": [], "title": {"type": "plain_text", "text": "x"}}
    ) == ["view: unknown field 'title'"]
    assert validate_view({"type": "sheet", "blocks": []}) == ["type: must be one of modal, home"]
