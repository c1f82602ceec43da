"""Slack's file flow in the emulator, through the real slack_sdk WebClient, and the bot's
upload call (SlackOutbound.upload_file / file_ready) against it."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack_emulator import SlackEmulator
from bot.sandbox.slack_files import FILE_RATE_LIMITS, UPLOAD_URL_TTL_S
from bot.slack.outbound import SlackOutbound, make_web_client

PROCESSING_S = 5.0
ALICE = "U01ALICE"


class Ticks:
    """A monotonic clock the test moves by hand: processing and expiry need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def picture(fmt: str = "PNG", size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def image_block(slack_file: dict[str, str]) -> list[dict[str, Any]]:
    return [{"type": "image", "slack_file": slack_file, "alt_text": "a red square"}]


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def emulator(ticks: Ticks) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=ticks, file_processing_s=PROCESSING_S) as emu:
        emu.add_user(ALICE, name="alice")
        yield emu


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url, retry_handlers=[])


def post_bytes(url: str, data: bytes, content_type: str = "application/octet-stream") -> int:
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def get(url: str, token: str | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def error_of(call: Any, **kwargs: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call(**kwargs)
    return caught.value


def upload(client: WebClient, data: bytes, filename: str = "chart.png", **complete: Any) -> str:
    ticket = client.files_getUploadURLExternal(filename=filename, length=len(data))
    assert post_bytes(ticket["upload_url"], data) == 200
    client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], **complete)
    return str(ticket["file_id"])


# ---- the three steps -------------------------------------------------------------------------


def test_three_steps_store_the_bytes_and_complete_the_file(
    emulator: SlackEmulator, client: WebClient
) -> None:
    data = picture()
    ticket = client.files_getUploadURLExternal(filename="chart.png", length=len(data))
    assert ticket["file_id"].startswith("F")
    assert ticket["upload_url"].startswith(f"{emulator.base_url}/upload/")
    assert emulator.files() == []  # not a file until completed
    assert post_bytes(ticket["upload_url"], data) == 200
    done = client.files_completeUploadExternal(
        files=[{"id": ticket["file_id"], "title": "Weekly chart"}]
    )
    assert [(f["id"], f["title"]) for f in done["files"]] == [(ticket["file_id"], "Weekly chart")]
    assert emulator.file_bytes(ticket["file_id"]) == data
    assert [f["id"] for f in emulator.files()] == [ticket["file_id"]]
    # Without a channel the file is private: no message anywhere.
    assert emulator.messages("C0GENERAL") == []
    assert emulator.file(ticket["file_id"])["channels"] == []  # type: ignore[index]


def test_files_upload_v2_shares_into_a_dm_with_its_comment(
    emulator: SlackEmulator, client: WebClient
) -> None:
    dm = client.conversations_open(users=ALICE)["channel"]["id"]
    data = picture()
    sent = client.files_upload_v2(
        channel=dm, file=data, filename="scan.png", title="Scan", initial_comment="Item 7"
    )
    file_id = sent["file"]["id"]
    assert emulator.file_bytes(file_id) == data
    [share] = emulator.messages(dm)
    assert share["text"] == "Item 7"
    assert [f["id"] for f in share["files"]] == [file_id]
    history = client.conversations_history(channel=dm)["messages"]
    assert [f["title"] for f in history[0]["files"]] == ["Scan"]
    info = client.files_info(file=file_id)["file"]
    assert info["ims"] == [dm]
    assert info["shares"]["private"][dm][0]["ts"] == share["ts"]


def test_a_share_in_a_thread_is_a_reply(emulator: SlackEmulator, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="C0GENERAL", text="Escalation")["ts"]
    file_id = upload(client, picture(), channel_id="C0GENERAL", thread_ts=parent)
    replies = client.conversations_replies(channel="C0GENERAL", ts=parent)["messages"]
    assert [m.get("files", [{}])[0].get("id") for m in replies[1:]] == [file_id]
    top_level = client.conversations_history(channel="C0GENERAL")["messages"]
    assert len(top_level) == 1  # the share is not a top-level message
    assert emulator.file(file_id)["channels"] == ["C0GENERAL"]  # type: ignore[index]


def test_a_multipart_upload_stores_the_file_part(
    emulator: SlackEmulator, client: WebClient
) -> None:
    data = b"%PDF-1.4\r\n--not-the-boundary\r\n\x00\xff binary\r\n"
    ticket = client.files_getUploadURLExternal(filename="brief.pdf", length=len(data))
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="filename"\r\n\r\nbrief.pdf\r\n'
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="brief.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + data + b"\r\n--XyZ--\r\n"
    )
    assert post_bytes(ticket["upload_url"], body, "multipart/form-data; boundary=XyZ") == 200
    assert emulator.file_bytes(ticket["file_id"]) == data


def test_the_upload_url_refuses_what_slack_would_not_take(
    emulator: SlackEmulator, client: WebClient, ticks: Ticks
) -> None:
    data = picture()
    assert post_bytes(f"{emulator.base_url}/upload/v1/no-such-ticket", data) == 404
    # More or fewer bytes than declared: refused, and the file cannot be completed.
    short = client.files_getUploadURLExternal(filename="a.png", length=len(data) + 1)
    assert post_bytes(short["upload_url"], data) == 400
    failed = error_of(client.files_completeUploadExternal, files=[{"id": short["file_id"]}])
    assert failed.response["error"] == "file_not_found"
    # An upload URL expires, and is spent once the file is completed.
    late = client.files_getUploadURLExternal(filename="b.png", length=len(data))
    ticks.advance(UPLOAD_URL_TTL_S + 1)
    assert post_bytes(late["upload_url"], data) == 404
    used = client.files_getUploadURLExternal(filename="c.png", length=len(data))
    assert post_bytes(used["upload_url"], data) == 200
    client.files_completeUploadExternal(files=[{"id": used["file_id"]}])
    assert post_bytes(used["upload_url"], data) == 404


def test_get_upload_url_checks_its_arguments(client: WebClient) -> None:
    assert (
        error_of(client.files_getUploadURLExternal, filename="x.png", length=0).response["error"]
        == "missing_argument"
    )
    assert (
        error_of(client.files_getUploadURLExternal, filename="", length=10).response["error"]
        == "invalid_arguments"
    )
    assert (
        error_of(
            client.files_getUploadURLExternal, filename="big.mp4", length=1024**3 + 1
        ).response["error"]
        == "file_upload_size_restricted"
    )
    assert (
        error_of(
            client.files_getUploadURLExternal, filename="x.png", length=10, alt_txt="a" * 1001
        ).response["error"]
        == "alt_txt_too_large"
    )


def test_complete_upload_errors_change_nothing(emulator: SlackEmulator, client: WebClient) -> None:
    data = picture()
    unknown = error_of(client.files_completeUploadExternal, files=[{"id": "F0NOSUCHFILE"}])
    assert unknown.response["error"] == "file_not_found"
    pending = client.files_getUploadURLExternal(filename="a.png", length=len(data))
    never_sent = error_of(client.files_completeUploadExternal, files=[{"id": pending["file_id"]}])
    assert never_sent.response["error"] == "file_not_found"
    assert post_bytes(pending["upload_url"], data) == 200
    bad_channel = error_of(
        client.files_completeUploadExternal,
        files=[{"id": pending["file_id"]}],
        channel_id="C0NOWHERE",
    )
    assert bad_channel.response["error"] == "invalid_channel"
    no_thread = error_of(
        client.files_completeUploadExternal,
        files=[{"id": pending["file_id"]}],
        channel_id="C0GENERAL",
        thread_ts="1.000001",
    )
    assert no_thread.response["error"] == "thread_not_found"
    assert emulator.messages("C0GENERAL") == []
    assert emulator.files() == []  # all or nothing
    client.files_completeUploadExternal(files=[{"id": pending["file_id"]}])
    again = error_of(client.files_completeUploadExternal, files=[{"id": pending["file_id"]}])
    assert again.response["error"] == "file_not_found"  # the upload ticket is spent


# ---- processing and files.info -----------------------------------------------------------------


def test_files_info_shows_type_and_thumbs_only_after_processing(
    emulator: SlackEmulator, client: WebClient, ticks: Ticks
) -> None:
    data = picture(size=(800, 600))
    file_id = upload(client, data, filename="chart.png")
    early = client.files_info(file=file_id)["file"]
    assert early["name"] == "chart.png" and early["size"] == len(data)
    assert "mimetype" not in early
    assert not [key for key in early if key.startswith("thumb_")]
    ticks.advance(PROCESSING_S)
    ready = client.files_info(file=file_id)["file"]
    assert (ready["mimetype"], ready["filetype"]) == ("image/png", "png")
    assert (ready["original_w"], ready["original_h"]) == (800, 600)
    assert (ready["thumb_360_w"], ready["thumb_360_h"]) == (360, 270)
    assert (ready["thumb_720_w"], ready["thumb_720_h"]) == (720, 540)
    assert "thumb_1024" not in ready  # no thumbnail larger than the original
    assert ready["url_private"].startswith(emulator.base_url)
    assert get(ready["url_private"], emulator.bot_token) == (200, data)
    assert get(ready["url_private"], None)[0] == 403
    assert get(ready["thumb_360"], emulator.bot_token)[0] == 200


def test_files_info_of_an_unknown_file_is_file_not_found(client: WebClient) -> None:
    assert error_of(client.files_info, file="F0NOSUCHFILE").response["error"] == "file_not_found"


SAMPLES = {
    "scan.jpg": (picture("JPEG"), "image/jpeg", True),
    "anim.gif": (picture("GIF"), "image/gif", True),
    "photo.webp": (picture("WEBP"), "image/webp", True),
    "brief.pdf": (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "application/pdf", False),
    "clip.mp4": (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4", False),
    "voice.wav": (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00", "audio/wav", False),
    "song.mp3": (b"ID3\x04\x00\x00\x00\x00\x00\x21" + b"\x00" * 16, "audio/mpeg", False),
    "note.ogg": (b"OggS\x00\x02" + b"\x00" * 20, "audio/ogg", False),
    "notes.txt": ("plain words, café".encode(), "text/plain", False),
}


@pytest.mark.parametrize("filename", sorted(SAMPLES))
def test_the_type_is_sniffed_from_the_bytes(
    filename: str, emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.file_processing_s = 0
    data, mimetype, thumbs = SAMPLES[filename]
    # A misleading name: Slack reads the bytes.
    file_id = upload(client, data, filename=f"upload.bin.{filename}")
    info = client.files_info(file=file_id)["file"]
    assert info["mimetype"] == mimetype
    assert ("thumb_360" in info) is thumbs


# ---- image blocks that refer to files ----------------------------------------------------------


def test_an_image_block_waits_for_processing(
    emulator: SlackEmulator, client: WebClient, ticks: Ticks
) -> None:
    file_id = upload(client, picture())
    early = error_of(
        client.chat_postMessage, channel=ALICE, text="x", blocks=image_block({"id": file_id})
    )
    assert early.response["error"] == "invalid_blocks"
    assert "invalid slack file" in early.response["errors"][0]
    assert early.response["errors"][0].startswith("blocks[0].slack_file")
    assert emulator.messages(ALICE) == []
    ticks.advance(PROCESSING_S)
    posted = client.chat_postMessage(channel=ALICE, text="x", blocks=image_block({"id": file_id}))
    url = client.files_info(file=file_id)["file"]["url_private"]
    client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="x", blocks=image_block({"url": url})
    )
    assert emulator.messages(ALICE)[0]["blocks"][0]["slack_file"] == {"url": url}


@pytest.mark.parametrize(
    ("slack_file", "why"),
    [
        ({"id": "F0NOSUCHFILE"}, "no such file"),
        ({"url": "https://files.example/none.png"}, "no such file"),
        ({"id": "quorum-media:abc:display"}, "regex"),
    ],
)
def test_an_image_block_naming_no_file_is_refused(
    slack_file: dict[str, str], why: str, client: WebClient
) -> None:
    refused = error_of(
        client.chat_postMessage, channel=ALICE, text="x", blocks=image_block(slack_file)
    )
    assert refused.response["error"] == "invalid_blocks"
    assert why in refused.response["errors"][0]


def test_only_processed_png_jpeg_gif_files_show_in_image_blocks(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.file_processing_s = 0
    pdf = upload(client, SAMPLES["brief.pdf"][0], filename="brief.pdf")
    corrupt = upload(client, picture()[:40], filename="broken.png")
    webp = upload(client, SAMPLES["photo.webp"][0], filename="photo.webp")  # thumbs, not shown
    gif = upload(client, SAMPLES["anim.gif"][0], filename="anim.gif")
    for file_id in (pdf, corrupt, webp):
        refused = error_of(
            client.chat_postMessage, channel=ALICE, text="x", blocks=image_block({"id": file_id})
        )
        assert "invalid slack file" in refused.response["errors"][0], file_id
    client.chat_postMessage(channel=ALICE, text="x", blocks=image_block({"id": gif}))


def test_image_elements_and_modals_are_checked_too(
    emulator: SlackEmulator, client: WebClient, ticks: Ticks
) -> None:
    file_id = upload(client, picture())
    accessory = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Item"},
            "accessory": {"type": "image", "slack_file": {"id": file_id}, "alt_text": "thumb"},
        }
    ]
    refused = error_of(client.chat_postMessage, channel=ALICE, text="x", blocks=accessory)
    assert refused.response["errors"][0].startswith("blocks[0].accessory.slack_file")
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Item"},
        "blocks": image_block({"id": file_id}),
    }
    trigger = emulator.issue_trigger_id(ALICE)
    assert error_of(client.views_open, trigger_id=trigger, view=modal).response["error"] == (
        "invalid_arguments"
    )
    ticks.advance(PROCESSING_S)
    client.chat_postMessage(channel=ALICE, text="x", blocks=accessory)
    client.views_open(trigger_id=emulator.issue_trigger_id(ALICE), view=modal)


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ({"image_url": "https://x.example/a.png", "slack_file": {"id": "F0123456789"}}, "not both"),
        ({"slack_file": {"id": "F0123456789", "url": "https://x.example/a.png"}}, "exactly one"),
        ({"slack_file": {}}, "exactly one"),
        ({"slack_file": "F0123456789"}, "must be an object"),
        ({}, "image_url or slack_file"),
    ],
)
def test_the_shape_of_an_image_is_checked(
    image: dict[str, Any], problem: str, client: WebClient
) -> None:
    blocks = [{"type": "image", "alt_text": "x", **image}]
    refused = error_of(client.chat_postMessage, channel=ALICE, text="x", blocks=blocks)
    assert any(problem in e for e in refused.response["errors"]), refused.response["errors"]


def test_an_image_needs_alt_text(client: WebClient) -> None:
    blocks = [{"type": "image", "image_url": "https://x.example/a.png"}]
    refused = error_of(client.chat_postMessage, channel=ALICE, text="x", blocks=blocks)
    assert refused.response["errors"] == ["blocks[0].alt_text: is required"]


# ---- retired method, rate limits, scopes -------------------------------------------------------


def test_files_upload_is_retired(client: WebClient) -> None:
    with pytest.warns(UserWarning):  # slack_sdk itself points at files_upload_v2
        failed = error_of(client.files_upload, content="hello", channels="C0GENERAL")
    assert failed.response["error"] == "method_deprecated"


def test_the_tier_4_rate_limit_applies(
    emulator: SlackEmulator, client: WebClient, ticks: Ticks
) -> None:
    method = "files.getUploadURLExternal"
    emulator.set_rate_limit(method, FILE_RATE_LIMITS[method])
    for _ in range(FILE_RATE_LIMITS[method]):
        client.files_getUploadURLExternal(filename="a.png", length=10)
    limited = error_of(client.files_getUploadURLExternal, filename="a.png", length=10)
    assert limited.response.status_code == 429
    assert limited.response["error"] == "ratelimited"
    assert int(limited.response.headers["Retry-After"]) >= 1
    ticks.advance(60)
    client.files_getUploadURLExternal(filename="a.png", length=10)


def test_uploads_need_the_files_write_scope(emulator: SlackEmulator, client: WebClient) -> None:
    emulator.revoke_scope("files:write")
    failed = error_of(client.files_getUploadURLExternal, filename="a.png", length=10)
    assert (failed.response["error"], failed.response["needed"]) == ("missing_scope", "files:write")


def test_reset_forgets_files(emulator: SlackEmulator, client: WebClient) -> None:
    file_id = upload(client, picture())
    emulator.reset()
    assert emulator.files() == [] and emulator.file(file_id) is None


# ---- the bot's outbound calls ------------------------------------------------------------------


@pytest.fixture
def outbound(emulator: SlackEmulator) -> SlackOutbound:
    return SlackOutbound(make_web_client(emulator.bot_token, emulator.api_url))


def test_upload_file_then_file_ready_then_the_image_shows(
    emulator: SlackEmulator, outbound: SlackOutbound, ticks: Ticks
) -> None:
    data = picture()
    file_id = outbound.upload_file(filename="item-7.png", data=data, alt_text="a red square")
    stored = emulator.file(file_id)
    assert stored is not None
    assert (stored["title"], stored["alt_txt"]) == ("item-7.png", "a red square")
    assert emulator.file_bytes(file_id) == data
    assert outbound.file_ready(file_id) is False
    ticks.advance(PROCESSING_S)
    assert outbound.file_ready(file_id) is True
    outbound.post_message(ALICE, text="Item 7", blocks=image_block({"id": file_id}))
    assert emulator.messages(ALICE)[0]["blocks"][0]["slack_file"] == {"id": file_id}


def test_upload_file_can_share_into_a_thread(
    emulator: SlackEmulator, outbound: SlackOutbound
) -> None:
    parent = outbound.post_message(ALICE, text="Item 7")
    file_id = outbound.upload_file(
        filename="clip.wav",
        data=SAMPLES["voice.wav"][0],
        title="Recording",
        channel=parent["channel"],
        thread_ts=parent["ts"],
    )
    [_, reply] = emulator.messages(ALICE)
    assert reply["thread_ts"] == parent["ts"]
    assert [(f["id"], f["title"]) for f in reply["files"]] == [(file_id, "Recording")]


def test_a_file_that_never_gets_thumbnails_is_never_ready_as_an_image(
    emulator: SlackEmulator, outbound: SlackOutbound
) -> None:
    emulator.file_processing_s = 0
    broken = outbound.upload_file(filename="broken.png", data=picture()[:40])
    audio = outbound.upload_file(filename="voice.wav", data=SAMPLES["voice.wav"][0])
    assert outbound.file_ready(broken) is False
    assert outbound.file_ready(audio) is True


@pytest.mark.parametrize("status", [404, 503])
def test_a_failed_byte_upload_raises_slack_api_error(
    status: int, emulator: SlackEmulator, outbound: SlackOutbound
) -> None:
    emulator.fail_next("upload_url", status=status, error="upload failed")
    with pytest.raises(SlackApiError) as caught:
        outbound.upload_file(filename="a.png", data=picture())
    assert caught.value.response.status_code == status
    assert caught.value.response["error"] == "upload_failed"
    assert emulator.files() == []  # never completed
    assert emulator.calls_to("files.completeUploadExternal") == []


def test_a_slack_error_in_a_step_surfaces(emulator: SlackEmulator, outbound: SlackOutbound) -> None:
    emulator.fail_next("files.completeUploadExternal", status=500)
    with pytest.raises(SlackApiError) as caught:
        outbound.upload_file(filename="a.png", data=picture())
    assert caught.value.response.status_code == 500
    assert outbound.upload_file(filename="a.png", data=picture()).startswith("F")
