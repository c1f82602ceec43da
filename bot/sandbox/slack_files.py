"""Slack's file flow for the emulator (bot/sandbox/slack_emulator.py).

Slack uploads in three steps: ``files.getUploadURLExternal`` (filename, length) answers an
``upload_url`` and a ``file_id``; the client POSTs the bytes there (raw or multipart, HTTP
200 means received); ``files.completeUploadExternal`` finalises the files and, with
``channel_id`` / ``channels``, shares them in a message. Slack then processes each file in
the background, with no flag to say when it is done: ``files.info`` shows the file's
``mimetype`` (and an image's ``thumb_*``) once it is. An image block whose ``slack_file``
names an unknown or unprocessed file is refused with ``invalid_blocks``.

``SlackFiles`` keeps the uploads of one emulated workspace and answers those methods; the
emulator registers them, routes the upload and download URLs here, and asks
``image_errors`` about the blocks of every message and view. Processing takes
``host.file_processing_s`` seconds of the emulator's clock after completion.
"""

from __future__ import annotations

import io
import json
import mimetypes
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

MAX_FILE_BYTES = 1024**3  # Slack's cap for one upload (1 GB), as slack_sdk checks it too
MAX_SNIPPET_BYTES = 1024**2
MAX_ALT_TXT = 1000
# Slack does not document how long an upload URL lives; an unused one expires here.
UPLOAD_URL_TTL_S = 10 * 60
DEFAULT_FILE_PROCESSING_S = 0.3
# Slack's rate tiers for the file methods (Tier 4: about 100 a minute). Like the other
# Tier 3/4 methods they are enforced only when a test asks: `set_rate_limit(m, n)`.
FILE_RATE_LIMITS = {
    "files.getUploadURLExternal": 100,
    "files.completeUploadExternal": 100,
    "files.info": 100,
}
FILE_SCOPES = {
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
}
# An image block shows these Slack files only (docs: slack_file composition object).
BLOCK_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
_FILE_ID = re.compile(r"^F[A-Z0-9]{8,}$")  # the pattern Slack checks slack_file.id against
_THUMB_SIZES = (64, 80, 160, 360, 480, 720, 800, 960, 1024)
_ID_CHARS = string.ascii_uppercase + string.digits

# (mimetype, Slack's filetype, Slack's pretty_type) by leading bytes.
_SIGNATURES: tuple[tuple[Callable[[bytes], bool], str, str, str], ...] = (
    (lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "image/png", "png", "PNG"),
    (lambda b: b.startswith(b"\xff\xd8\xff"), "image/jpeg", "jpg", "JPEG"),
    (lambda b: b[:6] in (b"GIF87a", b"GIF89a"), "image/gif", "gif", "GIF"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", "image/webp", "webp", "WebP"),
    (lambda b: b.startswith(b"%PDF-"), "application/pdf", "pdf", "PDF"),
    (lambda b: b[4:8] == b"ftyp" and b[8:11] == b"M4A", "audio/mp4", "m4a", "MPEG 4 Audio"),
    (lambda b: b[4:8] == b"ftyp", "video/mp4", "mp4", "MPEG 4 Video"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE", "audio/wav", "wav", "WAV"),
    (
        lambda b: b.startswith(b"ID3") or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xE0 == 0xE0),
        "audio/mpeg",
        "mp3",
        "MP3",
    ),
    (lambda b: b.startswith(b"OggS"), "audio/ogg", "ogg", "Ogg Vorbis"),
)


class ApiError(Exception):
    """A Web API error answer: HTTP ``status`` with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, *, status: int = 200, extra: dict[str, Any] | None = None):
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}


class FileHost(Protocol):
    """What the file store needs of the emulator it belongs to."""

    base_url: str
    team_id: str
    team_domain: str
    bot_user_id: str
    bot_token: str
    file_processing_s: float
    _clock: Callable[[], float]

    def _resolve_channel(self, channel: Any, *, posting: bool = True) -> str: ...

    def _append_message(
        self, channel_id: str, content: dict[str, Any], *, thread_ts: Any = None
    ) -> dict[str, Any]: ...

    def channel_name(self, channel_id: str) -> str: ...


@dataclass
class _Facts:
    """What processing learns from the bytes."""

    mimetype: str
    filetype: str
    pretty_type: str
    width: int | None = None
    height: int | None = None


@dataclass
class _File:
    id: str
    filename: str
    length: int
    token: str
    issued_at: float
    created: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    data: bytes | None = None
    title: str | None = None
    completed_at: float | None = None
    facts: _Facts | None = None
    shares: list[tuple[str, str]] = field(default_factory=list)  # (channel id, message ts)


class SlackFiles:
    """The uploads and files of one emulated workspace (callers hold the emulator's lock)."""

    def __init__(self, host: FileHost) -> None:
        self.host = host
        self._files: dict[str, _File] = {}
        self._by_token: dict[str, str] = {}

    # ---- Web API methods ------------------------------------------------------------------

    def get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            raise ApiError("invalid_arguments", extra=_messages(["filename: is required"]))
        length = _integer(args.get("length"))
        if length is None or length < 0:
            raise ApiError("invalid_arguments", extra=_messages(["length: must be an integer"]))
        if length == 0:
            raise ApiError("missing_argument")  # Slack's answer to length 0
        if length > MAX_FILE_BYTES:
            raise ApiError("file_upload_size_restricted")
        alt_txt = args.get("alt_txt") or None
        if alt_txt is not None and len(str(alt_txt)) > MAX_ALT_TXT:
            raise ApiError("alt_txt_too_large")
        snippet_type = args.get("snippet_type") or None
        if snippet_type is not None and length > MAX_SNIPPET_BYTES:
            raise ApiError("snippet_too_large")
        file_id = self._new_id()
        token = secrets.token_urlsafe(18)
        self._files[file_id] = _File(
            id=file_id,
            filename=filename,
            length=length,
            token=token,
            issued_at=self.host._clock(),
            created=int(time.time()),
            alt_txt=None if alt_txt is None else str(alt_txt),
            snippet_type=None if snippet_type is None else str(snippet_type),
        )
        self._by_token[token] = file_id
        return {"upload_url": f"{self.host.base_url}/upload/v1/{token}", "file_id": file_id}

    def complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = _file_entries(args.get("files"))
        if args.get("blocks"):
            raise ApiError("not_supported_by_emulator")
        chosen: list[tuple[_File, str | None]] = []
        for entry in entries:
            found = self._files.get(str(entry["id"]))
            # Slack's file_not_found: "Could not find the file from the upload ticket" (an
            # unknown id, bytes never received, or a ticket already completed).
            if found is None or found.data is None or found.completed_at is not None:
                raise ApiError("file_not_found")
            title = entry.get("title")
            chosen.append((found, str(title) if title else None))
        targets = self._share_targets(args)
        thread_ts = args.get("thread_ts") or None
        if thread_ts and len(targets) > 1:
            raise ApiError(
                "invalid_arguments", extra=_messages(["thread_ts: give only one channel"])
            )
        # Share first: a missing thread parent fails the call before anything is completed.
        self._share([upload for upload, _ in chosen], targets, args, thread_ts)
        now = self.host._clock()
        for upload, title in chosen:
            upload.title = title or upload.filename
            upload.completed_at = now
            assert upload.data is not None  # checked above
            upload.facts = _process(upload.data, upload.filename)
            self._by_token.pop(upload.token, None)
        return {"files": [self.file_object(upload.id) for upload, _ in chosen]}

    def info(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._completed(args.get("file"))
        if found is None:
            raise ApiError("file_not_found")
        return {
            "file": self.file_object(found.id),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    # ---- HTTP: the upload URL and the file URLs ---------------------------------------------

    def receive_upload(self, token: str, raw: bytes, content_type: str) -> tuple[int, bytes]:
        """A POST to an upload URL: (HTTP status, text body) as Slack's file service answers."""
        file_id = self._by_token.get(token)
        upload = self._files.get(file_id) if file_id else None
        if upload is None or self.host._clock() - upload.issued_at > UPLOAD_URL_TTL_S:
            return 404, b"Not Found"
        data = _multipart_file(raw, content_type)
        data = raw if data is None else data
        # Slack leaves this case undocumented; the emulator refuses it so that a bot which
        # declares one length and sends another finds out here, not in production.
        if len(data) != upload.length:
            return 400, f"length mismatch: declared {upload.length}, got {len(data)}".encode()
        upload.data = data  # a repeated POST before completion replaces the bytes
        return 200, f"OK - {len(data)}".encode()

    def download(self, path: str, auth_header: str | None) -> tuple[int, bytes, str]:
        """GET of a url_private / thumb URL: (status, body, content type); needs the token."""
        scheme, _, token = (auth_header or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.host.bot_token:
            return 403, b"Forbidden", "text/plain"
        found = self._file_at(path)
        if found is None or found.data is None:
            return 404, b"Not Found", "text/plain"
        if path.startswith("/files-tmb/") and not self._thumbs(found):
            return 404, b"Not Found", "text/plain"
        facts = found.facts if self._processed(found) else None
        return 200, found.data, facts.mimetype if facts else "application/octet-stream"

    # ---- block validation -----------------------------------------------------------------

    def image_errors(self, blocks: Any) -> list[str]:
        """Why Slack would refuse the ``slack_file`` images of these blocks (empty: none)."""
        errors = []
        for path, slack_file in _slack_files(blocks, "blocks"):
            problem = self._slack_file_problem(slack_file)
            if problem is not None:
                errors.append(f"{path}: {problem}")
        return errors

    def _slack_file_problem(self, slack_file: dict[str, Any]) -> str | None:
        if "id" in slack_file:
            file_id = slack_file["id"]
            if not isinstance(file_id, str) or not _FILE_ID.match(file_id):
                return f"input must match regex pattern: {_FILE_ID.pattern} (got {file_id!r})"
            found = self._completed(file_id)
            name = file_id
        elif isinstance(slack_file.get("url"), str):
            found = self._by_url(slack_file["url"])
            name = slack_file["url"]
        else:
            return None  # the shape is blockkit's to check
        if found is None:
            return f"invalid slack file ({name}: no such file)"
        if not self._processed(found):
            return f"invalid slack file ({name}: Slack is still processing it)"
        assert found.facts is not None  # processed files have facts
        if found.facts.mimetype not in BLOCK_IMAGE_TYPES:
            return f"invalid slack file ({name}: {found.facts.mimetype} is not a png, jpeg or gif)"
        if not self._thumbs(found):
            return f"invalid slack file ({name}: the image could not be decoded)"
        return None

    # ---- views for tests and messages -------------------------------------------------------

    def all_files(self) -> list[dict[str, Any]]:
        done = [f for f in self._files.values() if f.completed_at is not None]
        return [self.file_object(f.id) for f in sorted(done, key=lambda f: f.completed_at or 0)]

    def find(self, file_id: str) -> dict[str, Any] | None:
        return self.file_object(file_id) if self._completed(file_id) else None

    def bytes_of(self, file_id: str) -> bytes:
        found = self._files.get(file_id)
        if found is None or found.data is None:
            raise KeyError(f"no bytes received for file {file_id}")
        return found.data

    def expand(self, message: dict[str, Any]) -> None:
        """Show a file share's files as they are now (processing may have finished)."""
        if isinstance(message.get("files"), list):
            message["files"] = [
                self.file_object(f["id"]) if self._completed(f.get("id")) else f
                for f in message["files"]
            ]

    def file_object(self, file_id: str) -> dict[str, Any]:
        """The file as files.info shows it: without type and thumbs until processed."""
        f = self._files[file_id]
        private = f"{self.host.base_url}/files-pri/{self.host.team_id}-{f.id}"
        name = quote(f.filename)
        shares = self._shares_view(f)
        obj: dict[str, Any] = {
            "id": f.id,
            "created": f.created,
            "timestamp": f.created,
            "name": f.filename,
            "title": f.title or f.filename,
            "user": self.host.bot_user_id,
            "user_team": self.host.team_id,
            "editable": False,
            "size": len(f.data or b""),
            "mode": "snippet" if f.snippet_type else "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(shares.get("public")),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{private}/{name}",
            "url_private_download": f"{private}/download/{name}",
            "permalink": (
                f"https://{self.host.team_domain}.slack.com/files/"
                f"{self.host.bot_user_id}/{f.id}/{name}"
            ),
            "permalink_public": (
                f"https://slack-files.com/{self.host.team_id}-{f.id}-{f.token[:10].lower()}"
            ),
            "file_access": "visible",
            "has_rich_preview": False,
            "comments_count": 0,
            "channels": [c for c, _ in f.shares if c.startswith("C")],
            "groups": [c for c, _ in f.shares if c.startswith("G")],
            "ims": [c for c, _ in f.shares if c.startswith("D")],
        }
        if shares:
            obj["shares"] = shares
        if f.alt_txt:
            obj["alt_txt"] = f.alt_txt
        if not self._processed(f) or f.facts is None:
            return obj
        facts = f.facts
        obj.update(
            {
                "mimetype": facts.mimetype,
                "filetype": facts.filetype,
                "pretty_type": facts.pretty_type,
            }
        )
        if facts.width and facts.height:
            obj["original_w"], obj["original_h"] = facts.width, facts.height
            obj.update(self._thumb_fields(f, facts.width, facts.height))
        return obj

    # ---- helpers --------------------------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            file_id = "F" + "".join(secrets.choice(_ID_CHARS) for _ in range(10))
            if file_id not in self._files:
                return file_id

    def _completed(self, file_id: Any) -> _File | None:
        found = self._files.get(file_id) if isinstance(file_id, str) else None
        return found if found is not None and found.completed_at is not None else None

    def _processed(self, f: _File) -> bool:
        if f.completed_at is None:
            return False
        return self.host._clock() - f.completed_at >= self.host.file_processing_s

    def _thumbs(self, f: _File) -> bool:
        """Slack makes thumbnails of images it can decode, once processed."""
        return (
            self._processed(f)
            and f.facts is not None
            and f.facts.mimetype.startswith("image/")
            and bool(f.facts.width)
        )

    def _thumb_fields(self, f: _File, width: int, height: int) -> dict[str, Any]:
        base = f"{self.host.base_url}/files-tmb/{self.host.team_id}-{f.id}"
        stem = quote(f.filename.rsplit(".", 1)[0] or "file")
        ext = {"image/jpeg": "jpg", "image/gif": "gif"}.get(f.facts.mimetype if f.facts else "")
        fields: dict[str, Any] = {}
        longest = max(width, height)
        for size in _THUMB_SIZES:
            # Small thumbs always exist; larger ones only when the original is larger.
            if size > 360 and longest <= size:
                continue
            fields[f"thumb_{size}"] = f"{base}/{stem}_{size}.{ext or 'png'}"
            if size >= 360:
                scale = min(1.0, size / longest)
                fields[f"thumb_{size}_w"] = max(1, round(width * scale))
                fields[f"thumb_{size}_h"] = max(1, round(height * scale))
        return fields

    def _by_url(self, url: str) -> _File | None:
        for f in self._files.values():
            if f.completed_at is None:
                continue
            obj = self.file_object(f.id)
            if url in (obj["url_private"], obj["url_private_download"], obj["permalink"]):
                return f
        return None

    def _file_at(self, path: str) -> _File | None:
        """The file a /files-pri/ or /files-tmb/ path names (T…-F…/…)."""
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] not in ("files-pri", "files-tmb"):
            return None
        team, _, file_id = parts[1].partition("-")
        return self._completed(file_id) if team == self.host.team_id else None

    def _share_targets(self, args: dict[str, Any]) -> list[str]:
        named = [str(args["channel_id"])] if args.get("channel_id") else []
        named += [c.strip() for c in str(args.get("channels") or "").split(",") if c.strip()]
        targets: list[str] = []
        for channel in named:
            try:
                channel_id = self.host._resolve_channel(channel)
            except ApiError as exc:
                if exc.error == "channel_not_found":
                    raise ApiError("invalid_channel") from None
                raise
            if channel_id not in targets:
                targets.append(channel_id)
        return targets

    def _share(
        self, uploads: list[_File], targets: list[str], args: dict[str, Any], thread_ts: Any
    ) -> None:
        """Post the file share message in each target, as Slack does after completion."""
        comment = args.get("initial_comment")
        for channel_id in targets:
            content = {
                "text": str(comment or ""),
                "files": [{"id": u.id} for u in uploads],
                "upload": True,
                "display_as_bot": False,
            }
            message = self.host._append_message(channel_id, content, thread_ts=thread_ts)
            for upload in uploads:
                upload.shares.append((channel_id, message["ts"]))

    def _shares_view(self, f: _File) -> dict[str, dict[str, list[dict[str, Any]]]]:
        shares: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for channel_id, ts in f.shares:
            kind = "public" if channel_id.startswith("C") else "private"
            shares.setdefault(kind, {}).setdefault(channel_id, []).append(
                {
                    "ts": ts,
                    "channel_name": self.host.channel_name(channel_id),
                    "team_id": self.host.team_id,
                    "reply_users": [],
                    "reply_users_count": 0,
                    "reply_count": 0,
                    "share_user_id": self.host.bot_user_id,
                    "source": "UNKNOWN",
                }
            )
        return shares


def _process(data: bytes, filename: str) -> _Facts:
    """Sniff the type from the bytes (the name only as a last resort), read image sizes."""
    for matches, mimetype, filetype, pretty in _SIGNATURES:
        if matches(data[:16]):
            facts = _Facts(mimetype, filetype, pretty)
            break
    else:
        guessed = mimetypes.guess_type(filename)[0]
        if guessed and not guessed.startswith(("image/", "audio/", "video/")):
            facts = _Facts(guessed, filename.rsplit(".", 1)[-1].lower(), guessed)
        elif _is_text(data):
            facts = _Facts("text/plain", "text", "Plain Text")
        else:
            facts = _Facts("application/octet-stream", "binary", "Binary")
    if facts.mimetype.startswith("image/"):
        facts.width, facts.height = _image_size(data)
    return facts


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image  # matplotlib's dependency; only the emulator reads images

        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a truncated or corrupt image fails here, as Slack's thumbnailer would
            return image.size
    except Exception:  # any undecodable image: Slack makes no thumbnails of it
        return None, None


def _is_text(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _multipart_file(raw: bytes, content_type: str) -> bytes | None:
    """The file part of a multipart/form-data body (``file`` or any part with a filename)."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if "multipart/form-data" not in content_type.lower() or found is None:
        return None
    for part in raw.split(b"--" + found[1].encode())[1:]:
        if part.startswith(b"--"):
            break
        head, sep, body = part.partition(b"\r\n\r\n")
        disposition = head.decode("latin-1").lower()
        if sep and ("filename=" in disposition or 'name="file"' in disposition):
            return body[:-2] if body.endswith(b"\r\n") else body
    return None


def _slack_files(blocks: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, slack_file) of every image block or image element, at any depth."""
    if isinstance(blocks, list):
        for i, item in enumerate(blocks):
            yield from _slack_files(item, f"{path}[{i}]")
    elif isinstance(blocks, dict):
        if blocks.get("type") == "image" and isinstance(blocks.get("slack_file"), dict):
            yield f"{path}.slack_file", blocks["slack_file"]
        for key, value in blocks.items():
            if key != "slack_file" and isinstance(value, dict | list):
                yield from _slack_files(value, f"{path}.{key}")


def _file_entries(files: Any) -> list[dict[str, Any]]:
    if isinstance(files, str):
        try:
            files = json.loads(files)
        except ValueError:
            raise ApiError("invalid_arguments", extra=_messages(["files: invalid JSON"])) from None
    if (
        not isinstance(files, list)
        or not files
        or not all(isinstance(f, dict) and f.get("id") for f in files)
    ):
        raise ApiError(
            "invalid_arguments", extra=_messages(["files: must be a list of {id, title}"])
        )
    return files


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _messages(errors: list[str]) -> dict[str, Any]:
    return {"response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}
