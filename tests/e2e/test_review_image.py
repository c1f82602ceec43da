"""Images reviewed in Slack: imported once into the media store, uploaded to Slack once
per image through the external upload flow, shown in the review DM itself (only after
Slack has processed the file), answered, signed off and exported with their references."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from bot.exports.outputs import open_outputs
from bot.exports.run import ExportRequest, run_export
from bot.intake.importer import ImportRejected
from bot.media.store import MediaStore
from bot.runtime.settings import get_settings
from tests.factories import (
    REVIEWERS,
    apply,
    assert_slack_accepted_everything,
    import_file,
    kind_config,
    labels,
    press,
    shown,
    texts,
    write_items,
)

LABELS = ["effusion", "normal", "other"]


def png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def image_item(item_id: str, src: str, **extra: object) -> dict:
    return {
        "id": item_id,
        "image": {"src": src, "alt": "Chest X-ray, PA view"},
        "prediction": {"label": "effusion", "confidence": 0.58, "model": "cxr-v2"},
        **extra,
    }


def config():  # type: ignore[no-untyped-def]
    return kind_config("support-intent", labels=LABELS, question="What does the X-ray show?")


def settle_until(sandbox, clock, predicate, *, what: str):  # type: ignore[no-untyped-def]
    """Settle, letting time pass on both clocks (the emulator processes files on the real
    one, the bot waits on the frozen one) until `predicate` holds."""
    for _ in range(40):
        sandbox.settle()
        if found := predicate():
            return found
        time.sleep(0.05)
        clock.advance(seconds=1)
    raise AssertionError(f"never saw {what}")


def image_blocks(message: dict) -> list[dict]:
    return [b for b in message.get("blocks", []) if b.get("type") == "image"]


def test_an_image_is_uploaded_once_shown_after_processing_and_exported(sandbox, clock, tmp_path):
    sandbox.emulator.file_processing_s = 0.3
    original = png(tmp_path / "images" / "cxr-1.png", (200, 30, 30))
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

    [row] = export(sandbox, tmp_path / "labels.jsonl")
    [reference] = row["media"]
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
    original = png(tmp_path / "big.png", (20, 120, 200), size=(3200, 1600))
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


def export(sandbox, out: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    request = ExportRequest(project="support-intent", format="labels")
    with open_outputs(request.check(), out=out) as (sink, ties, _):
        run_export(
            sandbox.ctx.engine, request, sink=sink, ties=ties, now=sandbox.clock.now(), salt="s"
        )
    return [json.loads(line) for line in out.read_text().splitlines()]


def apply_and_import(sandbox, tmp_path: Path, items: list[dict]) -> None:
    apply(sandbox.ctx.engine, config())
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: None, "file not found"),
        (lambda d: (d / "x.png").write_bytes(b"%PDF-1.4\n%%EOF\n"), "PDF"),
        (lambda d: (d / "x.png").write_bytes(_truncated_png()), "truncated"),
    ],
    ids=["missing", "a PDF named .png", "truncated PNG"],
)
def test_a_bad_image_refuses_the_import_by_line_and_stores_nothing(
    sandbox, tmp_path, make, expected
):
    apply(sandbox.ctx.engine, config())
    png(tmp_path / "good.png", (0, 200, 0))
    make(tmp_path)
    store = Path(get_settings().media_store_url())
    before = sorted(store.rglob("*")) if store.exists() else []
    items = [image_item("ok-1", "good.png"), image_item("bad-2", "x.png")]
    with pytest.raises(ImportRejected) as refused:
        import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))
    message = str(refused.value)
    assert "line 2: field `image.src`" in message and expected in message, message
    assert "nothing was imported" in message
    after = sorted(store.rglob("*")) if store.exists() else []
    assert after == before  # not even the good line's image


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]
