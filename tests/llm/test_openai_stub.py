"""The OpenAI stub must look like OpenAI to the real client, or the LLM tests prove nothing."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import pytest

from bot.sandbox.openai_stub import DEFAULT_SUMMARY, OpenAIStub, default_responder

KEY = "sk-stub-key"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=KEY) as server:
        yield server


def client_for(stub: OpenAIStub, *, key: str = KEY, timeout: float = 2.0) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=stub.base_url, timeout=timeout, max_retries=0)


def schema_format(value: dict) -> dict:
    schema = {
        "type": "object",
        "properties": {
            "value": value,
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rationale": {"type": "string"},
        },
        "required": ["value", "confidence", "rationale"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "t", "strict": True, "schema": schema}}


def test_real_client_parses_the_completion(stub: OpenAIStub) -> None:
    completion = client_for(stub).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.index == 0
    assert choice.message.role == "assistant" and choice.message.refusal is None
    assert choice.message.content == DEFAULT_SUMMARY  # no schema asked: plain text
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert stub.requests == [{"model": "gpt-4o-mini", "messages": MESSAGES}]


def test_wrong_or_missing_key_gets_401_without_echo(stub: OpenAIStub) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(stub, key="sk-wrong-SECRET").chat.completions.create(
            model="m", messages=MESSAGES
        )
    assert "SECRET" not in str(caught.value)
    request = urllib.request.Request(f"{stub.base_url}/chat/completions", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as no_auth:
        urllib.request.urlopen(request, timeout=2)
    assert no_auth.value.code == 401
    assert json.loads(no_auth.value.read())["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("value_schema", "expected"),
    [
        ({"type": "string", "enum": ["billing", "bug"]}, "billing"),
        ({"type": "array", "items": {"type": "string", "enum": ["x", "y"]}}, ["x"]),
        (
            {
                "type": "object",
                "properties": {"helpfulness": {"type": "integer", "minimum": 1, "maximum": 7}},
            },
            {"helpfulness": 4},
        ),
        ({"type": "string"}, "the answer to fix"),
    ],
)
def test_default_responder_fills_the_schema(value_schema: dict, expected: object) -> None:
    request = {
        "messages": [
            {"role": "user", "content": "Fix:\n<response>\nthe answer to fix\n</response>"}
        ],
        "response_format": schema_format(value_schema),
    }
    answer = default_responder(request)
    assert isinstance(answer, dict)
    assert (answer["value"], answer["confidence"]) == (expected, 0.6)
    assert isinstance(answer["rationale"], str) and answer["rationale"]


def test_default_correction_copies_the_last_assistant_message() -> None:
    request = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "first"},
            {"role": "assistant", "content": "last"},
        ],
        "response_format": schema_format({"type": "string"}),
    }
    assert default_responder(request)["value"] == "last"


def test_custom_responder_json_and_raw_strings(stub: OpenAIStub) -> None:
    client = client_for(stub)
    stub.responder = lambda request: {"echo": request["model"]}
    content = client.chat.completions.create(model="m1", messages=MESSAGES).choices[0]
    assert json.loads(content.message.content or "") == {"echo": "m1"}
    stub.responder = lambda request: "not { json"
    raw = client.chat.completions.create(model="m1", messages=MESSAGES).choices[0]
    assert raw.message.content == "not { json"


def test_fail_next_429_with_retry_after_then_recovers(stub: OpenAIStub) -> None:
    client = client_for(stub)
    stub.fail_next(status=429, retry_after=1.5, times=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert caught.value.response.headers["retry-after"] == "1.5"
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices
    assert len(stub.requests) == 3


def test_fail_next_server_errors_in_order(stub: OpenAIStub) -> None:
    client = client_for(stub)
    stub.fail_next(status=500)
    stub.fail_next(status=503)
    for status in (500, 503):
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert caught.value.status_code == status
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices


def test_fail_next_malformed_body(stub: OpenAIStub) -> None:
    stub.fail_next(status=200, body="{truncated")
    with pytest.raises(json.JSONDecodeError):
        client_for(stub).chat.completions.create(model="m", messages=MESSAGES)


def test_slow_answer_times_out_the_client_and_stub_keeps_serving(stub: OpenAIStub) -> None:
    stub.fail_next(status=200, delay_s=1.0)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client_for(stub, timeout=0.2).chat.completions.create(model="m", messages=MESSAGES)
    assert time.monotonic() - started < 0.8
    stub.fail_next(status=200, delay_s=0.05)  # slow but within the timeout: a good answer
    assert client_for(stub).chat.completions.create(model="m", messages=MESSAGES).choices


def test_responder_error_is_a_500(stub: OpenAIStub) -> None:
    def broken(request: dict) -> dict:
        raise RuntimeError("boom")

    stub.responder = broken
    with pytest.raises(openai.InternalServerError):
        client_for(stub).chat.completions.create(model="m", messages=MESSAGES)


def test_unknown_path_is_404(stub: OpenAIStub) -> None:
    request = urllib.request.Request(f"{stub.base_url}/embeddings", data=b"{}", method="POST")
    request.add_header("Authorization", f"Bearer {KEY}")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=2)
    assert caught.value.code == 404


def test_stop_really_stops_even_kept_alive_connections() -> None:
    stub = OpenAIStub(api_key=KEY).start()
    assert stub.start() is stub  # idempotent
    client = client_for(stub, timeout=0.5)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices
    stub.stop()
    stub.stop()  # idempotent
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=MESSAGES)


def test_fail_next_rejects_zero_times(stub: OpenAIStub) -> None:
    with pytest.raises(ValueError):
        stub.fail_next(times=0)
