"""`quorum export --with-media DIR`: the media of the exported labels copied beside the
export, and the rows pointing at the copies, so the folder trains on another machine.

Each medium is copied once, named by its sha256 with the extension of its MIME type;
the rows' `media[].uri`, `images` and image parts' urls become paths relative to the
export file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson

from bot.exports.writers import encode
from bot.media.limits import EXTENSIONS
from bot.media.sniff import sniff
from bot.media.store import MediaStore

# A store location ends in the object's sha256 (bot/media/store.py object_key).
_STORED = re.compile(r"/sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


class MediaCopier:
    """Wraps a row sink: copies what each row references, rewrites the references."""

    def __init__(self, sink: Any, store: MediaStore, folder: Path, relative_to: Path) -> None:
        self.sink = sink
        self.store = store
        self.folder = folder
        self.relative_to = relative_to
        self._copied: dict[str, str] = {}  # sha256 -> path written in rows
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def rows(self) -> int:
        return int(self.sink.rows)

    @property
    def copied(self) -> int:
        return len(self._copied)

    def write(self, row: dict[str, Any]) -> None:
        references = row.get("media")
        if isinstance(references, list):
            row = {**row, "media": [self._reference(r) for r in references]}
        elif isinstance(references, str):  # the labels format's JSON text
            row = {**row, "media": encode([self._reference(r) for r in orjson.loads(references)])}
        if isinstance(row.get("content"), str):
            row = {**row, "content": encode(self._parts(orjson.loads(row["content"])))}
        if isinstance(row.get("images"), list):
            row = {**row, "images": [self._image(location) for location in row["images"]]}
        self.sink.write(self._parts(row))

    def _parts(self, value: Any) -> Any:
        """The row with every `image_url` content part pointing at its copy."""
        if isinstance(value, list):
            return [self._parts(v) for v in value]
        if not isinstance(value, dict):
            return value
        if value.get("type") == "image_url" and isinstance(value.get("image_url"), dict):
            url = str(value["image_url"].get("url") or "")
            if _STORED.search(url):
                return {**value, "image_url": {**value["image_url"], "url": self._image(url)}}
            return value
        return {key: self._parts(v) for key, v in value.items()}

    def close(self) -> None:
        self.sink.close()

    def _reference(self, reference: dict[str, Any]) -> dict[str, Any]:
        sha256 = str(reference.get("sha256") or "")
        if not sha256:
            return reference
        return {**reference, "uri": self._copy(sha256, str(reference.get("mime") or ""))}

    def _image(self, location: str) -> str:
        # `images` hold store locations, whose last part is the object's sha256.
        return self._copy(Path(location).name, "")

    def _copy(self, sha256: str, mime: str) -> str:
        if sha256 not in self._copied:
            data = self.store.get(sha256)  # checked against its hash
            mime = mime or sniff(data) or ""
            target = self.folder / f"{sha256}{EXTENSIONS.get(mime, '')}"
            if not target.exists():
                partial = target.with_name(f".{target.name}.partial")
                partial.write_bytes(data)
                os.replace(partial, target)
            self._copied[sha256] = os.path.relpath(target, self.relative_to)
        return self._copied[sha256]
