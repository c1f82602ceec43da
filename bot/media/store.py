"""Quorum's media store: each medium's bytes kept once, named by their sha256.

Layout under the store's root (a local folder, or any fsspec URL: s3://bucket/media, …):
    sha256/ab/cd/<hex>              the original bytes, immutable (ab, cd: the digest's
                                    first two bytes; 65,536 folders keep each one small)
    derived/ab/cd/<hex>/<name>      renders of it (display PNGs, PDF pages), replaceable
    …/.<name>.<random>.tmp          local stores only: a write in progress, beside its object
No sidecar files: what an object is (its sniffed type, its item) is recorded in the
database, the one source of truth, and the object is nothing but its bytes. The sha256 is
the durable reference to keep; `uri()` says where the bytes are now and changes if the
store moves.

Local writes go to a hidden temp file in the object's folder, then are renamed into place
(os.replace): an object's key never holds partial bytes, whatever crashes. (Beside the
object rather than in one shared tmp/ folder: on ext4 that made 10,000 puts take 1 s
instead of 4 s.) No fsync unless the store is opened `durable=True`: it costs a sync per
file (10,000 puts took 9 s instead of 1 s on an SSD, minutes on disks where a sync takes
10 ms), and what a power cut can still do without it, leave a renamed object whose bytes
never reached the disk, is caught: `put` rewrites an object of the wrong size and `get`
checks the bytes against their hash. A crash's leftovers are `.*.tmp` files, never read or
counted as objects (safe to delete while no import runs).
fsspec stores are meant to be object stores (S3, GCS, Azure), where a put is atomic.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import make_url

_HEX = re.compile(r"^[0-9a-f]{64}$")
# A derived object's name: one path segment a person can read ("display.png", "page-3.png").
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
OBJECTS = "sha256"
DERIVED = "derived"
TEMP_SUFFIX = ".tmp"
LOCAL_PROTOCOLS = ("file", "local")


@dataclass(frozen=True)
class StoredMedia:
    """Where `put` left the bytes. `written` is False when the store had them already."""

    sha256: str
    size: int
    uri: str
    written: bool = True


class MediaMissing(LookupError):
    """The store has no (usable) object for that sha256; the message says which."""


class MediaDamaged(MediaMissing):
    """The stored bytes no longer hash to their name (a disk or a hand changed them)."""


def object_key(sha256: str) -> str:
    """The key of the original bytes: sha256/ab/cd/<hex>."""
    digest = _checked_hex(sha256)
    return f"{OBJECTS}/{digest[:2]}/{digest[2:4]}/{digest}"


def derived_key(sha256: str, name: str) -> str:
    """The key of a render of the object: derived/ab/cd/<hex>/<name>."""
    digest = _checked_hex(sha256)
    if not _NAME.match(name):
        raise ValueError(
            f"derived name {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return f"{DERIVED}/{digest[:2]}/{digest[2:4]}/{digest}/{name}"


def _checked_hex(sha256: str) -> str:
    # Keys are built from it: anything but 64 hex digits could climb out of the store.
    digest = sha256.lower()
    if not _HEX.match(digest):
        raise ValueError(f"{sha256!r} is not a sha256 hex digest (64 hex digits)")
    return digest


def default_location(database_url: str, *, cwd: Path | None = None) -> str:
    """The default store: a `media/` folder beside the SQLite database file, or in the
    working folder when there is no such file (PostgreSQL, an in-memory SQLite)."""
    here = (cwd or Path.cwd()).resolve()
    url = make_url(database_url)
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        path = Path(database)
        return str((path if path.is_absolute() else here / path).parent / "media")
    return str(here / "media")


class _Backend(Protocol):
    """What the store needs of a place to keep bytes under keys."""

    location: str

    def read(self, key: str) -> bytes: ...  # FileNotFoundError when absent

    def write(self, key: str, data: bytes) -> None: ...  # whole or not at all

    def size(self, key: str) -> int | None: ...  # None when absent

    def total(self) -> int: ...

    def uri(self, key: str) -> str: ...


class MediaStore:
    """Content-addressed media on a local folder or an fsspec location (see the module
    docstring). Safe to share between threads."""

    def __init__(self, backend: _Backend) -> None:
        self._backend = backend

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str],
        *,
        durable: bool = False,
        storage_options: dict[str, Any] | None = None,
    ) -> MediaStore:
        """The store at `location`: a path or file:// URL (a local folder, created on the
        first write), or another fsspec URL with its `storage_options` (credentials,
        endpoint). `durable` syncs each local write to disk before it is renamed."""
        text = os.fspath(location)
        protocol, sep, rest = text.partition("://")
        if not sep:
            return cls(_LocalBackend(Path(text), durable=durable))
        if protocol.lower() in LOCAL_PROTOCOLS:
            return cls(_LocalBackend(Path(unquote(urlsplit(text).path)), durable=durable))
        return cls(_FsspecBackend(text, storage_options or {}))

    @property
    def location(self) -> str:
        """Where the store is: an absolute folder or the fsspec URL it was opened with."""
        return self._backend.location

    def put(self, data: bytes) -> StoredMedia:
        """Store `data` under its sha256. The same bytes again are not rewritten (unless
        the stored copy has the wrong size, as a power cut can leave it)."""
        digest = hashlib.sha256(data).hexdigest()
        key = object_key(digest)
        written = self._backend.size(key) != len(data)
        if written:
            self._backend.write(key, data)
        return StoredMedia(digest, len(data), self._backend.uri(key), written)

    def get(self, sha256: str) -> bytes:
        """The bytes named `sha256`, checked against it; MediaMissing or MediaDamaged."""
        key = object_key(sha256)
        try:
            data = self._backend.read(key)
        except FileNotFoundError:
            raise MediaMissing(
                f"the media store at {self.location} has no object {sha256} (was the item "
                "imported into another store? QUORUM_MEDIA_STORE names this one)"
            ) from None
        if hashlib.sha256(data).hexdigest() != sha256.lower():
            raise MediaDamaged(
                f"the stored copy of {sha256} at {self._backend.uri(key)} is damaged (its "
                "bytes no longer match their hash): delete it and import the item's media again"
            )
        return data

    def exists(self, sha256: str) -> bool:
        return self._backend.size(object_key(sha256)) is not None

    def uri(self, sha256: str) -> str:
        """Where the object is (or would be): file:///…/sha256/ab/cd/<hex>, s3://…"""
        return self._backend.uri(object_key(sha256))

    def size_on_store(self) -> int:
        """Bytes of every object and render in the store (writes in progress aside)."""
        return self._backend.total()

    def derived(self, sha256: str, name: str) -> str:
        """The key of the render `name` of the object `sha256` (see derived_key)."""
        return derived_key(sha256, name)

    def put_derived(self, sha256: str, name: str, data: bytes) -> str:
        """Store (or replace, for a newer renderer) the render `name` of an object the
        store holds; its uri. MediaMissing for an object not stored: a render of nothing
        would never be cleaned up."""
        key = derived_key(sha256, name)
        if not self.exists(sha256):
            raise MediaMissing(
                f"cannot store the render {name!r}: the media store at {self.location} has "
                f"no object {sha256}"
            )
        self._backend.write(key, data)
        return self._backend.uri(key)

    def get_derived(self, sha256: str, name: str) -> bytes | None:
        """The render `name` of the object, or None when it was not made (yet)."""
        try:
            return self._backend.read(derived_key(sha256, name))
        except FileNotFoundError:
            return None


class _LocalBackend:
    """A folder on this machine; writes are temp file + os.replace."""

    def __init__(self, root: Path, *, durable: bool) -> None:
        self.root = root.expanduser().resolve()
        self.location = str(self.root)
        self.durable = durable
        self._made: set[Path] = set()  # folders known to exist: one mkdir per folder
        self._lock = threading.Lock()

    def _folder(self, path: Path) -> Path:
        if path not in self._made:
            path.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._made.add(path)
        return path

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        target = self.root / key
        folder = self._folder(target.parent)
        temp = folder / f".{target.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
        # 0o644 less the umask, as any file this process creates (mkstemp's 0o600 would
        # hide media from a web server run as another user).
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if self.durable:
            _fsync_folder(folder)

    def size(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            return None

    def total(self) -> int:
        total = 0
        for top in (OBJECTS, DERIVED):
            for folder, _dirs, files in os.walk(self.root / top):
                for name in files:
                    if name.startswith("."):  # a write in progress, or a crash's leftover
                        continue
                    with contextlib.suppress(FileNotFoundError):  # replaced meanwhile
                        total += os.stat(os.path.join(folder, name)).st_size
        return total

    def uri(self, key: str) -> str:
        return (self.root / key).as_uri()


def _fsync_folder(folder: Path) -> None:
    """Sync the folder entry of a renamed file, so the rename itself survives a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FsspecBackend:
    """An fsspec filesystem (an object store: one put is one atomic object)."""

    def __init__(self, url: str, storage_options: dict[str, Any]) -> None:
        from fsspec.core import url_to_fs  # type: ignore[import-untyped]  # no type stubs

        self.location = url.rstrip("/")
        self.fs, root = url_to_fs(url, **storage_options)
        self.root = str(root).rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def read(self, key: str) -> bytes:
        return bytes(self.fs.cat_file(self._path(key)))

    def write(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(self._path(key), data)

    def size(self, key: str) -> int | None:
        try:
            size = self.fs.size(self._path(key))
        except FileNotFoundError:
            return None
        return None if size is None else int(size)

    def total(self) -> int:
        try:
            return int(self.fs.du(self.root, total=True))
        except FileNotFoundError:
            return 0

    def uri(self, key: str) -> str:
        return str(self.fs.unstrip_protocol(self._path(key)))
