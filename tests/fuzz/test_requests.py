"""Generated requests of every surface (raw bodies, block actions, view submissions, slash
commands, events), signed and unsigned, through the real HTTP server and Bolt app: never
a 5xx or a dropped connection, and a request that is refused, comes from someone in no
project or from another workspace changes no row and writes no audit event."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sandbox.harness import SlackSandbox
from bot.sandbox.slack_requests import SlackHttpResponse, SlackRequestSender
from bot.slack import ids
from bot.slack.escalation import ACCEPT, DECIDE, DECIDE_VIEW
from tests.factories import REVIEWERS, database_state

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
STRANGER = "U99STRANGER"
RESPONSE_URL = "the emulator's response_url"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# -- the pieces Slack's requests are made of ------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-3, max_value=12),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**12, 2**63, -(2**63), 10**30]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=30))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
# Documents shaped like the ones our buttons and modals carry, with hostile fields.
documents = st.fixed_dictionaries(
    {},
    optional={key: json_values for key in ("a", "v", "c", "k", "s", "e", "r", "i", "p", "n", "j")},
)
raw_values = st.one_of(
    documents.map(json.dumps), json_values.map(json.dumps), st.text(max_size=60), st.none()
)
# Mostly well formed, so that most examples reach a listener; the rest are refused early.
people = st.sampled_from([STRANGER] * 6 + [*REVIEWERS, "U09LEAD", "", "u", "U" * 40])
teams = st.sampled_from(["T0QUORUM"] * 8 + ["T0OTHER", None, 7, ""])
enterprises = st.sampled_from([None] * 8 + [{"id": "E0OTHER"}, "E0OTHER", {"id": 3}])
action_ids = st.sampled_from(
    [
        ids.indexed(ids.ANSWER, 0),
        ids.PICK_LABEL,
        ids.TICK_LABELS,
        ids.SUBMIT_LABELS,
        ids.indexed(ids.RATE, 3),
        ids.RATE_SELECT,
        ids.SAVE_RATING,
        ids.indexed(ids.STEP, 1),
        ids.EDIT_RESPONSE,
        ids.ADD_RATIONALE,
        ids.SKIP,
        ids.FLAG,
        ids.CHANGE_ANSWER,
        ids.KEEP_ANSWER,
        ids.FULL_CONVERSATION,
        ids.PAGE_NEXT,
        ids.OPEN_ITEM,
        ids.PAUSE,
        ids.RESUME,
        f"{ACCEPT}:0",
        DECIDE,
        "quorum_step:²",
        "unknown",
    ]
)
block_ids = st.one_of(
    st.none(),
    st.sampled_from(["answer:1", "rate:1:0", "rate:1:x:c", "labels:2", "rank:1:c", "answer:²"]),
    st.integers(0, 10**25).map(lambda n: f"answer:{n}"),
    st.text(max_size=20),
)
options = st.one_of(
    st.none(), st.fixed_dictionaries({"value": st.one_of(st.text(max_size=20), numbers)})
)


@st.composite
def block_actions(draw: st.DrawFn) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": draw(st.sampled_from(["button"] * 3 + ["static_select", "checkboxes", 5])),
        "action_id": draw(action_ids),
        "block_id": draw(block_ids),
        "value": draw(raw_values),
        "action_ts": draw(st.one_of(st.none(), st.text(max_size=10), numbers)),
    }
    if draw(st.booleans()):
        action["selected_option"] = draw(options)
    if draw(st.booleans()):
        action["selected_options"] = draw(st.lists(options, max_size=3))
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": draw(people)},
        "team": {"id": draw(teams)},
        "enterprise": draw(enterprises),
        "actions": draw(st.one_of(st.just([action]), st.lists(st.just(action), max_size=3))),
        "trigger_id": draw(st.one_of(st.none(), st.just("1.2.3"))),
        "channel": draw(st.one_of(st.none(), st.just({"id": "C0ESCALATE"}), st.just({"id": 1}))),
    }
    if draw(st.booleans()):
        payload["view"] = {
            "id": "V1",
            "type": "modal",
            "private_metadata": draw(raw_values) or "",
            "hash": "h",
        }
    if draw(st.booleans()):
        payload["state"] = {"values": {draw(block_ids) or "b": {ids.TICK_LABELS: action}}}
    return payload


text_inputs = st.one_of(
    st.none(), st.text(max_size=50), st.integers(0, 4).map(lambda n: "x" * (2999 + n))
)


@st.composite
def view_submissions(draw: st.DrawFn) -> dict[str, Any]:
    text = {"type": "plain_text_input", "value": draw(text_inputs)}
    values = {
        block: {ids.TEXT_INPUT: text}
        for block in draw(
            st.lists(
                st.sampled_from(
                    [
                        ids.RATIONALE_BLOCK,
                        ids.FLAG_NOTE_BLOCK,
                        ids.correction_block(0),
                        ids.correction_block(1),
                        "value",
                    ]
                ),
                max_size=3,
            )
        )
    }
    values[ids.FLAG_REASON_BLOCK] = {ids.CHOICE_INPUT: {"selected_option": draw(options)}}
    metadata = draw(st.one_of(raw_values, st.just('{"a":1,"n":1000000000000,"j":[]}')))
    return {
        "type": draw(st.sampled_from(["view_submission", "view_closed"])),
        "user": {"id": draw(people)},
        "team": {"id": draw(teams)},
        "enterprise": draw(enterprises),
        "view": {
            "id": "V1",
            "type": draw(st.sampled_from(["modal", "home", 3])),
            "callback_id": draw(
                st.sampled_from(
                    [ids.CORRECTION_VIEW, ids.RATIONALE_VIEW, ids.FLAG_VIEW, DECIDE_VIEW, "x"]
                )
            ),
            "private_metadata": metadata if metadata is not None else draw(json_values),
            "state": draw(st.one_of(st.just({"values": values}), json_values)),
        },
    }


@st.composite
def slash_commands(draw: st.DrawFn) -> dict[str, str]:
    words = st.sampled_from(["pause", "resume", "next", "stats", "help", "", "PAUSE now"])
    text = draw(st.one_of(words, st.text(max_size=40), st.just("x" * 40_001)))
    form = {
        "command": draw(st.sampled_from(["/quorum"] * 8 + ["/other", "quorum", "/" + "q" * 40])),
        "user_id": draw(st.sampled_from([STRANGER] * 8 + ["", "U" * 40])),
        "team_id": draw(st.sampled_from(["T0QUORUM"] * 8 + ["T0OTHER", ""])),
        "text": text,
        "trigger_id": "1.2.3",
        "response_url": draw(st.sampled_from([RESPONSE_URL] * 8 + ["", "x"])),
    }
    return {key: value for key, value in form.items() if draw(st.integers(0, 30)) or key == "text"}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event = {
        "type": draw(st.sampled_from(["app_home_opened", "message", "", 4])),
        "user": draw(st.one_of(st.just(STRANGER), json_values)),
        "tab": draw(st.sampled_from(["home", "messages", None, 2])),
        "view": draw(st.one_of(st.none(), st.just({"type": "home", "hash": "h"}), json_values)),
    }
    event_id = draw(
        st.one_of(
            st.text(alphabet="abcXYZ019", min_size=1, max_size=70).map(lambda s: "Ev" + s),
            json_values,
        )
    )
    return {
        "type": "event_callback",
        "team_id": draw(teams),
        "enterprise_id": draw(st.sampled_from([None] * 8 + ["E0OTHER"])),
        "event_id": event_id,
        "event": draw(st.one_of(st.just(event), json_values)),
    }


# -- sending and checking ----------------------------------------------------------------------


def sender_of(world: SlackSandbox) -> SlackRequestSender:
    assert world.sender is not None
    return world.sender


def send(world: SlackSandbox, body: bytes, content_type: str, *, signed: bool) -> SlackHttpResponse:
    """POST the body; any dropped connection or timeout raises and fails the example."""
    signature = None if signed else "v0=" + "0" * 64
    return sender_of(world).post_raw(body, content_type=content_type, signature=signature)


def check(
    world: SlackSandbox, body: bytes, content_type: str, *, signed: bool, harmless: bool
) -> None:
    before = database_state(world.ctx.engine)
    response = send(world, body, content_type, signed=signed)
    assert response.status < 500, (response.status, response.body[:200])
    after = database_state(world.ctx.engine)
    if response.status >= 400 or harmless:
        # Accepted events are remembered by id (that is the dedupe), nothing else.
        if response.status < 400:
            after.pop("slack_delivery"), before.pop("slack_delivery")
        assert after == before, (response.status, body[:300])


def harmless(payload: dict[str, Any]) -> bool:
    """From someone in no project, or another workspace or org: must change nothing."""
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, dict) else payload.get("user_id")
    enterprise = payload.get("enterprise") or payload.get("enterprise_id")
    return (
        user_id not in (*REVIEWERS, "U09LEAD")
        or (payload.get("team") or {}).get("id") != "T0QUORUM"
        or enterprise is not None
    )


def as_form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@FUZZ
@given(payload=block_actions(), signed=st.sampled_from([True, True, True, False]))
def test_block_actions(world, payload, signed):
    check(world, as_form(payload), FORM, signed=signed, harmless=harmless(payload))


@FUZZ
@given(payload=view_submissions(), signed=st.sampled_from([True, True, True, False]))
def test_view_submissions(world, payload, signed):
    check(world, as_form(payload), FORM, signed=signed, harmless=harmless(payload))


@FUZZ
@given(form=slash_commands(), signed=st.sampled_from([True, True, True, False]))
def test_slash_commands(world, form, signed):
    if form.get("response_url") == RESPONSE_URL:  # live on the emulator, as Slack's are
        form["response_url"] = world.emulator.response_url(
            channel="C0GENERAL", message_ts=None, user=STRANGER
        )
    check(world, urlencode(form).encode(), FORM, signed=signed, harmless=True)


@FUZZ
@given(envelope=events(), signed=st.sampled_from([True, True, True, False]))
def test_events(world, envelope, signed):
    check(world, json.dumps(envelope).encode(), JSON, signed=signed, harmless=True)


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
        json_values.map(lambda v: urlencode({"payload": json.dumps(v)}).encode()),
    ),
    content_type=st.sampled_from([FORM, JSON, "text/plain", "", "application/json; charset=utf-8"]),
    signed=st.sampled_from([True, True, True, False]),
)
def test_raw_bodies(world, body, content_type, signed):
    check(world, body, content_type, signed=signed, harmless=True)


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


@FUZZ
@given(
    timestamp=st.one_of(header_text, st.integers().map(str)),
    signature=st.one_of(header_text, st.just("v0=")),
)
def test_unsigned_headers(world, timestamp, signature):
    """Any timestamp or signature a client can send in a header: 401, nothing parsed."""
    before = database_state(world.ctx.engine)
    response = sender_of(world).post_raw(
        as_form({"type": "block_actions"}),
        content_type=FORM,
        signature=signature or "v0=",
        headers={"X-Slack-Request-Timestamp": timestamp},
    )
    assert response.status == 401
    assert database_state(world.ctx.engine) == before
