"""`--with-media`'s copier on the rows of every format: references, `images` and OpenAI
image parts all end up pointing at one copy per medium, relative to the export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.content.media import media_location
from bot.exports.media import MediaCopier
from bot.media.store import MediaStore
from tests.factories import png_file


class Rows:
    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    @property
    def rows(self) -> int:
        return len(self.written)

    def write(self, row: dict[str, Any]) -> None:
        self.written.append(row)

    def close(self) -> None:
        pass


def test_every_reference_to_a_medium_points_at_its_one_copy(tmp_path: Path):
    store = MediaStore.open(tmp_path / "store")
    stored = store.put(png_file(tmp_path / "a.png", (5, 5, 5)))
    location = media_location({"uri": stored.uri})
    reference = {"field": "image", "src": "a.png", "uri": stored.uri, "sha256": stored.sha256}
    row = {
        "id": "x",
        "media": [{**reference, "mime": "image/png", "size": stored.size}],
        "images": [location],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": location}},
                    {"type": "image_url", "image_url": {"url": "https://example.org/kept.png"}},
                ],
            }
        ],
    }
    rows = Rows()
    copier = MediaCopier(rows, store, tmp_path / "out" / "media", relative_to=tmp_path / "out")
    copier.write(row)
    [written] = rows.written
    copy = f"media/{stored.sha256}.png"
    assert written["media"][0]["uri"] == copy
    assert written["images"] == [copy]
    parts = written["messages"][0]["content"]
    assert parts[1]["image_url"]["url"] == copy
    assert parts[2]["image_url"]["url"] == "https://example.org/kept.png"  # not ours: as is
    assert copier.copied == 1
    assert (tmp_path / "out" / copy).read_bytes() == store.get(stored.sha256)
