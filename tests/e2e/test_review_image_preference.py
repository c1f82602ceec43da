"""Preferences over images in Slack: two generated images shown as A and B in each
reviewer's own order, and a question about a picture with two text answers. Both reach
the DPO export in TRL's vision format, which `datasets` loads with the images decoded."""

from __future__ import annotations

import io
from pathlib import Path

import datasets
import pytest
from PIL import Image
from sqlmodel import Session, select

from bot.exports.writers import ExportError
from storage.models import Assignment
from tests.factories import (
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
    write_items,
)

RED, BLUE, GREY = (220, 20, 20), (20, 20, 220), (128, 128, 128)


def order_for(sandbox, user: str) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(sandbox.ctx.engine) as session:
        assignment = session.exec(select(Assignment).where(Assignment.reviewer_id == user)).one()
        return list(assignment.presentation["order"])


def colour_of(sandbox, file_id: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    image = Image.open(io.BytesIO(sandbox.emulator.file_bytes(file_id))).convert("RGB")
    return image.getpixel((0, 0))  # type: ignore[return-value]


def run(sandbox, clock, tmp_path: Path, item: dict, winner: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Import the item, let every reviewer prefer `winner` strongly; the reviewers."""
    apply(sandbox.ctx.engine, kind_config("code-preference"))
    import_file(
        sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]), name="code-preference"
    )
    reviewers = dms_to_reviewers(sandbox, clock)
    for reviewer in reviewers:
        letter = "A" if order_for(sandbox, reviewer)[0] == winner else "B"
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), f"{letter} is much better")
    sandbox.settle()
    return reviewers


def test_two_generated_images_are_compared_in_each_reviewers_order(sandbox, clock, tmp_path):
    png_file(tmp_path / "gen" / "2a.png", RED)
    png_file(tmp_path / "gen" / "2b.png", BLUE)
    item = {
        "id": "gen-2",
        "prompt": [{"role": "user", "content": "A red fox in snow, watercolor"}],
        "responses": [
            {"id": "a", "image": {"src": "gen/2a.png"}, "model": "img-v1"},
            {"id": "b", "image": {"src": "gen/2b.png"}, "model": "img-v2"},
        ],
    }
    # The DMs, before anyone answers: A then B in each reviewer's recorded order.
    apply(sandbox.ctx.engine, kind_config("code-preference"))
    import_file(
        sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]), name="code-preference"
    )
    reviewers = dms_to_reviewers(sandbox, clock)
    colours = {"a": RED, "b": BLUE}
    for reviewer in reviewers:
        shown_colours = [
            colour_of(sandbox, b["slack_file"]["id"])
            for b in image_blocks(sandbox.latest_dm(reviewer))
        ]
        assert shown_colours == [colours[r] for r in order_for(sandbox, reviewer)]
    assert len(sandbox.emulator.calls_to("files.getUploadURLExternal")) == 2
    for reviewer in reviewers:
        letter = "A" if order_for(sandbox, reviewer)[0] == "b" else "B"
        press(sandbox, reviewer, sandbox.latest_dm(reviewer), f"{letter} is much better")
    sandbox.settle()
    assert_slack_accepted_everything(sandbox)
    [label] = labels(sandbox)
    assert label.value == "b"

    [row] = export_rows(sandbox, tmp_path / "pairs.jsonl", project="code-preference", fmt="dpo")
    assert row["chosen"] == [{"role": "assistant", "content": [{"type": "image"}]}]
    assert row["rejected"] == [{"role": "assistant", "content": [{"type": "image"}]}]
    loaded = vision_dataset([row])
    assert [image.getpixel((0, 0)) for image in loaded[0]["images"]] == [BLUE, RED]
    # Parquet's DPO schema has no images: refused with the way out, not written without them.
    with pytest.raises(ExportError, match="has images.*export it as JSONL"):
        export_rows(
            sandbox, tmp_path / "pairs.parquet", project="code-preference", fmt="dpo", parquet=True
        )


def test_a_question_about_a_picture_exports_with_its_image_placeholder(sandbox, clock, tmp_path):
    png_file(tmp_path / "rash-4.png", GREY)
    item = {
        "id": "vqa-4",
        "image": {"src": "rash-4.png", "alt": "Photo of a rash"},
        "prompt": [{"role": "user", "content": "What does this rash look like?"}],
        "responses": [
            {"id": "a", "content": "Contact dermatitis", "model": "vlm-1"},
            {"id": "b", "content": "Psoriasis", "model": "vlm-2"},
        ],
    }
    reviewers = run(sandbox, clock, tmp_path, item, winner="a")
    (block,) = image_blocks(sandbox.latest_dm(reviewers[0]))
    assert block["alt_text"] == "Photo of a rash"
    [row] = export_rows(sandbox, tmp_path / "pairs.jsonl", project="code-preference", fmt="dpo")
    assert row["prompt"] == [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": "What does this rash look like?"},
            ],
        }
    ]
    assert row["chosen"] == [
        {"role": "assistant", "content": [{"type": "text", "text": "Contact dermatitis"}]}
    ]
    loaded = vision_dataset([row])
    assert loaded[0]["images"][0].getpixel((0, 0)) == GREY


def vision_dataset(rows: list[dict]) -> datasets.Dataset:
    """The rows as a TRL vision preference dataset: `images` decoded by `datasets`."""
    dataset = datasets.Dataset.from_list(rows)
    return dataset.cast_column("images", datasets.Sequence(datasets.Image()))
