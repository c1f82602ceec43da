"""Block Kit validation with Slack's limits: `project apply` refuses a project whose messages
Slack would reject (bot/workflow/intake/preflight.py), and the emulator rejects what Slack
would reject.

slack_sdk.models checks lengths only when its classes are used, and never the per-surface
block counts; raw dicts are not checked at all. The emulator runs every message and view
through these checks and answers ``invalid_blocks`` / ``invalid_arguments`` as Slack does.

Each error names the path of the offending value, for example
``blocks[3].elements[0].text: must be at most 75 characters``.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ID = 255
MAX_SELECT_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_CHOICE_OPTIONS = 10
MAX_OVERFLOW_OPTIONS = 5
MAX_PLACEHOLDER = 150
MAX_LABEL = 2000
MAX_INPUT_TEXT = 3000
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000

BLOCK_FIELDS: dict[str, set[str]] = {
    "section": {"type", "block_id", "text", "fields", "accessory", "expand"},
    "actions": {"type", "block_id", "elements"},
    "context": {"type", "block_id", "elements"},
    "divider": {"type", "block_id"},
    "header": {"type", "block_id", "text"},
    "input": {"type", "block_id", "label", "element", "dispatch_action", "hint", "optional"},
    "image": {"type", "block_id", "image_url", "slack_file", "alt_text", "title"},
    "rich_text": {"type", "block_id", "elements"},
}

_SELECT_COMMON = {"type", "action_id", "confirm", "focus_on_load", "placeholder"}
ELEMENT_FIELDS: dict[str, set[str]] = {
    "button": {
        "type",
        "text",
        "action_id",
        "url",
        "value",
        "style",
        "confirm",
        "accessibility_label",
    },
    "static_select": _SELECT_COMMON | {"options", "option_groups", "initial_option"},
    "multi_static_select": _SELECT_COMMON
    | {"options", "option_groups", "initial_options", "max_selected_items"},
    "checkboxes": {"type", "action_id", "options", "initial_options", "confirm", "focus_on_load"},
    "radio_buttons": {"type", "action_id", "options", "initial_option", "confirm", "focus_on_load"},
    "overflow": {"type", "action_id", "options", "confirm"},
    "plain_text_input": {
        "type",
        "action_id",
        "initial_value",
        "multiline",
        "min_length",
        "max_length",
        "dispatch_action_config",
        "focus_on_load",
        "placeholder",
    },
    "image": {"type", "image_url", "slack_file", "alt_text"},
}
# Element types Slack knows that are accepted here with only their common checks.
OTHER_INTERACTIVE = {
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "workflow_button",
}
OTHER_INPUTS = {
    "email_text_input",
    "number_input",
    "url_text_input",
    "rich_text_input",
    "file_input",
}

_CHOICES = {"static_select", "multi_static_select", "checkboxes", "radio_buttons", "overflow"}
ALLOWED_ELEMENTS: dict[str, set[str]] = {
    "actions": {"button", "checkboxes", "radio_buttons", "overflow"}
    | {"static_select", "multi_static_select"}
    | OTHER_INTERACTIVE,
    "accessory": {"button", "checkboxes", "radio_buttons", "overflow", "image"}
    | {"static_select", "multi_static_select"}
    | (OTHER_INTERACTIVE - {"datetimepicker"}),
    "input": {"plain_text_input", "checkboxes", "radio_buttons"}
    | {"static_select", "multi_static_select"}
    | (OTHER_INTERACTIVE - {"workflow_button"})
    | OTHER_INPUTS,
}

VIEW_FIELDS: dict[str, set[str]] = {
    "modal": {
        "type",
        "title",
        "blocks",
        "close",
        "submit",
        "private_metadata",
        "callback_id",
        "clear_on_close",
        "notify_on_close",
        "external_id",
        "submit_disabled",
    },
    "home": {"type", "blocks", "private_metadata", "callback_id", "external_id"},
}


def validate_message_blocks(blocks: Any) -> list[str]:
    """Check the ``blocks`` of chat.postMessage / chat.update / chat.postEphemeral."""
    checker = _Checker()
    checker.blocks("blocks", blocks, max_blocks=MAX_MESSAGE_BLOCKS)
    return checker.errors


def validate_view(view: Any) -> list[str]:
    """Check a view for views.open / push / update / publish (paths are relative to it)."""
    checker = _Checker()
    checker.view(view)
    return checker.errors


class _Checker:
    """Walks a Block Kit structure and collects one message per problem."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._block_ids: set[str] = set()

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    # ---- surfaces -------------------------------------------------------------------------

    def view(self, view: Any) -> None:
        if not isinstance(view, dict):
            self.err("view", "must be an object")
            return
        type_name = view.get("type")
        if type_name not in VIEW_FIELDS:
            self.err("type", "must be one of modal, home")
            return
        self.unknown_fields("view", view, VIEW_FIELDS[type_name])
        if type_name == "modal":
            self.text("title", view.get("title"), plain=True, max_len=MAX_VIEW_TITLE)
            for key in ("submit", "close"):
                if key in view:
                    self.text(key, view[key], plain=True, max_len=MAX_VIEW_TITLE)
            for key in ("clear_on_close", "notify_on_close", "submit_disabled"):
                if key in view and not isinstance(view[key], bool):
                    self.err(key, "must be a boolean")
        self.string("private_metadata", view, MAX_PRIVATE_METADATA)
        self.string("callback_id", view, MAX_ID)
        self.string("external_id", view, MAX_ID)
        blocks = view.get("blocks")
        self.blocks("blocks", blocks, max_blocks=MAX_VIEW_BLOCKS)
        has_inputs = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if type_name == "modal" and has_inputs and "submit" not in view:
            self.err("submit", "is required when the view has input blocks")

    def blocks(self, path: str, blocks: Any, *, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.err(path, "must be a list of blocks")
            return
        if len(blocks) > max_blocks:
            self.err(path, f"must have at most {max_blocks} items (got {len(blocks)})")
        for i, block in enumerate(blocks):
            self.block(f"{path}[{i}]", block)

    # ---- blocks ---------------------------------------------------------------------------

    def block(self, path: str, block: Any) -> None:
        if not isinstance(block, dict):
            self.err(path, "must be an object")
            return
        type_name = block.get("type")
        if type_name not in BLOCK_FIELDS:
            self.err(f"{path}.type", f"unsupported block type {type_name!r}")
            return
        self.unknown_fields(path, block, BLOCK_FIELDS[type_name])
        if "block_id" in block:
            block_id = block["block_id"]
            if self.identifier(f"{path}.block_id", block_id):
                if block_id in self._block_ids:
                    self.err(f"{path}.block_id", f"duplicate block_id {block_id!r}")
                self._block_ids.add(block_id)
        getattr(self, f"block_{type_name}")(path, block)

    def block_section(self, path: str, block: dict[str, Any]) -> None:
        if "text" not in block and "fields" not in block:
            self.err(path, "must have text or fields")
        if "text" in block:
            self.text(f"{path}.text", block["text"], max_len=MAX_SECTION_TEXT)
        if "fields" in block:
            fields = block["fields"]
            if self.items(f"{path}.fields", fields, 1, MAX_SECTION_FIELDS):
                for i, field in enumerate(fields):
                    self.text(f"{path}.fields[{i}]", field, max_len=MAX_FIELD_TEXT)
        if "accessory" in block:
            self.element(f"{path}.accessory", block["accessory"], "accessory", set())

    def block_actions(self, path: str, block: dict[str, Any]) -> None:
        elements: Any = block.get("elements")  # any JSON: self.items checks it is a list
        if self.items(f"{path}.elements", elements, 1, MAX_ACTIONS_ELEMENTS):
            seen: set[str] = set()
            for i, element in enumerate(elements):
                self.element(f"{path}.elements[{i}]", element, "actions", seen)

    def block_context(self, path: str, block: dict[str, Any]) -> None:
        elements: Any = block.get("elements")  # any JSON: self.items checks it is a list
        if not self.items(f"{path}.elements", elements, 1, MAX_CONTEXT_ELEMENTS):
            return
        for i, element in enumerate(elements):
            item = f"{path}.elements[{i}]"
            if isinstance(element, dict) and element.get("type") == "image":
                self.image_element(item, element)
            else:
                self.text(item, element, max_len=MAX_SECTION_TEXT)

    def block_divider(self, path: str, block: dict[str, Any]) -> None:
        """A divider has nothing to check beyond its fields."""

    def block_header(self, path: str, block: dict[str, Any]) -> None:
        self.text(f"{path}.text", block.get("text"), plain=True, max_len=MAX_HEADER_TEXT)

    def block_input(self, path: str, block: dict[str, Any]) -> None:
        self.text(f"{path}.label", block.get("label"), plain=True, max_len=MAX_LABEL)
        if "hint" in block:
            self.text(f"{path}.hint", block["hint"], plain=True, max_len=MAX_LABEL)
        for key in ("optional", "dispatch_action"):
            if key in block and not isinstance(block[key], bool):
                self.err(f"{path}.{key}", "must be a boolean")
        if "element" not in block:
            self.err(f"{path}.element", "is required")
        else:
            self.element(f"{path}.element", block["element"], "input", set())

    def block_image(self, path: str, block: dict[str, Any]) -> None:
        self.image_element(path, block)
        if "title" in block:
            self.text(f"{path}.title", block["title"], plain=True, max_len=MAX_LABEL)

    def block_rich_text(self, path: str, block: dict[str, Any]) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list):
            self.err(f"{path}.elements", "must be a list")
            return
        kinds = {"rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote"}
        for i, element in enumerate(elements):
            if not isinstance(element, dict) or element.get("type") not in kinds:
                self.err(f"{path}.elements[{i}]", "must be a rich_text section/list/quote/pre")

    # ---- elements -------------------------------------------------------------------------

    def element(self, path: str, element: Any, where: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict):
            self.err(path, "must be an object")
            return
        type_name = element.get("type")
        if type_name not in ALLOWED_ELEMENTS[where]:
            self.err(f"{path}.type", f"element type {type_name!r} is not allowed in {where}")
            return
        if type_name in ELEMENT_FIELDS:
            self.unknown_fields(path, element, ELEMENT_FIELDS[type_name])
        if type_name == "image":
            self.image_element(path, element)
            return
        if "action_id" in element:
            action_id = element["action_id"]
            if self.identifier(f"{path}.action_id", action_id):
                if action_id in action_ids:
                    self.err(f"{path}.action_id", f"duplicate action_id {action_id!r} in block")
                action_ids.add(action_id)
        if "placeholder" in element:
            self.text(
                f"{path}.placeholder", element["placeholder"], plain=True, max_len=MAX_PLACEHOLDER
            )
        if "confirm" in element:
            self.confirm(f"{path}.confirm", element["confirm"])
        if type_name == "button":
            self.button(path, element)
        elif type_name == "plain_text_input":
            self.text_input(path, element)
        elif type_name in _CHOICES:
            self.choices(path, element, type_name)

    def button(self, path: str, element: dict[str, Any]) -> None:
        self.text(f"{path}.text", element.get("text"), plain=True, max_len=MAX_BUTTON_TEXT)
        self.string("value", element, MAX_BUTTON_VALUE, path)
        self.string("url", element, MAX_URL, path)
        self.string("accessibility_label", element, MAX_BUTTON_TEXT, path)
        if "style" in element and element["style"] not in ("primary", "danger"):
            self.err(f"{path}.style", "must be primary or danger")

    def text_input(self, path: str, element: dict[str, Any]) -> None:
        self.string("initial_value", element, MAX_INPUT_TEXT, path, allow_empty=True)
        bounds: dict[str, int] = {}
        for key, low in (("min_length", 0), ("max_length", 1)):
            if key not in element:
                continue
            value = element[key]
            if isinstance(value, bool) or not isinstance(value, int):
                self.err(f"{path}.{key}", "must be an integer")
            elif not low <= value <= MAX_INPUT_TEXT:
                self.err(f"{path}.{key}", f"must be between {low} and {MAX_INPUT_TEXT}")
            else:
                bounds[key] = value
        if bounds.get("min_length", 0) > bounds.get("max_length", MAX_INPUT_TEXT):
            self.err(f"{path}.min_length", "must not exceed max_length")

    def choices(self, path: str, element: dict[str, Any], type_name: str) -> None:
        is_select = type_name in ("static_select", "multi_static_select")
        limit = {
            "static_select": MAX_SELECT_OPTIONS,
            "multi_static_select": MAX_SELECT_OPTIONS,
            "overflow": MAX_OVERFLOW_OPTIONS,
        }.get(type_name, MAX_CHOICE_OPTIONS)
        values: list[Any] = []
        if is_select and "option_groups" in element:
            if "options" in element:
                self.err(path, "must have options or option_groups, not both")
            groups = element["option_groups"]
            if self.items(f"{path}.option_groups", groups, 1, MAX_SELECT_OPTIONS):
                for g, group in enumerate(groups):
                    gpath = f"{path}.option_groups[{g}]"
                    if not isinstance(group, dict):
                        self.err(gpath, "must be an object")
                        continue
                    self.text(f"{gpath}.label", group.get("label"), plain=True, max_len=75)
                    values += self.options(f"{gpath}.options", group.get("options"), limit, True)
        else:
            # Option text in checkboxes and radio buttons may be mrkdwn; in menus it may not.
            plain = type_name not in ("checkboxes", "radio_buttons")
            values = self.options(f"{path}.options", element.get("options"), limit, plain)
        if "initial_option" in element:
            self.initial(f"{path}.initial_option", element["initial_option"], values)
        if "initial_options" in element:
            initial = element["initial_options"]
            if not isinstance(initial, list):
                self.err(f"{path}.initial_options", "must be a list")
            else:
                for i, option in enumerate(initial):
                    self.initial(f"{path}.initial_options[{i}]", option, values)

    def options(self, path: str, options: Any, limit: int, plain: bool) -> list[Any]:
        if not self.items(path, options, 1, limit):
            return []
        values = []
        for i, option in enumerate(options):
            opath = f"{path}[{i}]"
            if not isinstance(option, dict):
                self.err(opath, "must be an object")
                continue
            self.unknown_fields(opath, option, {"text", "value", "description", "url"})
            self.text(f"{opath}.text", option.get("text"), plain=plain, max_len=MAX_OPTION_TEXT)
            if "description" in option:
                self.text(f"{opath}.description", option["description"], plain=plain, max_len=75)
            if "value" not in option:
                self.err(f"{opath}.value", "is required")
            else:
                self.string("value", option, MAX_OPTION_VALUE, opath)
            values.append(option.get("value"))
        return values

    def initial(self, path: str, option: Any, values: list[Any]) -> None:
        if not isinstance(option, dict) or option.get("value") not in values:
            self.err(path, "must be one of the element's options")

    def confirm(self, path: str, confirm: Any) -> None:
        if not isinstance(confirm, dict):
            self.err(path, "must be an object")
            return
        self.text(f"{path}.title", confirm.get("title"), plain=True, max_len=100)
        self.text(f"{path}.text", confirm.get("text"), max_len=300)
        self.text(f"{path}.confirm", confirm.get("confirm"), plain=True, max_len=30)
        self.text(f"{path}.deny", confirm.get("deny"), plain=True, max_len=30)

    def image_element(self, path: str, element: dict[str, Any]) -> None:
        """An image block or element: exactly one of image_url or slack_file, and alt_text."""
        has_url, has_file = "image_url" in element, "slack_file" in element
        if not has_url and not has_file:
            self.err(path, "must have image_url or slack_file")
        elif has_url and has_file:
            self.err(path, "must have image_url or slack_file, not both")
        self.string("image_url", element, MAX_URL, path, allow_empty=False)
        if has_file:
            self.slack_file(f"{path}.slack_file", element["slack_file"])
        if "alt_text" not in element:
            self.err(f"{path}.alt_text", "is required")
        self.string("alt_text", element, MAX_LABEL, path)

    def slack_file(self, path: str, obj: Any) -> None:
        """A Slack file object: its ``id`` or its ``url`` (url_private or permalink), not both.
        Whether the file exists and is a processed image only Slack knows (the emulator
        checks it when a message is posted)."""
        if not isinstance(obj, dict):
            self.err(path, "must be an object")
            return
        self.unknown_fields(path, obj, {"id", "url"})
        keys = [key for key in ("id", "url") if key in obj]
        if len(keys) != 1:
            self.err(path, "must have exactly one of id or url")
        for key in keys:
            self.string(key, obj, MAX_URL, path, allow_empty=False)

    # ---- primitives -----------------------------------------------------------------------

    def text(self, path: str, obj: Any, *, plain: bool = False, max_len: int) -> None:
        """A text object: plain_text where ``plain``, else plain_text or mrkdwn."""
        if obj is None:
            self.err(path, "is required")
            return
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        type_name = obj.get("type")
        if plain and type_name != "plain_text":
            self.err(path, f"must be plain_text (got {type_name!r})")
        elif type_name not in ("plain_text", "mrkdwn"):
            self.err(path, f"must be plain_text or mrkdwn (got {type_name!r})")
        extra = {"emoji"} if type_name == "plain_text" else {"verbatim"}
        self.unknown_fields(path, obj, {"type", "text"} | extra)
        text = obj.get("text")
        if not isinstance(text, str):
            self.err(path, "text must be a string")
        elif not text:
            self.err(path, "must not be empty")
        elif len(text) > max_len:
            self.err(path, f"must be at most {max_len} characters (got {len(text)})")

    def string(
        self,
        key: str,
        obj: dict[str, Any],
        max_len: int,
        parent: str = "",
        *,
        allow_empty: bool = True,
    ) -> None:
        """An optional plain string field of ``obj``."""
        if key not in obj:
            return
        path = f"{parent}.{key}" if parent else key
        value = obj[key]
        if not isinstance(value, str):
            self.err(path, "must be a string")
        elif not value and not allow_empty:
            self.err(path, "must not be empty")
        elif len(value) > max_len:
            self.err(path, f"must be at most {max_len} characters (got {len(value)})")

    def identifier(self, path: str, value: Any) -> bool:
        if not isinstance(value, str) or not value:
            self.err(path, "must be a non-empty string")
            return False
        if len(value) > MAX_ID:
            self.err(path, f"must be at most {MAX_ID} characters (got {len(value)})")
            return False
        return True

    def items(self, path: str, value: Any, low: int, high: int) -> bool:
        if not isinstance(value, list):
            self.err(path, "must be a list")
            return False
        if len(value) < low:
            self.err(path, f"must have at least {low} item{'s' if low > 1 else ''}")
        if len(value) > high:
            self.err(path, f"must have at most {high} items (got {len(value)})")
        return True

    def unknown_fields(self, path: str, obj: dict[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(obj) - allowed):
            self.err(path, f"unknown field {key!r}")
