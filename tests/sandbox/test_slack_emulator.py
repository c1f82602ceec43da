"""The emulator answers the real slack_sdk WebClient the way Slack's Web API does."""

from __future__ import annotations

import json
import threading
import types
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.sandbox.slack_emulator import SlackEmulator

NO_WAIT = FixedValueRetryIntervalCalculator(fixed_internal=0.0)
MODAL = {
    "type": "modal",
    "callback_id": "rate",
    "title": {"type": "plain_text", "text": "Rate"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}


class FakeClock:
    """Monotonic time the test moves by hand, so expiry and windows need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=clock) as emu:
        emu.add_user("U01ALICE", name="alice")
        emu.add_user("U02BOB", name="bob", tz="America/New_York", tz_offset=-18000)
        emu.add_user("U03GONE", name="gone", deleted=True)
        emu.add_channel("C0ESCALATE", "escalations")
        yield emu


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url, retry_handlers=[])


def error_of(call: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return caught.value


def buttons(*labels: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Which team?*"}},
        {
            "type": "actions",
            "block_id": "answer",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": t}, "value": t}
                for t in labels
            ],
        },
    ]


def test_auth(emulator: SlackEmulator, client: WebClient) -> None:
    me = client.auth_test()
    assert (me["user_id"], me["team_id"], me["bot_id"]) == (
        "U0QUORUMBOT",
        "T0QUORUM",
        "B0QUORUMBOT",
    )
    bad = WebClient(token="xoxb-wrong", base_url=emulator.api_url)
    assert error_of(bad.auth_test).response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=emulator.api_url)
    err = error_of(anonymous.chat_postMessage, channel="C0GENERAL", text="x")
    assert (err.response.status_code, err.response["error"]) == (200, "not_authed")
    assert [c.method for c in emulator.calls] == ["auth.test", "auth.test", "chat.postMessage"]


def test_unknown_method(client: WebClient) -> None:
    assert error_of(client.api_call, api_method="chat.frobnicate").response["error"] == (
        "unknown_method"
    )


def test_dm_by_user_id_and_conversations_open(emulator: SlackEmulator, client: WebClient) -> None:
    opened = client.conversations_open(users=["U01ALICE"])
    assert opened["channel"]["id"] == emulator.dm_channel("U01ALICE")
    again = client.conversations_open(users="U01ALICE")
    assert again["channel"]["id"] == opened["channel"]["id"] and again["already_open"]

    posted = client.chat_postMessage(channel="U01ALICE", text="New item", blocks=buttons("A"))
    assert posted["channel"] == opened["channel"]["id"]
    assert posted["message"]["user"] == "U0QUORUMBOT"
    assert posted["message"]["blocks"][1]["elements"][0]["action_id"]  # filled in, as Slack does
    [message] = emulator.messages("U01ALICE")
    assert message == emulator.message(opened["channel"]["id"], posted["ts"])
    assert message["channel"] == opened["channel"]["id"]
    assert message["text"] == "New item" and message["thread_ts"] is None
    assert message["blocks"][1]["block_id"] == "answer"


def test_users_and_groups(emulator: SlackEmulator, client: WebClient) -> None:
    bob = client.users_info(user="U02BOB")["user"]
    assert (bob["name"], bob["tz"], bob["tz_offset"], bob["deleted"]) == (
        "bob",
        "America/New_York",
        -18000,
        False,
    )
    assert bob["profile"]["real_name"] == "Bob"
    assert error_of(client.users_info, user="U404").response["error"] == "user_not_found"
    emulator.add_usergroup("S0EXPERTS", ["U01ALICE", "U02BOB"])
    assert client.usergroups_users_list(usergroup="S0EXPERTS")["users"] == ["U01ALICE", "U02BOB"]
    assert error_of(client.usergroups_users_list, usergroup="S0NONE").response["error"] == (
        "no_such_subteam"
    )


def test_usergroups_users_list_answers_as_slack_does(
    emulator: SlackEmulator, client: WebClient, clock: FakeClock
) -> None:
    emulator.add_usergroup("S0EXPERTS", ["U01ALICE", "W02BOB"])
    listed = client.usergroups_users_list(usergroup="S0EXPERTS")
    assert listed.data == {"ok": True, "users": ["U01ALICE", "W02BOB"]}
    emulator.disable_usergroup("S0EXPERTS")
    assert error_of(client.usergroups_users_list, usergroup="S0EXPERTS").response["error"] == (
        "no_such_subteam"
    )
    assert client.usergroups_users_list(usergroup="S0EXPERTS", include_disabled=True)["users"]
    bad = WebClient(token="xoxb-wrong", base_url=emulator.api_url, retry_handlers=[])
    assert error_of(bad.usergroups_users_list, usergroup="S0EXPERTS").response["error"] == (
        "invalid_auth"
    )
    emulator.revoke_scope("usergroups:read")
    missing = error_of(client.usergroups_users_list, usergroup="S0EXPERTS").response
    assert (missing["error"], missing["needed"]) == ("missing_scope", "usergroups:read")
    assert "usergroups:read" not in missing["provided"].split(",")
    assert "chat:write" in missing["provided"].split(",")


def test_usergroups_users_list_is_rate_limited_at_tier_2(
    emulator: SlackEmulator, client: WebClient, clock: FakeClock
) -> None:
    emulator.add_usergroup("S0EXPERTS", ["U01ALICE"])
    for _ in range(20):  # Tier 2: about 20 a minute
        client.usergroups_users_list(usergroup="S0EXPERTS")
    err = error_of(client.usergroups_users_list, usergroup="S0EXPERTS")
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert int(err.response.headers["Retry-After"]) == 60
    clock.advance(60)
    assert client.usergroups_users_list(usergroup="S0EXPERTS")["users"] == ["U01ALICE"]


def test_posting_errors(emulator: SlackEmulator, client: WebClient) -> None:
    post = client.chat_postMessage
    assert error_of(post, channel="C0NOPE", text="x").response["error"] == "channel_not_found"
    assert error_of(post, channel="U404", text="x").response["error"] == "channel_not_found"
    assert error_of(post, channel="U03GONE", text="x").response["error"] == "account_inactive"
    gone_dm = emulator.dm_channel("U03GONE")
    assert error_of(post, channel=gone_dm, text="x").response["error"] == "account_inactive"
    with pytest.warns(UserWarning, match="text"):
        assert error_of(post, channel="C0GENERAL").response["error"] == "no_text"
    opener = client.conversations_open
    assert error_of(opener, users="U03GONE").response["error"] == "user_disabled"
    assert error_of(opener, users="U404").response["error"] == "user_not_found"
    assert emulator.messages("C0GENERAL") == []


def test_invalid_blocks_are_rejected_and_not_stored(
    emulator: SlackEmulator, client: WebClient
) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    err = error_of(client.chat_postMessage, channel="C0GENERAL", text="x", blocks=[section] * 51)
    assert err.response["error"] == "invalid_blocks"
    assert err.response["errors"] == ["blocks: must have at most 50 items (got 51)"]

    err = error_of(client.chat_postMessage, channel="C0GENERAL", text="x", blocks=buttons("y" * 76))
    assert err.response["errors"] == [
        "blocks[1].elements[0].text: must be at most 75 characters (got 76)"
    ]
    assert emulator.messages("C0GENERAL") == []
    assert [c.status for c in emulator.calls_to("chat.postMessage")] == [200, 200]


def test_form_encoded_blocks_as_json_string(emulator: SlackEmulator, client: WebClient) -> None:
    """slack_sdk sends some methods as forms; blocks then arrive as a JSON string."""
    client.api_call(
        "chat.postMessage",
        params={"channel": "C0GENERAL", "text": "form", "blocks": json.dumps(buttons("Go"))},
    )
    [message] = emulator.messages("C0GENERAL")
    assert message["blocks"][1]["elements"][0]["text"]["text"] == "Go"


def test_update_with_text_only_removes_blocks(emulator: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U01ALICE", text="Rate", blocks=buttons("1", "2"))
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Thanks!")
    assert updated["ts"] == posted["ts"]
    message = emulator.message(posted["channel"], posted["ts"])
    assert message["text"] == "Thanks!" and message["blocks"] == []
    assert message["edited"]["user"] == "U0QUORUMBOT"

    with pytest.warns(UserWarning, match="text"):
        client.chat_update(channel=posted["channel"], ts=posted["ts"], blocks=buttons("3"))
    message = emulator.message(posted["channel"], posted["ts"])
    assert message["text"] == "Thanks!"
    assert message["blocks"][1]["elements"][0]["value"] == "3"

    err = error_of(client.chat_update, channel=posted["channel"], ts="1.000000", text="x")
    assert err.response["error"] == "message_not_found"


def test_ephemeral_and_permalink(emulator: SlackEmulator, client: WebClient) -> None:
    answer = client.chat_postEphemeral(channel="C0ESCALATE", user="U02BOB", text="Only you")
    [ephemeral] = emulator.ephemerals("U02BOB")
    assert ephemeral["ts"] == answer["message_ts"] and ephemeral["text"] == "Only you"
    assert emulator.ephemerals("U01ALICE") == []
    assert emulator.messages("C0ESCALATE") == []

    posted = client.chat_postMessage(channel="C0ESCALATE", text="Disagreement")
    link = client.chat_getPermalink(channel="C0ESCALATE", message_ts=posted["ts"])["permalink"]
    assert link.endswith(f"/archives/C0ESCALATE/p{posted['ts'].replace('.', '')}")


def test_threads_history_and_metadata(emulator: SlackEmulator, client: WebClient) -> None:
    meta = {"event_type": "quorum_item", "event_payload": {"item": "t-1"}}
    parent = client.chat_postMessage(channel="C0ESCALATE", text="Escalation", metadata=meta)
    client.chat_postMessage(channel="C0ESCALATE", text="Summary", thread_ts=parent["ts"])
    client.chat_postMessage(channel="C0ESCALATE", text="Second")

    history = client.conversations_history(channel="C0ESCALATE")
    assert [m["text"] for m in history["messages"]] == ["Second", "Escalation"]
    assert "metadata" not in history["messages"][1]
    assert history["messages"][1]["reply_count"] == 1
    with_meta = client.conversations_history(channel="C0ESCALATE", include_all_metadata=True)
    assert with_meta["messages"][1]["metadata"] == meta

    page = client.conversations_history(channel="C0ESCALATE", limit=1)
    assert page["has_more"] and [m["text"] for m in page["messages"]] == ["Second"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = client.conversations_history(channel="C0ESCALATE", limit=1, cursor=cursor)
    assert [m["text"] for m in rest["messages"]] == ["Escalation"] and not rest["has_more"]
    newer = client.conversations_history(channel="C0ESCALATE", oldest=parent["ts"])
    assert [m["text"] for m in newer["messages"]] == ["Second"]

    replies = client.conversations_replies(channel="C0ESCALATE", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["Escalation", "Summary"]
    assert [m["thread_ts"] for m in emulator.messages("C0ESCALATE")] == [
        parent["ts"],
        parent["ts"],
        None,
    ]
    err = error_of(client.chat_postMessage, channel="C0ESCALATE", text="x", thread_ts="1.000000")
    assert err.response["error"] == "thread_not_found"


def test_timestamps_strictly_increase_across_threads(
    emulator: SlackEmulator, client: WebClient
) -> None:
    def post_five() -> None:
        for _ in range(5):
            client.chat_postMessage(channel="C0GENERAL", text="x")

    workers = [threading.Thread(target=post_five) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stamps = [m["ts"] for m in emulator.messages("C0GENERAL")]
    assert len(stamps) == 20
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)
    assert [float(ts) for ts in stamps] == sorted({float(ts) for ts in stamps})


def test_modal_open_update_push_and_hash(emulator: SlackEmulator, client: WebClient) -> None:
    opened = client.views_open(trigger_id=emulator.issue_trigger_id(), view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "rate"
    assert opened["state"] == {"values": {}} and opened["root_view_id"] == opened["id"]
    assert emulator.views_opened() == [opened] and emulator.is_view_open(opened["id"])

    new = {**MODAL, "title": {"type": "plain_text", "text": "Rate (2)"}}
    updated = client.views_update(view_id=opened["id"], view=new, hash=opened["hash"])["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    err = error_of(client.views_update, view_id=opened["id"], view=MODAL, hash=opened["hash"])
    assert err.response["error"] == "hash_conflict"
    assert emulator.view(opened["id"])["title"]["text"] == "Rate (2)"
    missing = error_of(client.views_update, view_id="V404", view=MODAL)
    assert missing.response["error"] == "not_found"

    pushed = client.views_push(trigger_id=emulator.issue_trigger_id(), view=MODAL)["view"]
    assert pushed["previous_view_id"] == opened["id"]
    assert pushed["root_view_id"] == opened["id"]


def test_external_id_update(emulator: SlackEmulator, client: WebClient) -> None:
    view = {**MODAL, "external_id": "item-7"}
    client.views_open(trigger_id=emulator.issue_trigger_id(), view=view)
    updated = client.views_update(external_id="item-7", view={**view, "callback_id": "v2"})
    assert updated["view"]["callback_id"] == "v2"
    err = error_of(client.views_update, external_id="nope", view=MODAL)
    assert err.response["error"] == "not_found"


def test_invalid_view_is_invalid_arguments(emulator: SlackEmulator, client: WebClient) -> None:
    bad = {**MODAL, "title": {"type": "plain_text", "text": "A title far too long for Slack"}}
    err = error_of(client.views_open, trigger_id=emulator.issue_trigger_id(), view=bad)
    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"] == [
        "[ERROR] title: must be at most 24 characters (got 30)"
    ]
    assert emulator.views_opened() == []


def test_trigger_id_expires_after_3s_and_works_once(
    emulator: SlackEmulator, client: WebClient, clock: FakeClock
) -> None:
    late = emulator.issue_trigger_id()
    clock.advance(3.1)
    assert error_of(client.views_open, trigger_id=late, view=MODAL).response["error"] == (
        "expired_trigger_id"
    )
    fresh = emulator.issue_trigger_id()
    clock.advance(2.9)
    client.views_open(trigger_id=fresh, view=MODAL)
    assert error_of(client.views_open, trigger_id=fresh, view=MODAL).response["error"] == (
        "expired_trigger_id"
    )
    unknown = error_of(client.views_open, trigger_id="123.456.abc", view=MODAL)
    assert unknown.response["error"] == "invalid_trigger_id"
    assert len(emulator.views_opened()) == 1


def test_home_tab_publish_and_hash(emulator: SlackEmulator, client: WebClient) -> None:
    assert emulator.home_view("U01ALICE") is None
    first = client.views_publish(user_id="U01ALICE", view=HOME)["view"]
    assert emulator.home_view("U01ALICE") == first
    second_home = {**HOME, "blocks": HOME["blocks"] * 2}
    second = client.views_publish(user_id="U01ALICE", view=second_home, hash=first["hash"])
    assert (
        second["view"]["id"] == first["id"] and len(emulator.home_view("U01ALICE")["blocks"]) == 2
    )
    stale = error_of(client.views_publish, user_id="U01ALICE", view=HOME, hash=first["hash"])
    assert stale.response["error"] == "hash_conflict"
    assert len(emulator.home_view("U01ALICE")["blocks"]) == 2
    client.views_publish(user_id="U01ALICE", view=HOME)  # no hash: last write wins
    assert len(emulator.home_view("U01ALICE")["blocks"]) == 1
    assert error_of(client.views_publish, user_id="U404", view=HOME).response["error"] == (
        "user_not_found"
    )
    too_big = {**HOME, "blocks": HOME["blocks"] * 101}
    assert error_of(client.views_publish, user_id="U02BOB", view=too_big).response["error"] == (
        "invalid_arguments"
    )


def test_rate_limit_answers_429_with_retry_after(
    emulator: SlackEmulator, client: WebClient, clock: FakeClock
) -> None:
    emulator.set_rate_limit("chat.postMessage", 2)
    client.chat_postMessage(channel="C0GENERAL", text="1")
    clock.advance(10)
    client.chat_postMessage(channel="C0GENERAL", text="2")
    err = error_of(client.chat_postMessage, channel="C0GENERAL", text="3")
    assert err.response.status_code == 429 and err.response["error"] == "ratelimited"
    assert int(err.response.headers["Retry-After"]) == 50
    clock.advance(50)
    client.chat_postMessage(channel="C0GENERAL", text="3")
    assert [m["text"] for m in emulator.messages("C0GENERAL")] == ["1", "2", "3"]
    client.users_info(user="U01ALICE")  # limits are per method
    emulator.set_rate_limit("chat.postMessage", None)
    client.chat_postMessage(channel="C0GENERAL", text="4")


def test_rate_limit_retry_handler_recovers(
    emulator: SlackEmulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slack_sdk sleeps Retry-After seconds; here its sleep moves the emulator's clock."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=sleep))
    limited = SlackEmulator(clock=clock, rate_limits={"chat.update": 1})
    with limited:
        client = WebClient(
            token=limited.bot_token,
            base_url=limited.api_url,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
        )
        posted = client.chat_postMessage(channel="C0GENERAL", text="x")
        client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="y")
        client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="z")
        assert [c.status for c in limited.calls_to("chat.update")] == [200, 429, 200]
        assert 60 <= slept[0] < 61
        assert limited.message("C0GENERAL", posted["ts"])["text"] == "z"


def test_fail_next_with_status_and_retry_after(emulator: SlackEmulator, client: WebClient) -> None:
    emulator.fail_next("chat.postMessage", times=2)
    for _ in range(2):
        err = error_of(client.chat_postMessage, channel="C0GENERAL", text="x")
        assert err.response.status_code == 500 and err.response["error"] == "internal_error"
    client.chat_postMessage(channel="C0GENERAL", text="x")
    emulator.fail_next("views.publish", status=429, error="ratelimited", retry_after=7)
    err = error_of(client.views_publish, user_id="U01ALICE", view=HOME)
    assert err.response.status_code == 429 and err.response.headers["Retry-After"] == "7"
    assert [c.status for c in emulator.calls_to("chat.postMessage")] == [500, 500, 200]


def test_server_error_retry_handler_recovers(emulator: SlackEmulator) -> None:
    emulator.fail_next("chat.postMessage", error="fatal_error", status=503)
    client = WebClient(
        token=emulator.bot_token,
        base_url=emulator.api_url,
        retry_handlers=[ServerErrorRetryHandler(interval_calculator=NO_WAIT)],
    )
    client.chat_postMessage(channel="C0GENERAL", text="x")
    assert len(emulator.messages("C0GENERAL")) == 1


def test_dropped_connection(emulator: SlackEmulator, client: WebClient) -> None:
    emulator.fail_next("chat.postMessage", drop_connection=True)
    with pytest.raises(ConnectionError):
        client.chat_postMessage(channel="C0GENERAL", text="lost")
    assert emulator.messages("C0GENERAL") == []
    assert emulator.calls_to("chat.postMessage")[0].status == 0

    emulator.fail_next("chat.postMessage", drop_connection=True)
    retrying = WebClient(
        token=emulator.bot_token,
        base_url=emulator.api_url,
        retry_handlers=[ConnectionErrorRetryHandler(interval_calculator=NO_WAIT)],
    )
    retrying.chat_postMessage(channel="C0GENERAL", text="kept")
    assert [m["text"] for m in emulator.messages("C0GENERAL")] == ["kept"]


def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_response_url(emulator: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U01ALICE", text="Rate", blocks=buttons("1"))
    url = emulator.response_url(channel=posted["channel"], message_ts=posted["ts"], user="U01ALICE")
    assert post_json(url, {"text": "Saved, thanks"}) == (200, {"ok": True})
    assert [e["text"] for e in emulator.ephemerals("U01ALICE")] == ["Saved, thanks"]

    assert post_json(url, {"replace_original": True, "text": "Answered: 1"})[0] == 200
    message = emulator.message(posted["channel"], posted["ts"])
    assert (message["text"], message["blocks"]) == ("Answered: 1", [])

    status, body = post_json(url, {"replace_original": True, "blocks": buttons("z" * 80)})
    assert (status, body["error"]) == (400, "invalid_blocks")
    assert post_json(url, {"response_type": "in_channel", "text": "Public"})[0] == 200
    assert post_json(url, {"delete_original": True})[0] == 200
    assert [m["text"] for m in emulator.messages("U01ALICE")] == ["Public"]
    assert len(emulator.response_posts()) == 5
    assert post_json(emulator.base_url + "/response/unknown", {"text": "x"})[0] == 404


def test_reset_keeps_users_and_channels(emulator: SlackEmulator, client: WebClient) -> None:
    client.chat_postMessage(channel="C0ESCALATE", text="x")
    emulator.fail_next("auth.test")
    emulator.reset()
    assert emulator.calls == [] and emulator.messages("C0ESCALATE") == []
    client.auth_test()
    assert client.users_info(user="U01ALICE")["user"]["name"] == "alice"
    client.chat_postMessage(channel="C0ESCALATE", text="y")


def test_view_submission_answers(emulator: SlackEmulator, client: WebClient) -> None:
    """What Slack does with the app's ack to a view_submission."""
    first = client.views_open(trigger_id=emulator.issue_trigger_id(), view=MODAL)["view"]
    emulator.apply_view_response(first["id"], {"response_action": "push", "view": MODAL})
    pushed = emulator.views_opened()[-1]
    assert pushed["previous_view_id"] == first["id"] and emulator.is_view_open(pushed["id"])
    bad = {**MODAL, "blocks": []}
    bad.pop("title")
    with pytest.raises(ValueError, match="title: is required"):
        emulator.apply_view_response(pushed["id"], {"response_action": "update", "view": bad})
    emulator.apply_view_response(pushed["id"], None)
    assert not emulator.is_view_open(pushed["id"]) and emulator.is_view_open(first["id"])
    emulator.apply_view_response(first["id"], {"response_action": "clear"})
    assert not emulator.is_view_open(first["id"])
