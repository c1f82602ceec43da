"""The media of records being imported: every `src` fetched once, checked (its type
sniffed from the bytes, its size within the cap of its media type, decodable), hashed,
and given the renditions reviewers see; all of it staged on local disk. The media store
gets it only once the import is known good: after the whole input validated and the
database took every item (`import_records` calls `store`), so a refused import stores
nothing.

Items are resolved in windows (a few dozen at a time, fetched in parallel): memory stays
flat however many media an import names. Objects of an import whose transaction then
fails to commit stay in the store unreferenced (content-addressed, they harm nothing)."""

from __future__ import annotations

import copy
import hashlib
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.audit.chain import canonical_json, content_hash
from bot.content.media import export_reference, media_of, media_type_of
from bot.content.parts import media_source, source_key
from bot.intake.renditions import renditions
from bot.intake.staging import StagedItem
from bot.media.checks import check
from bot.media.errors import MediaError
from bot.media.fetch import Fetched, FetchError, fetch_many
from bot.media.limits import MAX_BYTES
from bot.media.store import MediaStore
from bot.runtime.settings import Settings, get_settings

WINDOW = 64  # items resolved together: their media are fetched in parallel


@dataclass(frozen=True)
class MediaProblem:
    line: int
    problem: str


@dataclass(frozen=True)
class Medium:
    """One medium of one staged item: where it sits in the item, and its media type."""

    item: int  # index in the window
    path: str  # e.g. "image", "responses.1.image"
    media_type: str
    fields: dict[str, Any]  # the item content's own dict for it: facts are written into it
    given: dict[str, Any]  # the fields as the caller gave them


@dataclass
class MediaIntake:
    store: MediaStore
    base_dir: Path | None  # relative `src` resolve against it; None: refused (REST API)
    allow_private: bool = True
    timeout_s: float = 20.0
    _folder: Path = field(init=False)
    _originals: set[str] = field(init=False, default_factory=set)
    _renditions: set[tuple[str, str]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="quorum-media-"))
        # The staged bytes go with the intake, even when nobody calls close().
        weakref.finalize(self, shutil.rmtree, self._folder, True)

    @classmethod
    def for_import(cls, base_dir: Path | None, settings: Settings | None = None) -> MediaIntake:
        """The intake of one import. Without an import folder (`base_dir` None: items
        pushed over the REST API) private addresses are refused unless the settings
        allow them."""
        settings = settings or get_settings()
        return cls(
            MediaStore.open(settings.media_store_url()),
            base_dir=base_dir,
            allow_private=base_dir is not None or settings.quorum_media_allow_private,
            timeout_s=settings.quorum_media_fetch_timeout_s,
        )

    def resolve(self, items: list[StagedItem]) -> Iterator[StagedItem | MediaProblem]:
        """Each item with its media's facts in its content (and its content hash over
        them), or the problems of an item whose media could not be taken."""
        media = [
            Medium(index, path, media_type_of(path), fields, dict(fields))
            for index, item in enumerate(items)
            for path, fields in media_of(item.content)
        ]
        problems: dict[int, list[str]] = {}
        for medium, result in self._fetched(media):
            problem = self._take(medium, result)
            if problem:
                where = f"{medium.path}.{source_key(medium.given)}" if result else medium.path
                problems.setdefault(medium.item, []).append(f"field `{where}`: {problem}")
        taken: dict[int, list[Medium]] = {}
        for medium in media:
            taken.setdefault(medium.item, []).append(medium)
        for index, item in enumerate(items):
            if index in problems:
                yield from (MediaProblem(item.line, problem) for problem in problems[index])
            elif index in taken:
                references = [{"field": m.path, **export_reference(m.fields)} for m in taken[index]]
                yield item._replace(content_hash=_hash(item, taken[index]), media=references)
            else:
                yield item

    def _fetched(self, media: list[Medium]) -> Iterator[tuple[Medium, Fetched | FetchError | None]]:
        """Each medium with its bytes (None: an inline time series), fetched in parallel
        per media type, each under its own type's cap."""
        for medium in media:
            if _inline_series(medium):
                yield medium, None
        for media_type in sorted({m.media_type for m in media}):
            group = [m for m in media if m.media_type == media_type and not _inline_series(m)]
            fetched = fetch_many(
                [media_source(m.given) for m in group],
                base_dir=self.base_dir,
                max_bytes=MAX_BYTES[media_type],
                timeout_s=self.timeout_s,
                allow_private=self.allow_private,
            )
            yield from zip(group, fetched, strict=True)

    def _take(self, medium: Medium, result: Fetched | FetchError | None) -> str | None:
        """Check, render and stage one medium (`result` None: an inline time series, whose
        canonical JSON is the stored object); the problem, if it cannot be taken."""
        if isinstance(result, FetchError):
            return str(result)
        data = canonical_json(medium.given).encode() if result is None else result.data
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            bytes_in = b"" if result is None else data
            facts = check(medium.media_type, bytes_in, medium.given)
            made = renditions(medium.media_type, bytes_in, medium.given, facts, sha256)
        except MediaError as exc:
            return str(exc)
        except Exception as exc:  # a decoder's or renderer's own failure: still this line's
            return f"cannot be read or drawn ({type(exc).__name__}: {str(exc)[:200]})"
        self._stage(sha256, data)
        for name, image in made.images.items():
            self._stage_rendition(sha256, name, image)
        medium.fields.update(
            sha256=sha256,
            mime=facts.mime,
            size=len(data),
            uri=self.store.uri(sha256),
            renditions=made.names,
        )
        medium.fields.update({k: v for k, v in made.facts.items() if v is not None})
        return None

    def _stage(self, sha256: str, data: bytes) -> None:
        if sha256 not in self._originals:
            (self._folder / sha256).write_bytes(data)
            self._originals.add(sha256)

    def _stage_rendition(self, sha256: str, name: str, data: bytes) -> None:
        if (sha256, name) not in self._renditions:
            (self._folder / f"{sha256}.{name}").write_bytes(data)
            self._renditions.add((sha256, name))

    def store_staged(self) -> None:
        """Write what was staged to the store (objects it has already are not rewritten)."""
        for sha256 in sorted(self._originals):
            self.store.put((self._folder / sha256).read_bytes())  # a no-op when stored
        for sha256, name in sorted(self._renditions):
            if self.store.get_derived(sha256, name) is None:
                self.store.put_derived(
                    sha256, name, (self._folder / f"{sha256}.{name}").read_bytes()
                )

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def _inline_series(medium: Medium) -> bool:
    return medium.media_type == "timeseries" and "src" not in medium.given


def _hash(item: StagedItem, media: list[Medium]) -> str:
    """The content hash of an item with media: over what the caller gave, each medium
    with its bytes' sha256, so an id imported again with other bytes behind the same
    `src` is a change, and where the store is (or what Quorum derives) is not."""
    content = copy.deepcopy(item.content)
    for medium in media:
        _put(content, medium.path, {**medium.given, "sha256": medium.fields["sha256"]})
    dump: dict = {"id": item.external_id, **content}
    if item.meta is not None:
        dump["metadata"] = item.meta
    if item.gold is not None:
        dump["gold"] = item.gold
    return content_hash(dump)


def _put(content: Any, path: str, value: dict) -> None:
    *steps, last = path.split(".")
    for step in steps:
        content = content[int(step)] if isinstance(content, list) else content[step]
    content[last] = value
