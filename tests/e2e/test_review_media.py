"""Every media type reviewed in Slack as a label item: a document's first pages, a time
series' chart with its window summarised, a recording's waveform with its transcript, a
video's poster frame. Each is rendered at import, uploaded once, shown in the DM after
Slack processed it, answered, signed off and exported with its media reference."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bot.intake.importer import ImportRejected
from tests.factories import (
    REVIEWERS,
    apply,
    assert_slack_accepted_everything,
    dms_to_reviewers,
    export_rows,
    image_blocks,
    import_file,
    kind_config,
    labels,
    png_file,
    press,
    press_in_block,
    response_of,
    settle_until,
    shown,
    write_items,
)
from tests.media.builders import mp4_bytes, pdf_bytes, wav_bytes

LABELS = ["normal", "anomaly", "other"]
PREDICTION = {"label": "anomaly", "confidence": 0.52, "model": "m-v1"}

ECG_CSV = "t,lead_ii\n" + "".join(
    f"{t / 10:.1f},{2.0 if 120 <= t <= 145 else 0.1}\n" for t in range(300)
)


def document(folder: Path) -> dict:
    (folder / "nda-3.pdf").write_bytes(pdf_bytes([f"Clause {n}" for n in range(1, 6)]))
    return {"document": {"src": "nda-3.pdf"}, "text": "Is clause 4 standard?"}


def csv_series(folder: Path) -> dict:
    (folder / "ecg-9.csv").write_text(ECG_CSV)
    spec = {"src": "ecg-9.csv", "x": "t", "y": ["lead_ii"], "window": [12.0, 14.5], "unit": "mV"}
    return {"timeseries": spec}


def inline_series(folder: Path) -> dict:
    x = [t / 10 for t in range(100)]
    return {"timeseries": {"x": x, "series": {"temp": [20.0 + (t > 50) for t in range(100)]}}}


def recording(folder: Path) -> dict:
    (folder / "call-7.wav").write_bytes(wav_bytes(seconds=2.0))
    return {"audio": {"src": "call-7.wav"}, "text": "Hi, I want to cancel my plan"}


def clip(folder: Path) -> dict:
    (folder / "clip-5.mp4").write_bytes(mp4_bytes(seconds=2.0))
    return {"video": {"src": "clip-5.mp4"}}


CASES: dict[str, tuple[Callable[[Path], dict], int, list[str]]] = {
    # content, images in the DM, what the DM says beside them
    "document": (document, 3, ["*Document* · 5 pages (the first 3 shown)", "clause 4"]),
    "timeseries csv": (csv_series, 1, ["*lead_ii*: 0.1 to 2 mV", "in the window 12–14.5"]),
    "timeseries inline": (inline_series, 1, ["*temp*: 20 to 21"]),
    "audio": (recording, 1, ["*Recording* · 0:02", "cancel my plan"]),
    "video": (clip, 1, ["*Video* · 0:02 (poster frame)"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_media_type_goes_from_import_to_export(sandbox, clock, tmp_path, case):
    make, pictures, says = CASES[case]
    sandbox.emulator.file_processing_s = 0.2
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS))
    item = {"id": "m-1", **make(tmp_path), "prediction": PREDICTION}
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))

    reviewers = dms_to_reviewers(sandbox, clock)
    requests = [sandbox.latest_dm(r) for r in reviewers]
    blocks = image_blocks(requests[0])
    assert len(blocks) == pictures
    for block in blocks:  # each rendition is a PNG Slack can show, uploaded once
        data = sandbox.emulator.file_bytes(block["slack_file"]["id"])
        assert Image.open(io.BytesIO(data)).format == "PNG"
    key = next(k for k in ("document", "timeseries", "audio", "video") if k in item)
    # A document's later pages are uploaded too, for "Show all pages": 5 pages in all.
    renditions_uploaded = 5 if key == "document" else pictures
    if key in ("audio", "video"):  # the file itself too, in each DM's thread: Slack's player
        for reviewer, request in zip(reviewers, requests, strict=True):
            [share] = [m for m in sandbox.dm(reviewer) if m.get("files")]
            assert share["thread_ts"] == request["ts"]
            [shared] = share["files"]
            original = (tmp_path / item[key]["src"]).read_bytes()
            assert sandbox.emulator.file_bytes(shared["id"]) == original
            assert shared["name"] == item[key]["src"]
        renditions_uploaded += len(reviewers)
    assert len(sandbox.emulator.calls_to("files.getUploadURLExternal")) == renditions_uploaded
    for text in says:
        assert text in shown(requests[0]), shown(requests[0])
    assert_slack_accepted_everything(sandbox)

    for reviewer in reviewers:
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Confirm: anomaly")
    sandbox.settle()
    [label] = labels(sandbox)
    assert label.value == "anomaly"
    [row] = export_rows(sandbox, tmp_path / "labels.jsonl")
    [reference] = json.loads(row["media"])  # JSON text (docs/exports.md)
    assert reference["field"] == key and len(reference["sha256"]) == 64
    assert reference["src"] == item[key].get("src")


def test_an_image_is_rated_per_criterion_with_the_scan_in_view(sandbox, clock, tmp_path):
    png_file(tmp_path / "scan.png", (90, 90, 90))
    apply(sandbox.ctx.engine, kind_config("triage-rating"))
    item = {"id": "img-r", "image": {"src": "scan.png", "alt": "A scan"}, "text": "Report: clear"}
    import_file(
        sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]), name="triage-rating"
    )
    reviewer = settle_until(
        sandbox, clock, lambda: next((r for r in REVIEWERS if sandbox.dm(r)), None), what="a DM"
    )
    request = sandbox.latest_dm(reviewer)
    assert len(image_blocks(request)) == 1 and "Report: clear" in shown(request)
    assignment = next(
        b["block_id"].split(":")[1]
        for b in request["blocks"]
        if b.get("block_id", "").startswith("rate:")
    )
    for criterion in range(3):
        press_in_block(
            sandbox,
            reviewer,
            sandbox.latest_dm(reviewer),
            f"rate:{assignment}:{criterion}",
            "4 – Very good",
        )
        sandbox.settle()
    assert response_of(sandbox, reviewer).value == {"helpfulness": 4, "correctness": 4, "safety": 4}
    assert "Recorded" in shown(sandbox.latest_dm(reviewer))
    assert image_blocks(sandbox.latest_dm(reviewer))  # the receipt still shows the scan


def test_image_and_audio_parts_of_a_conversation_show_in_its_place_and_export_as_parts(
    sandbox, clock, tmp_path
):
    import base64

    png_file(tmp_path / "rash-4.png", (200, 120, 120))
    audio = base64.b64encode(wav_bytes(seconds=1.0)).decode()
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS))
    item = {
        "id": "vqa-4",
        "conversation": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What does this rash look like?"},
                    {"type": "image_url", "image_url": {"url": "rash-4.png"}},
                    {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
                ],
            },
            {"role": "assistant", "content": "It looks like contact dermatitis."},
        ],
        "prediction": PREDICTION,
    }
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))
    reviewers = dms_to_reviewers(sandbox, clock)
    request = sandbox.latest_dm(reviewers[0])
    text = shown(request)
    kinds = [b["type"] for b in request["blocks"]]
    question = next(i for i, b in enumerate(request["blocks"]) if "rash look like" in json.dumps(b))
    # The turn's text, then its image and its audio's waveform, then the next turn.
    assert kinds[question + 1 : question + 3] == ["image", "image"]
    assert "contact dermatitis" in json.dumps(request["blocks"][question + 3])
    assert "[image]" in text and "[audio]" in text
    for reviewer in reviewers:
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Confirm: anomaly")
    sandbox.settle()
    [row] = export_rows(sandbox, tmp_path / "labels.jsonl")
    media = json.loads(row["media"])
    assert [r["field"] for r in media] == [
        "conversation.0.content.1.image_url",
        "conversation.0.content.2.input_audio",
    ]
    assert media[1]["src"] == "data:audio/wav,…"  # the bytes are not repeated


def test_a_missing_image_part_refuses_the_import_naming_its_url(sandbox, tmp_path):
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS))
    parts = [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": "no.png"}},
    ]
    item = {"id": "x-1", "conversation": [{"role": "user", "content": parts}]}
    with pytest.raises(ImportRejected) as refused:
        import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))
    assert "line 1: field `conversation.0.content.1.image_url.url`: file not found" in str(
        refused.value
    )


TRANSCRIPT = "Hi, I want to cancel my plan."
FIXED_TRANSCRIPT = "Hi, I want to cancel my plan today."


def test_a_transcript_is_corrected_beside_its_recording_and_exported_for_training(
    sandbox, clock, tmp_path
):
    from bot.slack import ids
    from tests.factories import last_modal

    (tmp_path / "call-7.wav").write_bytes(wav_bytes(seconds=1.0))
    agreeing = {"lead_signs_off_all": False, "min_confidence": None}  # no lead in this test
    apply(sandbox.ctx.engine, kind_config("legal-correction", sign_off=agreeing))
    item = {"id": "call-7", "audio": {"src": "call-7.wav"}, "text": TRANSCRIPT}
    import_file(
        sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]), name="legal-correction"
    )
    reviewers = dms_to_reviewers(sandbox, clock)
    request = sandbox.latest_dm(reviewers[0])
    assert image_blocks(request) and TRANSCRIPT in shown(request)
    for reviewer in reviewers:
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), "Edit response")
        modal = last_modal(sandbox)
        field = next(b for b in modal["blocks"] if b.get("block_id") == ids.correction_block(0))
        assert field["element"]["initial_value"] == TRANSCRIPT
        values = {ids.correction_block(0): {ids.TEXT_INPUT: FIXED_TRANSCRIPT}}
        assert sandbox.sender.submit_view(reviewer, modal, values).status == 200
    sandbox.settle()
    [label] = labels(sandbox)
    assert label.value["text"] == FIXED_TRANSCRIPT
    [row] = export_rows(sandbox, tmp_path / "sft.jsonl", project="legal-correction", fmt="sft")
    assert row["messages"] == [
        {"role": "user", "content": [{"type": "audio"}]},
        {"role": "assistant", "content": [{"type": "text", "text": FIXED_TRANSCRIPT}]},
    ]
    assert row["changed"] is True
    assert Path(row["media"][0]).read_bytes() == (tmp_path / "call-7.wav").read_bytes()


def test_a_correction_item_showing_a_medium_needs_the_text_to_correct(sandbox, tmp_path):
    apply(sandbox.ctx.engine, kind_config("legal-correction"))
    (tmp_path / "call-7.wav").write_bytes(wav_bytes(seconds=1.0))
    item = {"id": "call-7", "audio": {"src": "call-7.wav"}}
    with pytest.raises(ImportRejected, match="line 1: field `text`: Field required"):
        import_file(
            sandbox.ctx.engine, write_items(tmp_path / "i.jsonl", [item]), name="legal-correction"
        )


def test_the_full_view_of_a_long_transcript_shows_its_waveform_as_slack_accepts_it(
    sandbox, clock, tmp_path
):
    from tests.factories import last_modal

    (tmp_path / "call-7.wav").write_bytes(wav_bytes(seconds=1.0))
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS))
    transcript = "\n".join(f"Line {n}: the caller explains the problem again." for n in range(400))
    item = {
        "id": "c-7",
        "audio": {"src": "call-7.wav"},
        "text": transcript,
        "prediction": PREDICTION,
    }
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))
    [reviewer, *_] = dms_to_reviewers(sandbox, clock)
    request = sandbox.latest_dm(reviewer)
    press(sandbox, reviewer, request, "Show full conversation")
    modal = last_modal(sandbox)
    [picture] = image_blocks(modal)
    assert picture["slack_file"]["id"] == image_blocks(request)[0]["slack_file"]["id"]
    assert "Line 0:" in shown(modal)
    assert_slack_accepted_everything(sandbox)


def test_show_all_pages_opens_every_rendered_page_of_a_document(sandbox, clock, tmp_path):
    from tests.factories import last_modal, texts

    (tmp_path / "nda.pdf").write_bytes(pdf_bytes([f"Clause {n}" for n in range(1, 7)]))
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS))
    item = {"id": "nda-3", "document": {"src": "nda.pdf"}, "prediction": PREDICTION}
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))
    [reviewer, *_] = dms_to_reviewers(sandbox, clock)
    request = sandbox.latest_dm(reviewer)
    assert len(image_blocks(request)) == 3
    assert "Show all pages" in texts(request)
    press(sandbox, reviewer, request, "Show all pages")
    modal = last_modal(sandbox)
    pages = image_blocks(modal)
    assert len(pages) == 6  # every page, each a processed file Slack accepted
    assert [p["slack_file"]["id"] for p in pages[:3]] == [
        b["slack_file"]["id"] for b in image_blocks(request)
    ]
    assert_slack_accepted_everything(sandbox)
