"""Pre-labels of media items see what reviewers see: the renditions in the media store go
to the model as `image_url` parts, through the real openai client against the stub, which
refuses a malformed image the way OpenAI does."""

from __future__ import annotations

import base64
import io
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PIL import Image
from sqlmodel import Session, select

import bot.llm.vision as vision
from bot.config.project import ProjectConfig
from bot.intake.media import MediaIntake
from bot.intake.staging import StagedItem, stage_item
from bot.kinds.registry import kind_of
from bot.llm import PreLabel, make_openai_client, prelabel_item, prompt_template_hash
from bot.media.store import MediaStore
from bot.runtime.context import QuorumContext
from bot.sandbox.openai_stub import OpenAIStub, data_uri_bytes, demo_responder, image_parts
from bot.workflow.intake.prelabel import prelabel_pending
from storage.models import Event, Item, PreLabelRecord
from tests.factories import apply, import_file, label_config, make_settings, write_items
from tests.media.builders import pdf_bytes, png_bytes

KEY = "sk-test-VISION-SECRET-7"
LABELS = ["normal", "anomaly", "other"]
PREDICTION = {"label": "anomaly", "confidence": 0.52, "model": "m-v1"}
CLAUSES = [f"Clause {n}: the parties agree to term {n}." for n in range(1, 6)]


def answer(request: dict) -> dict:
    return {"value": "anomaly", "confidence": 0.7, "rationale": "It looks off."}


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=KEY, responder=answer) as server:
        yield server


@pytest.fixture
def client(stub: OpenAIStub) -> Any:
    return make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=2.0)


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore.open(tmp_path / "store")


def project(**llm: object) -> ProjectConfig:
    settings = {"enabled": True, "timeout_s": 2.0, "max_retries": 0, **llm}
    return label_config(
        name="scans", labels=LABELS, question="Does the sample show an anomaly?", llm=settings
    )


def imported(folder: Path, store: MediaStore, item: dict) -> dict:
    """The item's content as an import stores it: its medium fetched, checked, rendered
    and written to `store`, its stored facts (sha256, pages, text layer) in the content."""
    config = project()
    record = kind_of(config).record_for(item).model_validate(item)
    intake = MediaIntake(store, base_dir=folder)
    try:
        [staged] = list(intake.resolve([stage_item(1, record)]))
        assert isinstance(staged, StagedItem), staged
        intake.store_staged()
    finally:
        intake.close()
    return staged.content


def scan_item(folder: Path) -> dict:
    # Wider than the display rendition's 1600 px, so what reviewers see is a downscaled
    # copy and differs from the original bytes.
    (folder / "scan.png").write_bytes(png_bytes(2400, 600, colour="navy"))
    return {"id": "s-1", "image": {"src": "scan.png", "alt": "A scan"}, "prediction": PREDICTION}


def document_item(folder: Path) -> dict:
    (folder / "nda.pdf").write_bytes(pdf_bytes(CLAUSES))
    return {
        "id": "d-1",
        "document": {"src": "nda.pdf"},
        "text": "Is clause 4 standard?",
        "prediction": PREDICTION,
    }


def user_message(request: dict) -> dict:
    [user] = [m for m in request["messages"] if m["role"] == "user"]
    return user


def sent_images(request: dict) -> list[bytes]:
    return [data_uri_bytes(part["image_url"]["url"])[1] for part in image_parts(request)]


def sent_text(request: dict) -> str:
    content = user_message(request)["content"]
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part["type"] == "text")


# --- what the model is sent ---------------------------------------------------------------


def test_an_image_item_sends_the_display_rendition_reviewers_see(
    stub: OpenAIStub, client: Any, store: MediaStore, tmp_path: Path
) -> None:
    content = imported(tmp_path, store, scan_item(tmp_path))
    sha256 = content["image"]["sha256"]

    result = prelabel_item(client, project(), content, media=store)

    [request] = stub.requests
    text_part, image_part = user_message(request)["content"]
    assert text_part["type"] == "text" and image_part["type"] == "image_url"
    assert "Does the sample show an anomaly?" in text_part["text"]
    assert "1 image of the sample" in text_part["text"]
    assert "the image itself" in text_part["text"]
    mime, data = data_uri_bytes(image_part["image_url"]["url"])
    assert mime == "image/png"
    assert data == store.get_derived(sha256, "display")
    assert data != store.get(sha256)  # the downscaled copy, not the 2400 px original
    assert Image.open(io.BytesIO(data)).size == (1600, 400)
    assert isinstance(result, PreLabel) and result.value == "anomaly"
    assert result.images == (f"{sha256}:display",)


def test_a_document_sends_its_text_layer_and_page_images(
    stub: OpenAIStub, client: Any, store: MediaStore, tmp_path: Path
) -> None:
    content = imported(tmp_path, store, document_item(tmp_path))
    sha256 = content["document"]["sha256"]

    result = prelabel_item(client, project(), content, media=store)

    [request] = stub.requests
    text = sent_text(request)
    assert "Is clause 4 standard?" in text
    assert "Clause 5: the parties agree to term 5." in text  # beyond the pages shown
    for page in (1, 2, 3):
        assert f"{page}. page {page} of 5 of the document" in text
    pages = [store.get_derived(sha256, f"page-{n}") for n in (1, 2, 3)]
    assert sent_images(request) == pages  # the first three pages, in order
    assert result.images == tuple(f"{sha256}:page-{n}" for n in (1, 2, 3))


def test_the_prompt_hash_covers_the_images_sent(
    stub: OpenAIStub, client: Any, store: MediaStore, tmp_path: Path
) -> None:
    first = imported(tmp_path, store, scan_item(tmp_path))
    (tmp_path / "other.png").write_bytes(png_bytes(300, 200, colour="red"))
    other = imported(tmp_path, store, {**scan_item(tmp_path), "image": {"src": "other.png"}})

    with_first = prelabel_item(client, project(), first, media=store)
    again = prelabel_item(client, project(), first, media=store)
    with_other = prelabel_item(client, project(), other, media=store)
    text_only = prelabel_item(client, project(send_images=False), first, media=store)

    assert with_first.prompt_hash == again.prompt_hash  # the same prompt, the same version
    assert with_first.prompt_hash != with_other.prompt_hash
    assert with_first.prompt_hash != prompt_template_hash("prelabel.j2")
    assert text_only.prompt_hash == prompt_template_hash("prelabel.j2")


def test_send_images_false_sends_the_text_alone(
    stub: OpenAIStub, client: Any, store: MediaStore, tmp_path: Path
) -> None:
    content = imported(tmp_path, store, document_item(tmp_path))

    result = prelabel_item(client, project(send_images=False), content, media=store)

    [request] = stub.requests
    assert image_parts(request) == []
    assert all(isinstance(m["content"], str) for m in request["messages"])
    assert "Clause 4: the parties agree to term 4." in sent_text(request)
    assert "Attached below" not in sent_text(request)
    assert result.images == ()


def test_a_conversation_item_is_sent_as_before(stub: OpenAIStub, client: Any) -> None:
    content = {"conversation": [{"role": "user", "content": "My scan upload keeps failing"}]}

    result = prelabel_item(client, project(), content, media=None)

    [request] = stub.requests
    assert isinstance(user_message(request)["content"], str)
    assert result.prompt_hash == prompt_template_hash("prelabel.j2") and result.images == ()


# --- what cannot be sent ------------------------------------------------------------------


def test_a_missing_page_rendition_is_left_out_and_logged(
    stub: OpenAIStub,
    client: Any,
    store: MediaStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    content = imported(tmp_path, store, document_item(tmp_path))
    sha256 = content["document"]["sha256"]
    (Path(store.location) / store.derived(sha256, "page-2")).unlink()

    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        result = prelabel_item(client, project(), content, media=store)

    assert result.value == "anomaly"
    [request] = stub.requests
    pages = [store.get_derived(sha256, f"page-{n}") for n in (1, 3)]
    assert sent_images(request) == pages
    assert result.images == (f"{sha256}:page-1", f"{sha256}:page-3")
    assert "1 more image that reviewers see could not be attached" in sent_text(request)
    [warning] = [r.getMessage() for r in caplog.records if "page-2" in r.getMessage()]
    assert "scans" in warning and sha256[:12] in warning and "sent without" in warning


def test_an_image_without_its_rendition_is_prelabelled_from_its_text(
    stub: OpenAIStub,
    client: Any,
    store: MediaStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    content = imported(tmp_path, store, {**scan_item(tmp_path), "text": "Left knee, lateral"})
    sha256 = content["image"]["sha256"]
    (Path(store.location) / store.derived(sha256, "display")).unlink()

    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        result = prelabel_item(client, project(), content, media=store)

    [request] = stub.requests
    assert image_parts(request) == [] and "Left knee, lateral" in sent_text(request)
    assert result.value == "anomaly" and result.images == ()
    assert result.prompt_hash == prompt_template_hash("prelabel.j2")
    assert any("display" in r.getMessage() for r in caplog.records)


def test_images_over_the_bounds_are_not_sent(
    stub: OpenAIStub,
    client: Any,
    store: MediaStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = imported(tmp_path, store, document_item(tmp_path))
    monkeypatch.setattr(vision, "MAX_IMAGES", 2)
    prelabel_item(client, project(), document, media=store)
    assert len(sent_images(stub.requests[-1])) == 2
    assert "1 more image that reviewers see" in sent_text(stub.requests[-1])

    scan = imported(tmp_path, store, scan_item(tmp_path))
    display = store.get_derived(scan["image"]["sha256"], "display")
    assert display is not None
    monkeypatch.setattr(vision, "MAX_IMAGE_BYTES", len(display) - 1)
    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        result = prelabel_item(client, project(), scan, media=store)
    assert image_parts(stub.requests[-1]) == [] and result.value == "anomaly"
    assert any("MB" in r.getMessage() for r in caplog.records)


# --- through the import and the background pre-labelling ---------------------------------


def test_an_imported_image_is_prelabelled_with_it_from_the_configured_store(
    sqlite_engine: Any, sqlite_url: str, clock: Any, stub: OpenAIStub, tmp_path: Path
) -> None:
    # The real path: `quorum import` writes to QUORUM_MEDIA_STORE, and the background
    # pre-labelling reads the same store without being handed it.
    config = project()
    apply(sqlite_engine, config)
    import_file(
        sqlite_engine, write_items(tmp_path / "items.jsonl", [scan_item(tmp_path)]), "scans"
    )
    settings = make_settings(sqlite_url, openai_api_key=KEY, openai_base_url=stub.base_url)
    ctx = QuorumContext(engine=sqlite_engine, settings=settings, clock=clock, rng=random.Random(1))

    report = prelabel_pending(ctx, sleep=lambda seconds: None)

    assert (report.prelabelled, report.failed) == (1, 0)
    with Session(sqlite_engine) as session:
        item = session.exec(select(Item)).one()
        record = session.exec(select(PreLabelRecord)).one()
        event = session.exec(select(Event).where(Event.kind == "prelabelled")).one()
    sha256 = item.content["image"]["sha256"]
    assert event.data["images"] == [f"{sha256}:display"]  # what the model saw, audited
    store = MediaStore.open(settings.media_store_url())
    assert sent_images(stub.requests[0]) == [store.get_derived(sha256, "display")]
    assert record.value == "anomaly"
    assert record.prompt_hash != prompt_template_hash("prelabel.j2")


# --- the stub takes content parts as OpenAI does ------------------------------------------


def png_uri(data: bytes | None = None) -> str:
    return "data:image/png;base64," + base64.b64encode(data or png_bytes(8, 8)).decode()


def parts_request(image_url: dict, role: str = "user") -> list[dict]:
    return [
        {
            "role": role,
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": image_url},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (base64.b64encode(png_bytes(8, 8)).decode(), "without the 'data:' prefix"),
        ("data:image/png," + base64.b64encode(png_bytes(8, 8)).decode(), "not base64-encoded"),
        ("data:image/png;base64,not*base64!", "invalid base64"),
        ("data:image/png;base64,", "empty base64-encoded bytes"),
        (png_uri(b"%PDF-1.4 not an image"), "unsupported image"),
        ("data:text/plain;base64," + base64.b64encode(png_bytes(8, 8)).decode(), "unsupported"),
    ],
)
def test_a_malformed_data_uri_gets_openais_400(stub: OpenAIStub, url: str, why: str) -> None:
    client = make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=2.0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=parts_request({"url": url}))
    assert caught.value.status_code == 400
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages[0].content[1].image_url.url"
    assert why in error["message"]


def test_the_stub_answers_and_records_good_content_parts(stub: OpenAIStub) -> None:
    client = make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=2.0)
    audio = base64.b64encode(b"RIFF....WAVEfmt ").decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Label these."},
                {"type": "image_url", "image_url": {"url": png_uri(), "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.org/x-ray.png"}},
                {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
            ],
        }
    ]
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert completion.choices[0].message.content
    assert stub.requests[0]["messages"] == messages  # kept as sent, parts and all


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (parts_request({"url": png_uri()}, role="system"), "messages[0].content[1]"),
        ([{"role": "user", "content": []}], "messages[0].content"),
        (
            [{"role": "user", "content": [{"type": "video", "video": {}}]}],
            "messages[0].content[0].type",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "flac"}}
                    ],
                }
            ],
            "messages[0].content[0].input_audio.format",
        ),
    ],
)
def test_the_stub_refuses_parts_openai_refuses(
    stub: OpenAIStub, messages: list[dict], param: str
) -> None:
    client = make_openai_client(api_key=KEY, base_url=stub.base_url, timeout_s=2.0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == param


def test_the_demo_responder_reads_text_parts() -> None:
    schema = {"type": "string", "enum": ["billing", "bug", "account", "feature_request"]}
    request = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Conversation:\n[user]\nI was charged twice"},
                    {"type": "image_url", "image_url": {"url": png_uri()}},
                ],
            }
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "t",
                "schema": {
                    "type": "object",
                    "properties": {
                        "value": schema,
                        "confidence": {"type": "number"},
                        "rationale": {"type": "string"},
                    },
                },
            },
        },
    }
    reply = demo_responder(request)
    assert isinstance(reply, dict) and reply["value"] == "billing"
    assert "mentions this team's topics" in reply["rationale"]


def test_image_parts_of_a_conversation_reach_the_model_named_by_their_turn(
    stub: OpenAIStub, client: Any, store: MediaStore, tmp_path: Path
) -> None:
    (tmp_path / "rash.png").write_bytes(png_bytes(300, 200, colour="red"))
    item = {
        "id": "v-1",
        "conversation": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What does this rash look like?"},
                    {"type": "image_url", "image_url": {"url": "rash.png"}},
                ],
            },
            {"role": "assistant", "content": "Contact dermatitis."},
        ],
        "prediction": PREDICTION,
    }
    content = imported(tmp_path, store, item)
    prelabel_item(client, project(), content, media=store)
    [request] = stub.requests
    assert sent_images(request) == [(tmp_path / "rash.png").read_bytes()]  # shown as stored
    assert "1. the image in turn 1" in sent_text(request)


def test_image_responses_reach_the_model_named_by_their_letter(
    stub: OpenAIStub, client: Any, store: MediaStore, tmp_path: Path
) -> None:
    from tests.factories import kind_config

    (tmp_path / "a.png").write_bytes(png_bytes(40, 40, colour="red"))
    (tmp_path / "b.png").write_bytes(png_bytes(40, 40, colour="blue"))
    config = kind_config(
        "code-preference", llm={"enabled": True, "timeout_s": 2.0, "max_retries": 0}
    )
    item = {
        "id": "g-1",
        "prompt": [{"role": "user", "content": "A red fox in snow"}],
        "responses": [
            {"id": "a", "image": {"src": "a.png"}},
            {"id": "b", "image": {"src": "b.png"}},
        ],
    }
    record = kind_of(config).record_for(item).model_validate(item)
    intake = MediaIntake(store, base_dir=tmp_path)
    [staged] = list(intake.resolve([stage_item(1, record)]))
    intake.store_staged()
    intake.close()
    stub.responder = lambda request: {"value": "A", "confidence": 0.6, "rationale": "redder"}
    prelabel_item(client, config, staged.content, media=store)
    [request] = stub.requests
    assert sent_images(request) == [(tmp_path / n).read_bytes() for n in ("a.png", "b.png")]
    text = sent_text(request)
    assert "1. the image of response A" in text and "2. the image of response B" in text
