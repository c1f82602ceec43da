"""The one parsing layer for everything Slack or a person sends us: typed, bounded models.

Two levels, both strict (a number where Slack sends a string is refused, never coerced):

- **The envelope** (`read_request`): the raw body of a request to /slack/events, parsed
  exactly as Bolt will parse it, checked for the shape Bolt and our listeners read (ids
  are short Slack ids, `actions` is a non-empty list of actions, a view has a type and a
  callback id, an event has a type and a bounded `event_id`, ...). The HTTP server refuses
  anything else with 400 before Bolt sees it, and names the request's *kind* (its type and
  the action, view or command it names) for the per-kind thread quotas.
- **What a listener reads**: button and option values, modal `private_metadata`, modal
  state, slash-command text and event fields, each as a small model with bounds
  (`button`, `metadata`, the `*_submission` readers, `command_text`, `app_home_opened`).
  A value that does not fit is None: the listener refuses the request (an ack and a log
  line), so no crafted value reaches the workflow, and no crafted number drives a loop
  (a correction modal is at most `MAX_CORRECTION_PARTS` inputs).

Free text is capped at Slack's own UI limits (`MAX_TEXT`, a plain_text_input's
max_length, which every modal sets): `too_long` names the inputs over it so the modal
shows an inline error, since a forged request is not held to the limits of Slack's UI.
Nothing here logs or returns what a person typed: refusals name a field and a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from slack_bolt.request.internals import parse_body

from bot.slack import escalation, ids
from bot.slack.views import join_inputs

# Slack's caps (Block Kit reference): a plain_text_input holds at most 3000 characters, a
# button value 2000, an option value 150, private_metadata 3000, an action/block/callback
# id 255; a modal holds at most 100 blocks.
MAX_TEXT = 3000
MAX_BUTTON_VALUE = 2000
MAX_OPTION_VALUE = 150
MAX_METADATA = 3000
MAX_NAME = 255
MAX_VIEW_BLOCKS = 100
MAX_ACTIONS = 25
MAX_OPTIONS = 100
# A slash command is typed in the message composer, which holds at most 40,000 characters
# (Slack truncates a message there); /quorum needs one word.
MAX_COMMAND_TEXT = 40_000
MAX_EVENT_ID = 64  # slack_delivery.event_id is VARCHAR(64)
MAX_DB_ID = 2**63 - 1  # a BIGINT primary key
MAX_CORRECTION_PARTS = MAX_VIEW_BLOCKS  # one input per part, in one modal

SlackId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9]{1,32}$")]
Name = Annotated[str, StringConstraints(strict=True, max_length=MAX_NAME)]
Short = Annotated[str, StringConstraints(strict=True, max_length=200)]
Url = Annotated[str, StringConstraints(strict=True, pattern=r"^https?://\S{1,1990}$")]
# Slack's event ids are "Ev" and letters and digits ("Ev0PV52K21").
EventId = Annotated[
    str, StringConstraints(strict=True, pattern=rf"^Ev[A-Za-z0-9]{{1,{MAX_EVENT_ID - 2}}}$")
]
DbId = Annotated[StrictInt, Field(ge=1, le=MAX_DB_ID)]
Flag01 = StrictBool | Annotated[StrictInt, Field(ge=0, le=1)]

M = TypeVar("M", bound=BaseModel)


class Malformed(ValueError):
    """A request that is not one Slack sends; `reason` names where, never the content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- the envelope ---------------------------------------------------------------------------


class _Part(BaseModel):
    """Fields Bolt or a listener reads are typed; the rest pass through untouched."""

    model_config = ConfigDict(extra="allow", strict=True)


class Ref(_Part):
    id: SlackId


class UserRef(Ref):
    team_id: SlackId | None = None


class Option(_Part):
    value: Annotated[str, StringConstraints(strict=True, max_length=MAX_OPTION_VALUE)]


class Action(_Part):
    type: Short
    action_id: Name
    block_id: Name | None = None
    value: Annotated[str, StringConstraints(strict=True, max_length=MAX_BUTTON_VALUE)] | None = None
    selected_option: Option | None = None
    selected_options: Annotated[list[Option], Field(max_length=MAX_OPTIONS)] | None = None
    action_ts: Short | None = None

    @property
    def selected(self) -> str | None:
        return self.selected_option.value if self.selected_option else None

    @property
    def selected_values(self) -> list[str]:
        return [option.value for option in self.selected_options or []]


class StateEntry(_Part):
    type: Short | None = None
    # Text is bounded by the body limit here: a listener says "too long" in the modal.
    value: StrictStr | None = None
    selected_option: Option | None = None
    selected_options: Annotated[list[Option], Field(max_length=MAX_OPTIONS)] | None = None


StateValues = Annotated[
    dict[Name, Annotated[dict[Name, StateEntry], Field(max_length=MAX_ACTIONS)]],
    Field(max_length=MAX_VIEW_BLOCKS),
]


class State(_Part):
    values: StateValues = Field(default_factory=dict)


class View(_Part):
    id: Short | None = None
    type: Short
    callback_id: Name = ""
    private_metadata: Annotated[str, StringConstraints(strict=True, max_length=MAX_METADATA)] = ""
    state: State | None = None
    hash: Short | None = None
    team_id: SlackId | None = None
    app_installed_team_id: SlackId | None = None


class Message(_Part):
    ts: Short | None = None


class Container(_Part):
    channel_id: SlackId | None = None
    message_ts: Short | None = None
    view_id: Short | None = None


class _Interaction(_Part):
    user: UserRef
    team: Ref | None = None
    enterprise: Ref | None = None
    trigger_id: Short | None = None
    is_enterprise_install: StrictBool | None = None


class BlockActions(_Interaction):
    type: Literal["block_actions"]
    actions: Annotated[list[Action], Field(min_length=1, max_length=MAX_ACTIONS)]
    channel: Ref | None = None
    container: Container | None = None
    message: Message | None = None
    view: View | None = None
    state: State | None = None
    response_url: Url | None = None


class ViewSubmission(_Interaction):
    type: Literal["view_submission", "view_closed"]
    view: View


class SlashCommand(_Part):
    command: Annotated[str, StringConstraints(strict=True, pattern=r"^/[a-z0-9_-]{1,31}$")]
    user_id: SlackId
    team_id: SlackId
    enterprise_id: SlackId | None = None
    channel_id: SlackId | None = None
    text: StrictStr = ""  # bounded by the body limit; the listener says "too long"
    trigger_id: Short | None = None
    response_url: Url  # Slack always sends it; the answer goes there


class Authorization(_Part):
    team_id: SlackId | None = None
    enterprise_id: SlackId | None = None
    is_enterprise_install: StrictBool | None = None


class Event(_Part):
    type: Short
    user: SlackId | Ref | None = None
    channel: SlackId | Ref | None = None
    tab: Short | None = None
    view: View | None = None
    item: dict[str, Any] | None = None
    message: dict[str, Any] | None = None
    previous_message: dict[str, Any] | None = None
    thread_ts: Short | None = None


class EventCallback(_Part):
    type: Literal["event_callback"]
    team_id: SlackId
    enterprise_id: SlackId | None = None
    event_id: EventId
    event: Event
    authorizations: Annotated[list[Authorization], Field(max_length=10)] | None = None
    is_ext_shared_channel: StrictBool | None = None


class UrlVerification(_Part):
    type: Literal["url_verification"]
    challenge: Annotated[str, StringConstraints(strict=True, max_length=200)]


_INTERACTIONS: dict[str, type[_Part]] = {
    "block_actions": BlockActions,
    "view_submission": ViewSubmission,
    "view_closed": ViewSubmission,
    "event_callback": EventCallback,
    "url_verification": UrlVerification,
}


@dataclass(frozen=True)
class Inbound:
    """A well-formed request: its kind (for quotas and logs), its parsed envelope, and the
    body as Bolt parses it (handed to Bolt, which would otherwise decode it again)."""

    kind: str
    envelope: _Part | None  # None for Slack's ssl_check
    body: dict[str, Any]


def _problem(error: ValidationError, what: str) -> Malformed:
    first = error.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return Malformed(f"{what}: {where} ({first['type']})")


def _parse(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _problem(exc, what) from None


# What Slack sends as a JSON body: the Events API. Interactions and commands are forms.
_JSON_TYPES = ("event_callback", "url_verification", "app_rate_limited")


def read_request(body: bytes, content_type: str | None) -> Inbound:
    """The request Slack sent, parsed as Bolt parses it; Malformed when it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise Malformed("content type is neither JSON nor a form")
    if media_type != "application/json" and text.lstrip().startswith("{"):
        # Bolt reads a body starting with "{" as JSON whatever its type; Slack never
        # sends a form that way.
        raise Malformed("a form body holding JSON")
    try:
        data = parse_body(text, media_type)  # Bolt's own reading, so both see the same request
    except (ValueError, RecursionError):
        raise Malformed("body is not valid JSON or form data") from None
    if not isinstance(data, dict) or not data:
        raise Malformed("body is not a Slack payload object")
    if media_type == "application/json" and data.get("type") not in _JSON_TYPES:
        raise Malformed("interactions and commands come as forms, not JSON")
    if "command" in data:
        command = _parse(SlashCommand, data, "slash command")
        name = command.command if command.command == ids.COMMAND else "other"
        return Inbound(f"command:{name}", command, data)
    if "ssl_check" in data and "type" not in data:
        return Inbound("ssl_check", None, data)
    kind_name = data.get("type")
    model = _INTERACTIONS.get(kind_name) if isinstance(kind_name, str) else None
    if model is None:
        raise Malformed("unknown request type")
    envelope = _parse(model, data, str(kind_name))
    return Inbound(_kind_of(envelope), envelope, data)


# The names Quorum's listeners answer to. A request's kind (for the per-kind thread
# quota) is built only from these, so a caller cannot make up a fresh kind per request
# to dodge the quota or grow the server's tables of kinds.
KNOWN_NAMES = frozenset(
    value
    for module in (ids, escalation)
    for value in vars(module).values()
    if isinstance(value, str) and value.startswith("quorum_")
) | {ids.APP_HOME_OPENED}


def _known(name: str) -> str:
    return name if name in KNOWN_NAMES else "other"


def _kind_of(envelope: _Part) -> str:
    """type:name, the name cut to its prefix (quorum_answer:3 is quorum_answer), and
    `other` for a name no listener has."""
    if isinstance(envelope, BlockActions):
        return f"block_actions:{_known(envelope.actions[0].action_id.partition(':')[0])}"
    if isinstance(envelope, ViewSubmission):
        return f"{envelope.type}:{_known(envelope.view.callback_id)}"
    if isinstance(envelope, EventCallback):
        return f"event:{_known(envelope.event.type)}"
    return "url_verification"


class _EventIdOnly(BaseModel):
    event_id: EventId


def valid_event_id(value: Any) -> str | None:
    """The event id when it is one Slack would send (bounded, letters and digits)."""
    try:
        return _EventIdOnly.model_validate({"event_id": value}).event_id
    except ValidationError:
        return None


# --- what listeners read --------------------------------------------------------------------


class _Value(BaseModel):
    """A document we wrote into a button value or private_metadata: unknown keys are
    ignored, known ones must have the type and bounds we wrote them with."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class AssignmentValue(_Value):
    """{"a": assignment, "v": raw choice, "c": 1 when changing, "k"/"s": a Likert score}."""

    a: DbId
    v: Any = None
    c: Flag01 = False
    k: Name | None = None
    s: Annotated[StrictInt, Field(ge=-1000, le=1000)] | None = None

    @property
    def change(self) -> bool:
        return bool(self.c)


class EscalationValue(_Value):
    e: DbId
    r: DbId | None = None


class ConversationRef(_Value):
    """Which sample a "Show full conversation" modal shows: an assignment or an item."""

    a: DbId | None = None
    i: DbId | None = None
    p: Annotated[StrictInt, Field(ge=0, le=10_000)] = 0

    @model_validator(mode="after")
    def _one_of(self) -> ConversationRef:
        if (self.a is None) == (self.i is None):
            raise ValueError("names an assignment or an item")
        return self

    @property
    def ref(self) -> dict[str, int]:
        return {"a": self.a} if self.a is not None else {"i": self.i or 0}


class AssignmentMeta(_Value):
    a: DbId


class CorrectionMeta(_Value):
    a: DbId
    c: Flag01 = False
    n: Annotated[StrictInt, Field(ge=1, le=MAX_CORRECTION_PARTS)] = 1
    j: Annotated[list[Literal["", "\n"]], Field(max_length=MAX_CORRECTION_PARTS - 1)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _joiners(self) -> CorrectionMeta:
        if len(self.j) != self.n - 1:
            raise ValueError("one joiner between each two parts")
        return self


class EscalationMeta(_Value):
    e: DbId


def _document(raw: Any, limit: int) -> Any:
    if not isinstance(raw, str) or not raw or len(raw) > limit:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def button(model: type[M], raw: Any) -> M | None:
    """A button value we wrote, as `model`; None when it is not one of ours."""
    try:
        return model.model_validate(_document(raw, MAX_BUTTON_VALUE))
    except ValidationError:
        return None


def metadata(model: type[M], view: Any) -> M | None:
    """A modal's private_metadata, as `model`; None when it is not one of ours."""
    raw = view.get("private_metadata") if isinstance(view, dict) else None
    try:
        return model.model_validate(_document(raw, MAX_METADATA))
    except ValidationError:
        return None


def action(raw: Any) -> Action | None:
    try:
        return Action.model_validate(raw)
    except ValidationError:
        return None


def _values(view: dict[str, Any]) -> dict[str, dict[str, StateEntry]]:
    try:
        return State.model_validate(view.get("state") or {}).values
    except ValidationError:
        return {}


def state_values(raw: Any) -> dict[str, Any]:
    """`state.values` of a view or message, when well formed ({} otherwise), as dicts."""
    if not isinstance(raw, dict):
        return {}
    try:
        values = State.model_validate(raw).values
    except ValidationError:
        return {}
    return {
        block: {name: entry.model_dump(exclude_none=True) for name, entry in entries.items()}
        for block, entries in values.items()
    }


def _text(values: dict[str, dict[str, StateEntry]], block_id: str) -> str | None:
    entry = (values.get(block_id) or {}).get(ids.TEXT_INPUT)
    return entry.value if entry is not None else None


def too_long(view: dict[str, Any], limit: int = MAX_TEXT) -> dict[str, int]:
    """Input blocks whose text is over Slack's cap, with the length each has."""
    return {
        block_id: len(entry.value)
        for block_id, entries in _values(view).items()
        for entry in entries.values()
        if entry.value is not None and len(entry.value) > limit
    }


@dataclass(frozen=True)
class RationaleSubmission:
    assignment_id: int
    text: str


@dataclass(frozen=True)
class FlagSubmission:
    assignment_id: int
    reason: str | None
    note: str | None


@dataclass(frozen=True)
class CorrectionSubmission:
    assignment_id: int
    change: bool
    text: str
    rationale: str | None


def rationale_submission(view: dict[str, Any]) -> RationaleSubmission | None:
    meta = metadata(AssignmentMeta, view)
    if meta is None:
        return None
    return RationaleSubmission(meta.a, _text(_values(view), ids.RATIONALE_BLOCK) or "")


def flag_submission(view: dict[str, Any]) -> FlagSubmission | None:
    meta = metadata(AssignmentMeta, view)
    if meta is None:
        return None
    values = _values(view)
    choice = (values.get(ids.FLAG_REASON_BLOCK) or {}).get(ids.CHOICE_INPUT)
    reason = choice.selected_option.value if choice and choice.selected_option else None
    return FlagSubmission(meta.a, reason, _text(values, ids.FLAG_NOTE_BLOCK))


def correction_submission(view: dict[str, Any]) -> CorrectionSubmission | None:
    """The corrected text, joined from its (at most MAX_CORRECTION_PARTS) inputs."""
    meta = metadata(CorrectionMeta, view)
    if meta is None:
        return None
    values = _values(view)
    parts = [_text(values, ids.correction_block(index)) or "" for index in range(meta.n)]
    return CorrectionSubmission(
        meta.a, bool(meta.c), join_inputs(parts, list(meta.j)), _text(values, ids.RATIONALE_BLOCK)
    )


def command_text(raw: Any) -> str | None:
    """A slash command's text, or None when it is over the composer's cap."""
    text = raw if isinstance(raw, str) else ""
    return text if len(text) <= MAX_COMMAND_TEXT else None


@dataclass(frozen=True)
class HomeOpened:
    user: str
    tab: str | None
    view_hash: str | None


class _HomeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    user: SlackId
    tab: Short | None = None
    view: View | None = None


def app_home_opened(event: Any) -> HomeOpened | None:
    try:
        parsed = _HomeEvent.model_validate(event)
    except ValidationError:
        return None
    return HomeOpened(parsed.user, parsed.tab, parsed.view.hash if parsed.view else None)


SLACK_REPLY_HOST = "hooks.slack.com"


def trusted_reply_hosts(api_url: str | None) -> frozenset[str]:
    """Where a response_url may point: Slack's hooks host, and the host of a configured
    Slack API (the local emulator answers response_urls itself)."""
    hosts = {SLACK_REPLY_HOST}
    if api_url:
        host = urlsplit(api_url).netloc
        if host and host != "slack.com":
            hosts.add(host)
    return frozenset(hosts)


def reply_urls(body: dict[str, Any]) -> list[Any]:
    """Every response_url a request carries (commands and clicks: one; views: a list)."""
    found = [body["response_url"]] if "response_url" in body else []
    for entry in body.get("response_urls") or []:
        if isinstance(entry, dict) and "response_url" in entry:
            found.append(entry["response_url"])
    return found


def reply_url_trusted(url: Any, hosts: frozenset[str]) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.netloc in hosts - {SLACK_REPLY_HOST}
    )
    return secure and parts.netloc in hosts
