"""Nothing that comes from data pings, mentions or links anyone, on any surface.

Every wording template in prompts/slack and every builder of Slack text (review DMs,
receipts, modals, App Home, the leads' escalation card and its notes, the overruled
reviewer's DM, reminders, the digest's parts, a DM passed on) is rendered with hostile
values (`<!here>`, `<!channel>`, `<@U123>`, `<#C123>`, `<https://…|x>`, `&`, very long
strings) in every data field. The whole payload is walked: no `<…>` in mrkdwn or a
notification `text` other than the bot's own mentions of real members, its channel link
and date tokens; nothing escaped twice; plain_text shown as it is; and everything stays
within Slack's limits (the sandbox's Block Kit validator, the one the emulator uses).

Templates and builders are discovered: a new template needs a sample in
test_templates.SAMPLES (its hostile variant is derived from it), and a new public
function in a Slack module needs a hostile fixture here or a line in NOT_TEXT saying why
it builds no Slack text, so nothing new slips past.
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config.project import ProjectConfig
from bot.content.candidates import CANDIDATES
from bot.delivery.reassignment import passed_on_message
from bot.kinds.base import ReviewView
from bot.kinds.registry import KINDS, kind_named, kind_of
from bot.slack import controls, conversation, escalation, home, messages, review, views
from bot.slack.blockkit import validate_message_blocks, validate_view
from bot.slack.conversation import Part
from bot.slack.escalation import Choice, EscalationCard, ShownAnswer
from bot.slack.home import EscalationEntry, FlagEntry, HomeData, QueueEntry, ReviewerStats
from bot.slack.text import channel_link, escape_mrkdwn, mention
from bot.slack.wording import say, say_plain, template_names, template_variables
from bot.workflow.intake.preflight import sample_content
from tests.factories import HOSTILE, kind_settings, unsafe_text
from tests.slack.test_templates import SAMPLES, control_names

H = HOSTILE
LONG = (H + "\n") * 150  # about 12,000 characters, most of them to escape
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
PEOPLE = ("U01ALICE", "U02BOB", "U03CARA", "U09LEAD")
CHANNELS = ("C0ESCALATE",)
NOTIFICATION_LIMIT = 4000  # Slack shortens a message's `text` beyond this

# Response ids and other identifiers an import accepts (ids: at most 64 characters).
ID_A, ID_B, ID_C = "<!here> a", "<@U123> & b", "<https://evil.example|c>"
EXTERNAL_ID = "<!here> item " + "<!channel>" * 24  # an item id of 255 characters
# Labels and criteria short enough to be buttons, and long enough to be a menu.
SHORT_LABELS = ["<!here>", "<@U123>", "a & b", "<#C123>"]
LONG_LABELS = [H, "2 " + H, "<!channel> billing", "x", "y", "z"]


def hostile_config(kind: str, **fields: Any) -> ProjectConfig:
    """A project with hostile text in every free-text setting the schema accepts, and a
    hostile name the schema would refuse (builders must not rely on the schema)."""
    base: dict[str, Any] = {
        "name": "p",
        "kind": kind,
        "question": (H + " ") * 24,
        "description": H,
        "reviewers": list(PEOPLE[:3]),
        "leads": ["U09LEAD"],
        "overlap": 3,
        "escalation_channel": "C0ESCALATE",
        **kind_settings(kind),
    }
    if "labels" in base:
        base["labels"] = LONG_LABELS
    if "criteria" in base:
        base["criteria"] = ["<!here> clarity", "<@U123> & safety"]
        base["scale"] = {"min": 1, "max": 5, "labels": {1: "<!here>", 5: "<https://x|y> &"}}
    base.update(fields)
    config = ProjectConfig.model_validate(base)
    return config.model_copy(update={"name": "<!channel> " + "p" * 50})


def hostile_content(kind: str) -> dict:
    turns = [
        {"role": "user", "content": LONG},
        {"role": "assistant", "content": "```\n" + LONG + "```"},
    ]
    if kind_named(kind).content is CANDIDATES:
        shown = sample_content(hostile_config(kind)) or {}
        ids = [ID_A, ID_B, ID_C][: len(shown["responses"])]  # as many as the kind takes
        return {
            "prompt": turns[:1],
            "responses": [{"id": i, "content": LONG, "model": H} for i in ids],
        }
    return {"conversation": turns, "prediction": {"label": LONG_LABELS[0], "model": H}}


def hostile_value(kind: str, config: ProjectConfig) -> Any:
    return {
        "label": LONG_LABELS[0],
        "rating": {c: config.scale.min for c in config.criteria},
        "preference": {"choice": ID_A, "strength": "much", "shown_first": ID_B},
        "correction": {"text": LONG, "changed": True, "diff": "-a\n+b\n"},
        "ranking": {"order": [ID_C, ID_A, ID_B], "shown": [ID_A, ID_B, ID_C]},
    }[kind]


def presentation(kind: str) -> dict | None:
    order = {"preference": [ID_B, ID_A], "ranking": [ID_A, ID_B, ID_C]}
    return {"order": order[kind]} if kind in order else None


CONFIGS = [
    ("label", {}),
    ("label", {"labels": SHORT_LABELS}),
    ("label", {"labels": SHORT_LABELS, "multi_label": True}),
    ("rating", {}),
    ("preference", {}),
    ("correction", {}),
    ("ranking", {}),
]


# --------------------------------------------------------------------------- payloads

Payload = tuple[str, Any]  # ("message", {"text", "blocks"}) | ("view", view) | ("text", str)


def message(text: str, blocks: list[dict]) -> Payload:
    return "message", {"text": text, "blocks": blocks}


def slack_message(built: Any) -> Payload:
    return message(built.text, built.blocks)


def check(name: str, payload: Payload, *, shows_data: bool = True) -> None:
    surface, body = payload
    wrapped = body if surface != "text" else {"text": body}
    problems = unsafe_text(wrapped, people=PEOPLE, channels=CHANNELS)
    assert problems == [], f"{name}: {problems[:5]}"
    if surface == "message":
        assert body["text"] and len(body["text"]) <= NOTIFICATION_LIMIT, name
        assert validate_message_blocks(body["blocks"]) == [], name
    elif surface == "view":
        assert validate_view(body) == [], name
    else:
        assert body and len(body) <= NOTIFICATION_LIMIT, name
    if shows_data:  # the hostile value reached the reader (escaped), not dropped
        assert "!here" in json.dumps(body) or "!channel" in json.dumps(body), name


# --------------------------------------------------------------------------- builders


def _review_requests() -> list[Payload]:
    out = []
    for kind, fields in CONFIGS:
        config = hostile_config(kind, **fields)
        content = hostile_content(kind)
        value = hostile_value(kind, config)
        assignment = SimpleNamespace(id=12, presentation=presentation(kind))
        suggestion = {"value": value, "confidence": 0.4, "model": H}
        draft = (
            {"scores": {config.criteria[0]: config.scale.min}}
            if config.criteria
            else {"ranks": {"0": ID_A}}
            if isinstance(value, dict) and "order" in value  # answers made of ranks
            else {"labels": [LONG_LABELS[0]]}
        )
        for state in (
            review.ReviewState(),
            review.ReviewState(
                draft=draft, rationale=LONG, flags=("unsafe", H), notice=escape_mrkdwn(H)
            ),
            review.ReviewState(changing=value, rationale=H),
        ):
            out.append(
                slack_message(
                    review.build_review_request(
                        config, assignment, content, suggestion=suggestion, state=state
                    )
                )
            )
    return out


def _answered() -> list[Payload]:
    out = []
    for kind, fields in CONFIGS:
        config = hostile_config(kind, **fields)
        assignment = SimpleNamespace(id=12, presentation=presentation(kind))
        for status in (None, "signed_off", "escalated"):
            built = review.build_answered(
                config,
                assignment,
                hostile_content(kind),
                hostile_value(kind, config),
                AT,
                rationale=LONG,
                flags=("personal_data", H),
                revision=3,
                item_status=status,
                notice=escape_mrkdwn(LONG),
            )
            out.append(slack_message(built))
    return out


def _closed() -> list[Payload]:
    config = hostile_config("label")
    assignment = SimpleNamespace(id=12, presentation=None)
    return [
        slack_message(review.build_closed(config, assignment, status=status, at=AT, reason=H))
        for status in ("skipped", "reassigned", "expired", H)
    ]


def _suggestion() -> list[Payload]:
    out = []
    for kind in ("label", "correction"):
        config = hostile_config(kind)
        value = hostile_value(kind, config)
        block = review.suggestion_block(config, {"value": value, "confidence": 0.5, "model": H})
        assert block is not None
        out.append(message("suggestion", [block.to_dict()]))
    return out


def _describe_answer() -> list[Payload]:
    out = []
    for kind, fields in CONFIGS:
        config = hostile_config(kind, **fields)
        for value in (hostile_value(kind, config), H, [H, ID_A]):
            text = review.describe_answer(config, value, presentation(kind))
            out.append(("text", str(text) or "-"))
    return out


def _modals() -> list[Payload]:
    out: list[Payload] = []
    for kind, fields in CONFIGS:
        config = hostile_config(kind, **fields)
        content = hostile_content(kind)
        out.append(
            (
                "view",
                views.correction_modal(
                    config, assignment_id=1, content=content, current_text=LONG, change=True
                ),
            )
        )
        answer = review.describe_answer(config, hostile_value(kind, config), presentation(kind))
        out.append(
            (
                "view",
                views.rationale_modal(
                    config, assignment_id=1, external_id=EXTERNAL_ID, current=LONG, answer=answer
                ),
            )
        )
        out.append(("view", views.flag_modal(config, assignment_id=1, external_id=EXTERNAL_ID)))
        parts = review.content_parts(config, content, presentation(kind))
        for page in range(3):
            out.append(("view", views.conversation_modal(parts, ref={"a": 1}, page=page)))
    return out


def _home() -> list[Payload]:
    data = HomeData(
        user="U01ALICE",
        stats=ReviewerStats(pending=60, today=3, week=9, total=40, agreement=0.8, compared=20),
        queue=[QueueEntry(n, H, EXTERNAL_ID, AT, n % 2 == 0) for n in range(25)],
        is_lead=True,
        escalations=[EscalationEntry(H, EXTERNAL_ID, LONG, AT, H) for n in range(10)]
        + [EscalationEntry(H, EXTERNAL_ID, H, AT, "C0ESCALATE")],
        escalations_total=40,
        flags=[FlagEntry(H, EXTERNAL_ID, reason, H, AT, LONG) for reason in ("other", H)]
        + [FlagEntry(H, EXTERNAL_ID, "unsafe", "U02BOB", AT, H)],
    )
    paused = HomeData(
        user=H,
        stats=ReviewerStats(pending=1, paused=True),
        queue=[QueueEntry(1, LONG, LONG, AT, True)],
        is_lead=False,
    )
    return [("view", home.build_home(data)), ("view", home.build_home(paused))]


def _card(kind: str, *, resolved: bool, fields: dict | None = None) -> EscalationCard:
    config = hostile_config(kind, **(fields or {}))
    value = hostile_value(kind, config)
    edits = isinstance(value, dict) and "text" in value  # answers that are edited texts
    answers = [
        ShownAnswer(
            reviewer=reviewer,
            text=H,
            seconds=seconds,
            rationale=LONG,
            edited_text=LONG if edits else None,
            flags=[H, "unsafe"],
        )
        for reviewer, seconds in (("U01ALICE", 30.0), (H, 4000.0), ("<@U123>", None))
    ]
    return EscalationCard(
        escalation_id=7,
        config=config,
        external_id=EXTERNAL_ID,
        content=hostile_content(kind),
        reason=LONG,
        answers=answers,
        choices=[Choice(H + str(n), n, 1, n == 0) for n in range(30)],
        share=0.33,
        agreeing=1,
        per_criterion={c: 0.5 for c in config.criteria} or None,
        posterior=0.5,
        sign_off_only=not resolved,
        consensus=hostile_value(kind, config),
        consensus_text=H,
        summary=LONG,
        resolved_by=H if resolved else None,
        resolved_text=LONG if resolved else None,
        resolution_rationale=LONG if resolved else None,
        resolved_at=AT if resolved else None,
    )


def _escalation_message() -> list[Payload]:
    out = []
    for kind, fields in CONFIGS:
        for resolved in (False, True):
            text, blocks = escalation.escalation_blocks(
                _card(kind, resolved=resolved, fields=fields)
            )
            out.append(message(text, blocks))
    resolved_by_member = _card("label", resolved=True)
    text, blocks = escalation.escalation_blocks(
        EscalationCard(**{**resolved_by_member.__dict__, "resolved_by": "U09LEAD"})
    )
    out.append(message(text, blocks))
    return out


def _sample_blocks() -> list[Payload]:
    out = []
    for kind, fields in CONFIGS:
        config = hostile_config(kind, **fields)
        blocks = escalation.sample_blocks(config, hostile_content(kind))
        out.append(message("sample", [b.to_dict() for b in blocks]))
    return out


def _decision_modal() -> list[Payload]:
    return [
        ("view", escalation.decision_modal(_card(kind, resolved=False, fields=fields)))
        for kind, fields in CONFIGS
    ]


def _overruled() -> list[Payload]:
    out = []
    for lead in ("U09LEAD", H):
        for rationale in (LONG, None):
            text, blocks = escalation.overruled_message(
                hostile_config("preference"),
                external_id=EXTERNAL_ID,
                yours=f"Response {ID_A}",
                decided=f"Response {ID_B} " + LONG,
                lead=lead,
                rationale=rationale,
            )
            out.append(message(text, blocks))
    return out


def _notices() -> list[Payload]:
    config = hostile_config("label").model_copy(update={"leads": ["U09LEAD", H]})
    return [
        ("text", escalation.not_a_lead_notice(config)),
        ("text", escalation.already_resolved_notice(H, LONG[:500])),
        ("text", escalation.already_resolved_notice(None, H)),
        ("text", escalation.not_your_review_notice(H)),
        ("text", escalation.not_your_review_notice(None)),
    ]


def _reminder_texts() -> list[Payload]:
    return [
        ("text", escalation.reminder_text(lead=lead, number=number, waited_hours=30))
        for lead in (None, "U09LEAD", H, "<@U123>")
        for number in (1, 2)
    ]


def _controls() -> list[Payload]:
    out = [
        message("tools", [b.to_dict() for b in controls.tools_row(3, mode=mode)])
        for mode in ("pending", "answered", "changing")
    ]
    button = controls.full_conversation_button(assignment_id=3)
    out.append(message("full", [{"type": "actions", "elements": [button.to_dict()]}]))
    confirm = controls.skip_confirm().to_dict()
    return out + [("text", confirm["text"]["text"])]


def _conversation_parts() -> list[Payload]:
    parts = [Part(H, [{"role": "user", "content": LONG}, {"role": H, "content": LONG}])]
    preview = conversation.preview_blocks(parts, max_blocks=40)
    out = [message("preview", [b.to_dict() for b in preview.blocks])]
    out.append(message("full", [b.to_dict() for b, _ in conversation.full_blocks(parts)][:50]))
    out += [message("page", [b.to_dict() for b in page]) for page in conversation.pages(parts)]
    section, _ = conversation.turn_section({"role": H, "content": LONG}, 2900)
    out.append(message("turn", [section.to_dict()]))
    return out


def _message_parts() -> list[Payload]:
    config = hostile_config("label")
    blocks = [
        messages.intro(config).to_dict(),
        messages.section(escape_mrkdwn(LONG)).to_dict(),
        messages.context(escape_mrkdwn(LONG)).to_dict(),
        messages.actions([messages.button(H * 3, "a", "v")]).to_dict(),
    ]
    at = messages.slack_time(AT)
    return [message(f"{at} {messages.control('open')}", blocks)]


def _passed_on() -> list[Payload]:
    built = passed_on_message(hostile_config("label"), reason=H)
    return [message(built["text"], built["blocks"])]


def _text_helpers() -> list[Payload]:
    return [
        (
            "text",
            f"{mention(H)} {mention('U01ALICE')} {channel_link(H)} {channel_link('C0ESCALATE')}",
        ),
    ]


def _kind_parts() -> list[Payload]:
    """The Slack parts each kind gives the builders, read directly."""
    out: list[Payload] = []
    for kind, fields in CONFIGS:
        config = hostile_config(kind, **fields)
        content = hostile_content(kind)
        value = hostile_value(kind, config)
        task = kind_of(config)
        view = ReviewView(12, content, presentation(kind), changing=value)
        blocks = (
            task.controls(config, view)
            + task.context_blocks(config, content)
            + task.answered_blocks(config, value)
            + [messages.context(line) for line in task.channel_context(content)]
            + [messages.context(line) for line in task.progress_notes(config, view)]
        )
        out.append(message("kind", [b.to_dict() for b in blocks]))
        inputs = task.decision_inputs(config, content, value)
        out.append(
            (
                "view",
                {
                    "type": "modal",
                    "title": {"type": "plain_text", "text": "t"},
                    "submit": {"type": "plain_text", "text": "s"},
                    "blocks": [b.to_dict() for b in inputs],
                },
            )
        )
        out.append(("text", str(task.suggestion_text(config, value)) or "-"))
    return out


BUILDERS: dict[str, tuple[Callable[[], list[Payload]], bool]] = {
    # name: (hostile fixture, whether data is shown)
    "bot.slack.review.build_review_request": (_review_requests, True),
    "bot.slack.review.build_request_for": (_review_requests, True),
    "bot.slack.review.build_answered": (_answered, True),
    "bot.slack.review.build_closed": (_closed, True),
    "bot.slack.review.suggestion_block": (_suggestion, True),
    "bot.slack.review.describe_answer": (_describe_answer, False),
    "bot.slack.views.correction_modal": (_modals, True),
    "bot.slack.views.rationale_modal": (_modals, True),
    "bot.slack.views.flag_modal": (_modals, True),
    "bot.slack.views.conversation_modal": (_modals, True),
    "bot.slack.home.build_home": (_home, True),
    "bot.slack.escalation.escalation_blocks": (_escalation_message, True),
    "bot.slack.escalation.sample_blocks": (_sample_blocks, True),
    "bot.slack.escalation.decision_modal": (_decision_modal, True),
    "bot.slack.escalation.overruled_message": (_overruled, True),
    "bot.slack.escalation.not_a_lead_notice": (_notices, True),
    "bot.slack.escalation.already_resolved_notice": (_notices, True),
    "bot.slack.escalation.not_your_review_notice": (_notices, True),
    "bot.slack.escalation.reminder_text": (_reminder_texts, False),
    "bot.slack.controls.tools_row": (_controls, False),
    "bot.slack.controls.full_conversation_button": (_controls, False),
    "bot.slack.controls.skip_confirm": (_controls, False),
    "bot.slack.conversation.preview_blocks": (_conversation_parts, True),
    "bot.slack.conversation.full_blocks": (_conversation_parts, True),
    "bot.slack.conversation.pages": (_conversation_parts, True),
    "bot.slack.conversation.turn_section": (_conversation_parts, True),
    "bot.slack.messages.intro": (_message_parts, True),
    "bot.slack.messages.section": (_message_parts, True),
    "bot.slack.messages.context": (_message_parts, True),
    "bot.slack.messages.button": (_message_parts, True),
    "bot.slack.messages.actions": (_message_parts, True),
    "bot.slack.messages.slack_time": (_message_parts, True),
    "bot.slack.messages.control": (_message_parts, True),
    "bot.slack.text.mention": (_text_helpers, True),
    "bot.slack.text.channel_link": (_text_helpers, True),
    "bot.delivery.reassignment.passed_on_message": (_passed_on, True),
    "bot.kinds.base.TaskKind": (_kind_parts, False),
}

# Public functions of the Slack modules that build no Slack text of their own, and why.
NOT_TEXT = {
    "bot.slack.controls.is_change_block": "reads a block id",
    "bot.slack.conversation.cut": "cuts text its caller escaped (checked through the builders)",
    "bot.slack.conversation.split": "splits text its caller escaped",
    "bot.slack.conversation.turn_heading": "part of turn_section",
    "bot.slack.conversation.picture_block": "an image block: alt_text is plain text, never parsed",
    "bot.slack.conversation.caption_block": "shows a caption its maker rendered with say()",
    "bot.slack.conversation.turn_body": "part of turn_section",
    "bot.slack.escalation.duration": "formats a number",
    "bot.slack.escalation.read_decision": "reads a submitted modal",
    "bot.slack.messages.answer_value": "a button value, never shown",
    "bot.slack.messages.assignment_value": "a button value, never shown",
    "bot.slack.messages.button_text": "shortens a plain_text button text",
    "bot.slack.messages.serialise": "turns blocks into dicts",
    "bot.slack.outbound.make_web_client": "the HTTP client",
    "bot.slack.outbound.respond": "POSTs a message the builders rendered",
    "bot.slack.review.presentation_for": "a per-reviewer order",
    "bot.slack.review.content_parts": "titled turns (rendered by conversation's builders)",
    "bot.slack.text.escape_mrkdwn": "the escaper itself",
    "bot.slack.text.join_mrkdwn": "the escaper over a list",
    "bot.slack.text.date_token": "the date token (checked through slack_time)",
    "bot.slack.text.same_kind": "keeps a cut escaped",
    "bot.slack.text.truncate": "cuts text its caller escaped",
    "bot.slack.text.role_name": "a role's display name (escaped by its callers)",
    "bot.slack.text.format_turn": "a turn as mrkdwn (checked through sample_blocks)",
    "bot.slack.views.split_for_inputs": "splits a text for input boxes (plain)",
    "bot.slack.views.join_inputs": "joins input boxes",
    "bot.slack.wording.say": "the escaping renderer (every template is checked below)",
    "bot.slack.wording.say_plain": "the plain_text renderer",
    "bot.slack.wording.template_names": "lists templates",
    "bot.slack.wording.template_variables": "lists a template's variables",
}

# The digest, reminders and the escalation workflow need a database: they are driven
# with hostile ids end to end in tests/e2e/test_hostile_text.py.
SCANNED = ["controls", "conversation", "escalation", "home", "messages", "outbound"]
SCANNED += ["review", "text", "views", "wording"]


def _public_functions(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [
        f"{module_name}.{name}"
        for name, member in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and member.__module__ == module_name
    ]


def test_every_builder_of_slack_text_has_a_hostile_fixture():
    found = [f for m in SCANNED for f in _public_functions(f"bot.slack.{m}")]
    assert len(found) > 40
    unclassified = sorted(set(found) - set(BUILDERS) - set(NOT_TEXT))
    assert not unclassified, (
        f"add a hostile fixture for {unclassified} to BUILDERS (or say in NOT_TEXT why it "
        "builds no Slack text)"
    )
    missing_kinds = set(KINDS) - {kind for kind, _ in CONFIGS}
    assert not missing_kinds, f"add hostile configs for the kinds {sorted(missing_kinds)}"
    stale = sorted(
        (set(BUILDERS) | set(NOT_TEXT))
        - set(found)
        - {"bot.delivery.reassignment.passed_on_message", "bot.kinds.base.TaskKind"}
    )
    assert not stale, f"{stale} no longer exist: drop them here"


@pytest.mark.parametrize(
    "fixture",
    sorted({f for f, _ in BUILDERS.values()}, key=lambda f: f.__name__),
    ids=lambda f: f.__name__.strip("_"),
)
def test_builders_with_hostile_values_ping_nobody_and_fit_slack(fixture):
    shows = any(s for f, s in BUILDERS.values() if f is fixture)
    payloads = fixture()
    assert payloads
    for number, payload in enumerate(payloads):
        check(f"{fixture.__name__}[{number}]", payload, shows_data=shows and payload[0] != "text")


# --------------------------------------------------------------------------- templates


def _hostile(value: Any) -> Any:
    """A sample with every string replaced by a hostile one (numbers and flags kept)."""
    if isinstance(value, str):
        return LONG if len(value) > 20 else H
    if isinstance(value, dict):
        return {key: _hostile(entry) for key, entry in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_hostile(entry) for entry in value)
    return value


@pytest.mark.parametrize("name", template_names())
def test_every_template_escapes_every_value(name: str):
    if name == "controls":  # fixed texts chosen by name, no data
        for control in control_names():
            assert unsafe_text({"text": say("controls", name=control)}) == []
        return
    assert name in SAMPLES, f"add sample data for {name} to test_templates.SAMPLES"
    missing = template_variables(name) - set(SAMPLES[name])
    assert not missing, f"SAMPLES[{name!r}] gives no value for {sorted(missing)}"
    context = _hostile(SAMPLES[name])
    text = say(name, **context)
    assert unsafe_text({"text": text}) == [], name
    # The plain_text render is the same wording with values as they are.
    assert "&lt;" not in say_plain(name, **context)


def test_values_already_escaped_are_not_escaped_again():
    escaped = escape_mrkdwn("a & <b>")
    assert say("notification", project_name=escaped) == "New item to review in a &amp; &lt;b&gt;"
    assert say("notification", project_name="a & <b>") == say("notification", project_name=escaped)
    assert "flagged by <@U01ALICE>" in say(
        "home_flag_entry", **{**SAMPLES["home_flag_entry"], "reviewer": mention("U01ALICE")}
    )
    assert "flagged by &lt;@U123&gt;" in say(
        "home_flag_entry", **{**SAMPLES["home_flag_entry"], "reviewer": mention("<@U123>")}
    )


def test_a_hostile_item_id_in_the_escalation_notification_text_pings_nobody():
    """The leak the issue measured: blocks were escaped, the notification text was not."""
    card = _card("label", resolved=False)
    card = EscalationCard(**{**card.__dict__, "external_id": "<!here> item"})
    text, _ = escalation.escalation_blocks(card)
    assert "<!here>" not in text and "&lt;!here&gt; item" in text
    resolved = EscalationCard(**{**card.__dict__, "resolved_by": "U09LEAD"})
    text, _ = escalation.escalation_blocks(resolved)
    assert "<!here>" not in text and "&lt;!here&gt; item" in text


def test_a_hostile_id_in_the_overruled_dm_text_pings_nobody():
    text, _ = escalation.overruled_message(
        hostile_config("preference"),
        external_id="<!here> item",
        yours="Response <!channel> a",
        decided="Response <!here> b",
        lead="U09LEAD",
        rationale=None,
    )
    assert "<!" not in text and "Response &lt;!here&gt; b" in text


def test_plain_text_fields_show_data_as_it_is():
    config = hostile_config("label", labels=SHORT_LABELS)
    content = {
        "conversation": hostile_content("label")["conversation"],
        "prediction": {"label": "a & b"},
    }
    built = review.build_review_request(config, SimpleNamespace(id=1, presentation=None), content)
    buttons = [
        e["text"]["text"]
        for b in built.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    ]
    assert "Confirm: a & b" in buttons and "<!here>" in buttons


def test_the_same_hostile_draft_renders_for_every_kind():
    rng = random.Random(1)
    for kind in KINDS:
        config = hostile_config(kind)
        order = review.presentation_for(config, hostile_content(kind), rng)
        built = review.build_review_request(
            config, SimpleNamespace(id=1, presentation=order), hostile_content(kind)
        )
        check(kind, slack_message(built))


def test_hostile_values_are_printed_escaped_not_dropped():
    shown = [name for name in SAMPLES if "&lt;!here&gt;" in say(name, **_hostile(SAMPLES[name]))]
    assert len(shown) >= 25, shown


def test_an_escalation_of_100_long_answers_stays_within_slacks_limits():
    card = _card("correction", resolved=False)
    long = [
        ShownAnswer(f"U{n:04d}X", LONG, 30.0, rationale=LONG, edited_text=LONG, flags=["unsafe"])
        for n in range(100)
    ]
    _, blocks = escalation.escalation_blocks(EscalationCard(**{**card.__dict__, "answers": long}))
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    shown = sum(text.count("<@U") for text in sections)
    counted = next(b for b in blocks if b["type"] == "context" and "more answers" in str(b))
    assert f"{100 - shown} more answers not shown" in str(counted)
    assert "/quorum provenance" in str(counted)
