"""Media uploads on the delivery path (bot/delivery/media.py) against the emulator: rate
limits and outages only delay a review DM, a file Slack lost is uploaded again, a file
Slack never processes fails its item after the deadline, and two items charting other
columns of one CSV each show their own chart."""

from __future__ import annotations

from tests.factories import (
    REVIEWERS,
    apply,
    dms_to_reviewers,
    image_blocks,
    import_file,
    item_status,
    kind_config,
    png_file,
    write_items,
)

LABELS = ["normal", "anomaly", "other"]


def start_image(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    png_file(tmp_path / "a.png", (9, 9, 9))
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS, overlap=1))
    item = {"id": "i-1", "image": {"src": "a.png"}, "prediction": {"label": "anomaly"}}
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", [item]))


def test_rate_limited_and_failing_uploads_delay_the_dm_but_never_fail_it(sandbox, clock, tmp_path):
    sandbox.emulator.file_processing_s = 0.0
    sandbox.emulator.fail_next("files.getUploadURLExternal", status=429, times=6, retry_after=2)
    sandbox.emulator.fail_next("files.completeUploadExternal", error="internal_error", times=2)
    start_image(sandbox, tmp_path)
    [reviewer] = dms_to_reviewers(sandbox, clock, count=1)
    assert image_blocks(sandbox.latest_dm(reviewer))
    assert item_status(sandbox) == "assigned"


def test_a_file_slack_lost_is_uploaded_again(sandbox, clock, tmp_path):
    sandbox.emulator.file_processing_s = 0.0
    sandbox.emulator.fail_next("files.info", error="file_not_found", status=200)
    start_image(sandbox, tmp_path)
    [reviewer] = dms_to_reviewers(sandbox, clock, count=1)
    shown = image_blocks(sandbox.latest_dm(reviewer))[0]["slack_file"]["id"]
    uploads = sandbox.emulator.calls_to("files.completeUploadExternal")
    assert len(uploads) == 2
    assert shown == uploads[-1].response["files"][0]["id"]


def test_a_file_slack_never_processes_fails_its_item_after_the_deadline(sandbox, clock, tmp_path):
    sandbox.emulator.file_processing_s = 1e9
    start_image(sandbox, tmp_path)
    sandbox.settle()
    clock.advance(minutes=5)
    sandbox.settle()
    assert item_status(sandbox) == "assigned"  # still waiting, nothing posted
    assert not any(sandbox.dm(r) for r in REVIEWERS)
    polls = len(sandbox.emulator.calls_to("files.info"))
    clock.advance(minutes=11)
    sandbox.settle()
    assert item_status(sandbox) == "failed"
    assert len(sandbox.emulator.calls_to("files.info")) - polls <= 3  # no polling storm


def test_items_charting_other_columns_of_one_csv_each_show_their_own_chart(
    sandbox, clock, tmp_path
):
    sandbox.emulator.file_processing_s = 0.0
    (tmp_path / "pump.csv").write_text(
        "t,vibration,temperature\n" + "".join(f"{t},{t % 7},{20 + t % 3}\n" for t in range(50))
    )
    apply(sandbox.ctx.engine, kind_config("support-intent", labels=LABELS, overlap=1))
    items = [
        {
            "id": f"pump-{column}",
            "timeseries": {"src": "pump.csv", "x": "t", "y": [column], "window": [10, 20]},
            "prediction": {"label": "anomaly"},
        }
        for column in ("vibration", "temperature")
    ]
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))
    reviewers = dms_to_reviewers(sandbox, clock, count=2)
    charts = {
        sandbox.emulator.file_bytes(image_blocks(m)[0]["slack_file"]["id"])
        for r in reviewers
        for m in sandbox.dm(r)
        if image_blocks(m)
    }
    assert len(charts) == 2
