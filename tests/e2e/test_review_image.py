"""Images reviewed in Slack: imported once into the media store, uploaded to Slack once
per image through the external upload flow, shown in the review DM itself (only after
Slack has processed the file), answered, signed off and exported with their references."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from bot.intake.importer import ImportRejected, validate_file
from bot.media.store import MediaStore
from bot.runtime.settings import Settings, get_settings
from tests.factories import (
    REVIEWERS,
    apply,
    assert_slack_accepted_everything,
    export_rows,
    image_blocks,
    import_file,
    kind_config,
    labels,
    png_file,
    press,
    settle_until,
    shown,
    texts,
    write_items,
)

LABELS = ["effusion", "normal", "other"]


def image_item(item_id: str, src: str, **extra: object) -> dict:
    return {
        "id": item_id,
        "image": {"src": src, "alt": "Chest X-ray, PA view"},
        "prediction": {"label": "effusion", "confidence": 0.58, "model": "cxr-v2"},
        **extra,
    }


def config():  # type: ignore[no-untyped-def]
    return kind_config("support-intent", labels=LABELS, question="What does the X-ray show?")


def test_an_image_is_uploaded_once_shown_after_processing_and_exported(sandbox, clock, tmp_path):
    sandbox.emulator.file_processing_s = 0.3
    original = png_file(tmp_path / "images" / "cxr-1.png", (200, 30, 30))
    apply_and_import(sandbox, tmp_path, [image_item("cxr-1", "images/cxr-1.png")])
    reviewers = settle_until(
        sandbox,
        clock,
        lambda: len(sent := [r for r in REVIEWERS if sandbox.dm(r)]) == 3 and sent,
        what="three review DMs",
    )
    requests = [sandbox.latest_dm(r) for r in reviewers]
    uploads = sandbox.emulator.calls_to("files.getUploadURLExternal")
    assert len(uploads) == 1  # one upload, shown to every reviewer
    (file_id,) = {image_blocks(r)[0]["slack_file"]["id"] for r in requests}
    assert sandbox.emulator.file_bytes(file_id) == original  # small PNG: shown as it is
    for request in requests:
        (block,) = image_blocks(request)
        assert block["alt_text"] == "Chest X-ray, PA view"
        assert texts(request, block_prefix="answer:")[0] == "Confirm: effusion"
    # Posted only once files.info showed the file processed: Slack refused nothing.
    assert_slack_accepted_everything(sandbox)

    for reviewer in reviewers:
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Confirm: effusion")
    sandbox.settle()
    receipt = sandbox.latest_dm(reviewers[0])
    assert "Recorded *effusion*" in shown(receipt)
    assert image_blocks(receipt)[0]["slack_file"]["id"] == file_id  # still showing the image
    [label] = labels(sandbox)
    assert label.value == "effusion"

    [row] = export_rows(sandbox, tmp_path / "labels.jsonl")
    [reference] = json.loads(row["media"])  # JSON text (docs/exports.md)
    digest = hashlib.sha256(original).hexdigest()
    assert reference == {
        "field": "image",
        "src": "images/cxr-1.png",
        "uri": MediaStore.open(get_settings().media_store_url()).uri(digest),
        "sha256": digest,
        "mime": "image/png",
        "size": len(original),
    }
    assert MediaStore.open(get_settings().media_store_url()).get(digest) == original


def test_a_large_image_is_downscaled_for_slack_and_kept_whole_in_the_store(
    sandbox, clock, tmp_path
):
    sandbox.emulator.file_processing_s = 0.0
    original = png_file(tmp_path / "big.png", (20, 120, 200), size=(3200, 1600))
    apply_and_import(sandbox, tmp_path, [image_item("big-1", "big.png")])
    reviewer = settle_until(
        sandbox, clock, lambda: next((r for r in REVIEWERS if sandbox.dm(r)), None), what="a DM"
    )
    request = sandbox.latest_dm(reviewer)
    shown_file = image_blocks(request)[0]["slack_file"]["id"]
    displayed = Image.open(io.BytesIO(sandbox.emulator.file_bytes(shown_file)))
    assert max(displayed.size) <= 1600 and displayed.size[0] == 2 * displayed.size[1]
    digest = hashlib.sha256(original).hexdigest()
    assert MediaStore.open(get_settings().media_store_url()).get(digest) == original


def apply_and_import(sandbox, tmp_path: Path, items: list[dict]) -> None:
    apply(sandbox.ctx.engine, config())
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))


def pdf_item(item_id: str, src: str) -> dict:
    return {"id": item_id, "document": {"src": src}, "prediction": {"label": "other"}}


@pytest.fixture
def web(tmp_path):  # type: ignore[no-untyped-def]
    """A local HTTP server of tmp_path's files: anything else is a 404."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


BAD_MEDIA = {
    # what is wrong: (write it into the folder and give the item's second record, expected)
    "a missing file": (lambda d, web: image_item("bad-2", "x.png"), "file not found"),
    "a 404 URL": (lambda d, web: image_item("bad-2", f"{web}/gone.png"), "HTTP 404"),
    "a PDF named .png": (
        lambda d, web: (
            (d / "x.png").write_bytes(b"%PDF-1.4\n%%EOF\n") and image_item("bad-2", "x.png")
        ),
        "PDF",
    ),
    "a truncated PNG": (
        lambda d, web: (d / "x.png").write_bytes(_truncated_png()) and image_item("bad-2", "x.png"),
        "truncated",
    ),
    "an oversized image": (
        lambda d, web: (
            (d / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(21_000_000))
            and image_item("bad-2", "x.png")
        ),
        "20 MB",
    ),
    "a broken PDF": (
        lambda d, web: (
            (d / "x.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<") and pdf_item("bad-2", "x.pdf")
        ),
        "PDF",
    ),
}


@pytest.mark.parametrize("wrong", list(BAD_MEDIA))
def test_bad_media_refuse_the_import_by_line_and_field_and_store_nothing(
    sandbox, tmp_path, web, media_store, wrong
):
    make, expected = BAD_MEDIA[wrong]
    apply(sandbox.ctx.engine, config())
    png_file(tmp_path / "good.png", (0, 200, 0))
    bad = make(tmp_path, web)
    items = [image_item("ok-1", "good.png"), bad]
    with pytest.raises(ImportRejected) as refused:
        import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))
    message = str(refused.value)
    field = "document" if "document" in bad else "image"
    assert f"line 2: field `{field}.src`" in message and expected in message, message
    assert "nothing was imported" in message
    assert list(media_store.rglob("*")) == []  # not even the good line's image


def test_media_refused_by_the_database_are_not_stored_either(sandbox, tmp_path, media_store):
    apply(sandbox.ctx.engine, config())
    png_file(tmp_path / "a.png", (1, 1, 1))
    import_file(
        sandbox.ctx.engine, write_items(tmp_path / "one.jsonl", [image_item("i-1", "a.png")])
    )
    stored = sorted(media_store.rglob("*"))
    # The same id with another image: valid on its own, refused as a change by the import.
    png_file(tmp_path / "b.png", (2, 2, 2))
    with pytest.raises(ImportRejected, match="imported before with different content"):
        import_file(
            sandbox.ctx.engine, write_items(tmp_path / "two.jsonl", [image_item("i-1", "b.png")])
        )
    assert sorted(media_store.rglob("*")) == stored


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


def test_on_a_database_server_media_need_a_store_every_process_reaches(tmp_path):
    png_file(tmp_path / "a.png", (3, 3, 3))
    items = write_items(tmp_path / "a.jsonl", [image_item("a", "a.png")])

    def settings(database_url: str) -> Settings:  # QUORUM_MEDIA_STORE not set
        return Settings(_env_file=None, database_url=database_url, quorum_media_store=None)

    server = settings("postgresql+psycopg://127.0.0.1:5432/quorum")
    with pytest.raises(ImportRejected, match="line 1: media need QUORUM_MEDIA_STORE"):
        validate_file(items, config(), settings=server)
    # A local SQLite file keeps its media beside it: the same import is fine.
    local = settings(f"sqlite:///{tmp_path / 'quorum.db'}")
    staged = validate_file(items, config(), settings=local)
    assert len(staged) == 1
    staged.close()
