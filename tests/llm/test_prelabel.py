"""Pre-labels and summaries through the real openai client against the local stub.

The stub is a real HTTP server, so these tests cover what mocks would hide: status
handling, timeouts, response parsing, Retry-After, and the key never leaking.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config.project import ProjectConfig, parse_project
from bot.kinds.registry import kind_named
from bot.llm import (
    PreLabel,
    PreLabelFailed,
    SummaryFailed,
    make_openai_client,
    prelabel_item,
    prelabel_many,
    prompt_template_hash,
    summarize_disagreement,
)
from bot.llm.client import LLMUnavailable
from bot.llm.prelabel import render_messages, response_format
from bot.sandbox.openai_stub import OpenAIStub
from tests.factories import kind_settings

KEY = "sk-test-SECRET123"
CONVERSATION = [
    {"role": "user", "content": "I was charged twice for my subscription"},
    {"role": "assistant", "content": "Sorry about that! I have refunded the second charge."},
]
PAIR = {
    "prompt": [{"role": "user", "content": "Explain DNS in one line"}],
    "responses": [
        {"id": "a", "content": "DNS maps names to IP addresses.", "model": "m1"},
        {"id": "b", "content": "It is a network thing.", "model": "m2"},
    ],
}


def project(kind: str = "label", **overrides: Any) -> ProjectConfig:
    data: dict[str, Any] = {
        "name": f"test-{kind}",
        "kind": kind,
        "question": "Which team should handle this conversation?",
        "reviewers": ["U01ALICE", "U02BOB", "U03CARA"],
        "llm": {"enabled": True, "timeout_s": 2.0, "max_retries": 2},
    }
    settings = kind_settings(kind)  # what the kind needs, with this test's own values
    if "labels" in settings:
        settings["labels"] = ["billing", "bug", "account", "other"]
    if "criteria" in settings:
        settings.update(criteria=["helpfulness", "correctness"], scale={"min": 1, "max": 5})
    data.update(settings)
    llm = overrides.pop("llm", {})
    data.update(overrides)
    data["llm"] = {**data["llm"], **llm}
    return parse_project(data)


class Sleeps(list):
    """A `sleep` that records instead of waiting, so retries cost no test time."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=KEY) as server:
        yield server


@pytest.fixture
def client(stub: OpenAIStub) -> Any:
    return make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=2.0)


def answer(value: object, confidence: float = 0.9, rationale: str = "because") -> dict:
    return {"value": value, "confidence": confidence, "rationale": rationale}


# --- a good pre-label for each kind -------------------------------------------------------


def test_label_prelabel_sends_strict_schema_and_prompt(stub: OpenAIStub, client: Any) -> None:
    stub.responder = lambda request: answer("billing", 0.83, "Double charge.")
    config = project("label", description="Refunds and charges are billing.")
    result = prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())

    assert result == PreLabel(
        value="billing",
        confidence=0.83,
        rationale="Double charge.",
        model=config.llm.model,
        prompt_name="prelabel.j2",
        prompt_hash=prompt_template_hash("prelabel.j2"),
        raw_output=json.dumps(answer("billing", 0.83, "Double charge.")),
        attempts=1,
    )
    request = stub.requests[0]
    assert request["model"] == "gpt-4o-mini"
    assert request["temperature"] == 0.0
    fmt = request["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["value", "confidence", "rationale"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["value"]["enum"] == ["billing", "bug", "account", "other"]
    system, user = request["messages"]
    assert system["role"] == "system" and user["role"] == "user"
    assert "Which team should handle this conversation?" in user["content"]
    assert "Refunds and charges are billing." in user["content"]
    assert "- account" in user["content"]
    assert "I was charged twice for my subscription" in user["content"]


def test_multi_label_prelabel_uses_an_array_schema(stub: OpenAIStub, client: Any) -> None:
    stub.responder = lambda request: answer(["billing", "account", "billing"])
    config = project("label", multi_label=True)
    result = prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())
    assert result.value == ["billing", "account"]
    value_schema = stub.requests[0]["response_format"]["json_schema"]["schema"]["properties"]
    assert value_schema["value"]["type"] == "array"
    assert value_schema["value"]["items"]["enum"] == ["billing", "bug", "account", "other"]


def test_rating_prelabel_scores_each_criterion(stub: OpenAIStub, client: Any) -> None:
    config = project("rating", scale={"min": 1, "max": 7})
    result = prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())
    # The stub's default answer: the midpoint of the scale from the request's schema.
    assert result.value == {"helpfulness": 4, "correctness": 4}
    assert result.confidence == 0.6
    value = stub.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["value"]
    assert value["required"] == ["helpfulness", "correctness"]
    assert value["properties"]["helpfulness"] == {"type": "integer", "minimum": 1, "maximum": 7}
    user = stub.requests[0]["messages"][-1]["content"]
    assert "<response>\nSorry about that! I have refunded the second charge.\n</response>" in user
    assert "- helpfulness" in user and "from 1 to 7" in user


def test_preference_prelabel_offers_only_allowed_answers(stub: OpenAIStub, client: Any) -> None:
    stub.responder = lambda request: answer("both_bad", 0.7)
    config = project("preference", allow_tie=False, allow_both_bad=True)
    result = prelabel_item(client, config, PAIR, sleep=Sleeps())
    assert result.value == "both_bad"
    value = stub.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["value"]
    assert value["enum"] == ["A", "B", "both_bad"]
    user = stub.requests[0]["messages"][-1]["content"]
    assert "DNS maps names to IP addresses." in user and "It is a network thing." in user
    assert "m1" not in user  # model names would bias the judge


def test_ranking_prelabel_orders_every_response_by_letter(stub: OpenAIStub, client: Any) -> None:
    three = {**PAIR, "responses": [*PAIR["responses"], {"id": "c", "content": "Names."}]}
    stub.responder = lambda request: answer(["A", "C", "B"], 0.6)
    config = project("ranking")
    result = prelabel_item(client, config, three, sleep=Sleeps())
    assert result.value == ["A", "C", "B"]
    user = stub.requests[0]["messages"][-1]["content"]
    assert "Response C:" in user and "best first" in user and "m1" not in user
    # Letters are positions in the item's order; people's labels name response ids.
    assert kind_named("ranking").model_agrees(three, result.value, ["a", "c", "b"])
    stub.responder = lambda request: answer(["A", "A", "B"], 0.6)
    with pytest.raises(PreLabelFailed, match="does not rank each response once"):
        prelabel_item(client, config, three, sleep=Sleeps())


def test_correction_prelabel_returns_the_corrected_text(stub: OpenAIStub, client: Any) -> None:
    config = project("correction")
    result = prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())
    # The stub's default copies the response under correction.
    assert result.value == "Sorry about that! I have refunded the second charge."
    value = stub.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["value"]
    assert value["type"] == "string"


# --- malformed output ---------------------------------------------------------------------


def test_malformed_json_then_good_answer_is_retried(stub: OpenAIStub, client: Any) -> None:
    replies = iter(['{"value": "billing", "confidence": ', answer("bug", 0.55)])
    stub.responder = lambda request: next(replies)
    sleeps = Sleeps()
    result = prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=sleeps)
    assert (result.value, result.attempts) == ("bug", 2)
    assert sleeps == [0.5]


def test_malformed_http_body_is_retried(stub: OpenAIStub, client: Any) -> None:
    stub.fail_next(status=200, body="{this is not json")
    result = prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=Sleeps())
    assert result.attempts == 2


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        ({"value": "billing", "rationale": "x"}, "confidence missing"),
        (answer("refund"), 'label "refund" not in the label set'),
        (answer("billing", 1.5), "confidence 1.5 outside 0..1"),
        ("Sure! It is billing.", "not JSON"),
    ],
)
def test_always_malformed_fails_with_readable_reason(
    stub: OpenAIStub, client: Any, reply: object, detail: str
) -> None:
    stub.responder = lambda request: reply
    sleeps = Sleeps()
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=sleeps)
    assert caught.value.reason == f"pre-label failed: malformed output ({detail}) after 3 attempts"
    assert len(stub.requests) == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff from 0.5 s


def test_rating_score_out_of_range_is_malformed(stub: OpenAIStub, client: Any) -> None:
    stub.responder = lambda request: answer({"helpfulness": 6, "correctness": 3})
    config = project("rating", llm={"max_retries": 0})
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())
    assert caught.value.reason == (
        'pre-label failed: malformed output (score 6 for "helpfulness" outside 1..5)'
    )


# --- transient HTTP failures --------------------------------------------------------------


def test_rate_limit_honours_retry_after(stub: OpenAIStub, client: Any) -> None:
    stub.fail_next(status=429, retry_after=2.5)
    sleeps = Sleeps()
    result = prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=sleeps)
    assert result.attempts == 2
    assert sleeps == [2.5]


def test_server_errors_exhaust_retries(stub: OpenAIStub, client: Any) -> None:
    stub.fail_next(status=500, times=2)
    stub.fail_next(status=503, times=5)
    sleeps = Sleeps()
    config = project(llm={"max_retries": 3})
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=sleeps)
    assert caught.value.reason == "pre-label failed: server error (HTTP 503) after 4 attempts"
    assert caught.value.attempts == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(stub.requests) == 4


def test_timeout_is_retried_then_reported(stub: OpenAIStub) -> None:
    client = make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=0.2)
    config = project(llm={"timeout_s": 0.2, "max_retries": 1})
    stub.fail_next(status=200, delay_s=1.0, times=1)
    started = time.monotonic()
    result = prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())
    assert result.attempts == 2

    stub.fail_next(status=200, delay_s=1.0, times=2)
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, config, {"conversation": CONVERSATION}, sleep=Sleeps())
    assert caught.value.reason == "pre-label failed: timeout after 2 attempts"
    assert time.monotonic() - started < 2.0  # three 0.2 s timeouts, not the 1 s delays


def test_unreachable_server_is_a_connection_error() -> None:
    with OpenAIStub(api_key=KEY) as gone:
        base_url = gone.base_url
    client = make_openai_client(api_key=KEY, base_url=base_url, timeout_s=0.5)
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=Sleeps())
    assert caught.value.reason == (
        "pre-label failed: cannot connect to the LLM server after 3 attempts"
    )


# --- credentials --------------------------------------------------------------------------


def test_wrong_key_fails_at_once_without_showing_it(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-test-SECRET123-wrong"
    client = make_openai_client(api_key=wrong, base_url=stub.base_url, timeout_s=2.0)
    sleeps = Sleeps()
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=sleeps)
    reason = caught.value.reason
    assert reason == "pre-label failed: authentication failed (HTTP 401): check OPENAI_API_KEY"
    assert len(stub.requests) == 1 and sleeps == []  # no retry
    # No chained openai exception: it would carry the request and its Authorization header.
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    for text in (reason, str(caught.value), caplog.text):
        assert "SECRET123" not in text


def test_key_never_in_logs_or_reasons_across_failures(
    stub: OpenAIStub, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub.fail_next(status=429, retry_after=0)
    stub.fail_next(status=500)
    # A server that echoes the key in its error message must not leak it either.
    stub.fail_next(status=400, body=json.dumps({"error": {"message": f"bad key {KEY} here"}}))
    with pytest.raises(PreLabelFailed) as caught:
        prelabel_item(client, project(), {"conversation": CONVERSATION}, sleep=Sleeps())
    assert caught.value.reason.startswith("pre-label failed: request rejected (HTTP 400)")
    assert "redacted" in caught.value.reason
    assert "rate limited (HTTP 429)" in caplog.text and "server error (HTTP 500)" in caplog.text
    for text in (caught.value.reason, str(caught.value), caplog.text):
        assert KEY not in text and "SECRET123" not in text


def test_client_accepts_the_settings_secret(stub: OpenAIStub) -> None:
    from pydantic import SecretStr

    client = make_openai_client(api_key=SecretStr(KEY), base_url=stub.base_url, timeout_s=2.0)
    assert prelabel_item(client, project(), {"conversation": CONVERSATION}).attempts == 1


def test_missing_key_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    with pytest.raises(LLMUnavailable, match="OPENAI_API_KEY"):
        make_openai_client(api_key=None, base_url="http://127.0.0.1:9/v1", timeout_s=1.0)


# --- content and templates ----------------------------------------------------------------


def test_item_without_assistant_turn_fails_without_calling(stub: OpenAIStub, client: Any) -> None:
    content = {"conversation": [{"role": "user", "content": "hello"}]}
    with pytest.raises(PreLabelFailed, match="needs an assistant turn to rate"):
        prelabel_item(client, project("rating"), content, sleep=Sleeps())
    assert stub.requests == []


def test_prompt_hash_is_the_template_files_sha256() -> None:
    import hashlib

    from bot.llm.prelabel import prompts_dir

    path = prompts_dir() / "llm" / "prelabel.j2"
    assert prompt_template_hash("prelabel.j2") == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prompt_template_hash("summary.j2") != prompt_template_hash("prelabel.j2")


def test_templates_render_sample_text_verbatim() -> None:
    config = project("label")
    tricky = "<!channel> {{ not_a_variable }} & <b>"
    from bot.llm.prelabel import item_variables

    content = {"conversation": [{"role": "user", "content": tricky}]}
    messages, _ = render_messages("prelabel.j2", item_variables(config, content))
    assert tricky in messages[-1]["content"]  # autoescape off; data is never templated
    assert response_format(config)["json_schema"]["name"] == "quorum_label_prelabel"


# --- many items ---------------------------------------------------------------------------


def test_prelabel_many_bounds_concurrency_and_reports_each_item(stub: OpenAIStub) -> None:
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def slow_responder(request: dict) -> dict:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return answer("bug", 0.7)

    stub.responder = slow_responder
    stub.fail_next(status=500)  # one item needs a retry; the batch still completes
    client = make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=2.0)
    config = project(llm={"concurrency": 3})
    contents = {item_id: {"conversation": CONVERSATION} for item_id in range(1, 11)}
    contents[11] = {"conversation": []}  # bad content: a failure, not a crash
    results: dict[int, PreLabel | PreLabelFailed] = {}
    callback_threads = set()

    def on_result(item_id: int, result: PreLabel | PreLabelFailed) -> None:
        callback_threads.add(threading.get_ident())
        results[item_id] = result

    prelabel_many(client, config, contents, on_result=on_result, sleep=Sleeps())

    assert sorted(results) == list(range(1, 12))
    assert all(isinstance(results[i], PreLabel) for i in range(1, 11))
    assert isinstance(results[11], PreLabelFailed)
    assert "conversation" in results[11].reason
    assert sorted(r.attempts for r in results.values() if isinstance(r, PreLabel))[-1] == 2
    assert 2 <= peak <= 3
    assert callback_threads == {threading.get_ident()}


# --- summaries ----------------------------------------------------------------------------


def test_summarize_disagreement_returns_the_stub_text(stub: OpenAIStub, client: Any) -> None:
    text = (
        "Two reviewers chose billing and one chose account.  \n"
        "The lead must decide whether a refund request is an account change."
    )
    stub.responder = lambda request: text
    answers = [
        {"reviewer": "U01ALICE", "value": "billing", "rationale": "double charge"},
        {"reviewer": "U02BOB", "value": "billing", "rationale": None},
        {"reviewer": "U03CARA", "value": "account", "rationale": "subscription change"},
    ]
    summary = summarize_disagreement(client, project(), {"conversation": CONVERSATION}, answers)
    assert summary == " ".join(text.split())
    request = stub.requests[0]
    assert "response_format" not in request
    user = request["messages"][-1]["content"]
    assert "U03CARA: account" in user and 'reason: "subscription change"' in user
    assert "I was charged twice" in user


def test_summary_of_ratings_and_default_stub_text(stub: OpenAIStub, client: Any) -> None:
    answers = [
        {"reviewer": "U01ALICE", "value": {"helpfulness": 5, "correctness": 2}},
        {"reviewer": "U02BOB", "value": {"helpfulness": 2, "correctness": 2}},
    ]
    summary = summarize_disagreement(
        client, project("rating"), {"conversation": CONVERSATION}, answers
    )
    assert summary.startswith("Reviewers disagree")
    assert "helpfulness 5, correctness 2" in stub.requests[0]["messages"][-1]["content"]


def test_summary_failure_is_a_readable_reason(stub: OpenAIStub, client: Any) -> None:
    stub.fail_next(status=503, times=3)
    with pytest.raises(SummaryFailed) as caught:
        summarize_disagreement(
            client, project(), {"conversation": CONVERSATION}, [], sleep=Sleeps()
        )
    assert caught.value.reason == "summary failed: server error (HTTP 503) after 3 attempts"
