"""The media store: bytes kept once under their sha256, on a local folder or an fsspec
location; writes that never leave a partial object; renders kept beside."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

import bot.media.store as store_module
from bot.media.store import MediaDamaged, MediaMissing, MediaStore, default_location

SCAN = b"\x89PNG\r\n\x1a\n" + b"chest x-ray " * 100
SCAN_SHA = hashlib.sha256(SCAN).hexdigest()


@pytest.fixture
def memory_url() -> Iterator[str]:
    url = f"memory://quorum-store-{uuid.uuid4().hex}/media"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path: Path, memory_url: str) -> MediaStore:
    return MediaStore.open(tmp_path / "media" if request.param == "local" else memory_url)


def _files(root: Path) -> list[str]:
    """Every file in the store's folder, objects, renders and anything else."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _object(digest: str) -> str:
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"


def test_put_keeps_the_bytes_under_their_sha256(store):
    stored = store.put(SCAN)
    assert stored.sha256 == SCAN_SHA
    assert stored.size == len(SCAN)
    assert stored.written
    assert stored.uri == store.uri(SCAN_SHA)
    assert stored.uri.endswith(f"/sha256/{SCAN_SHA[:2]}/{SCAN_SHA[2:4]}/{SCAN_SHA}")
    assert store.exists(SCAN_SHA)
    assert store.get(SCAN_SHA) == SCAN
    assert store.get(SCAN_SHA.upper()) == SCAN
    assert store.size_on_store() == len(SCAN)


def test_the_same_bytes_twice_are_one_object(store):
    first = store.put(SCAN)
    again = store.put(bytes(SCAN))
    assert again.uri == first.uri and again.sha256 == first.sha256
    assert not again.written
    assert store.size_on_store() == len(SCAN)


def test_an_unknown_object_is_missing(store):
    other = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(other)
    with pytest.raises(MediaMissing, match=f"has no object {other}"):
        store.get(other)
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.get("../../etc/passwd")


def test_renders_are_kept_beside_their_object(store):
    assert store.size_on_store() == 0
    with pytest.raises(MediaMissing, match="cannot store the render 'display.png'"):
        store.put_derived(SCAN_SHA, "display.png", b"render")
    store.put(SCAN)
    assert store.get_derived(SCAN_SHA, "display.png") is None
    uri = store.put_derived(SCAN_SHA, "display.png", b"render v1")
    assert uri.endswith(store.derived(SCAN_SHA, "display.png"))
    assert store.derived(SCAN_SHA, "page-2.png") == (
        f"derived/{SCAN_SHA[:2]}/{SCAN_SHA[2:4]}/{SCAN_SHA}/page-2.png"
    )
    store.put_derived(SCAN_SHA, "display.png", b"render v2")  # a newer renderer replaces it
    store.put_derived(SCAN_SHA, "page-2.png", b"page")
    assert store.get_derived(SCAN_SHA, "display.png") == b"render v2"
    assert store.get_derived(SCAN_SHA, "page-2.png") == b"page"
    assert store.get(SCAN_SHA) == SCAN
    assert store.size_on_store() == len(SCAN) + len(b"render v2") + len(b"page")
    for name in ("../x.png", "a/b.png", ".hidden", "", "x" * 101):
        with pytest.raises(ValueError, match="derived name"):
            store.derived(SCAN_SHA, name)


def test_a_local_store_is_created_on_the_first_write(tmp_path):
    root = tmp_path / "data" / "media"
    store = MediaStore.open(root)
    assert store.location == str(root)
    assert not root.exists()
    assert store.size_on_store() == 0
    store.put(SCAN)
    path = root / _object(SCAN_SHA)
    assert path.read_bytes() == SCAN
    before = path.stat()
    store.put(SCAN)
    after = path.stat()  # the same bytes again are not written again
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # A file:// URL names the same folder.
    assert MediaStore.open(root.as_uri()).get(SCAN_SHA) == SCAN


@pytest.mark.parametrize("durable", [False, True])
def test_local_writes_leave_no_temp_files(tmp_path, durable):
    root = tmp_path / "media"
    store = MediaStore.open(root, durable=durable)
    for n in range(50):
        store.put(b"image %d" % n)
    store.put_derived(store.put(SCAN).sha256, "display.png", b"render")
    expected = [_object(hashlib.sha256(b"image %d" % n).hexdigest()) for n in range(50)]
    expected += [_object(SCAN_SHA), store.derived(SCAN_SHA, "display.png")]
    assert _files(root) == sorted(expected)  # and nothing else: no temp file left


def test_a_write_that_fails_leaves_neither_an_object_nor_a_temp_file(tmp_path, monkeypatch):
    root = tmp_path / "media"
    store = MediaStore.open(root)

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        store.put(SCAN)
    monkeypatch.undo()
    assert not store.exists(SCAN_SHA)
    assert _files(root) == []
    assert store.put(SCAN).written  # and the next import stores it


def test_a_damaged_local_object_is_caught(tmp_path):
    store = MediaStore.open(tmp_path / "media")
    path = Path(store.put(SCAN).uri.removeprefix("file://"))
    # What a power cut can leave of an unsynced write: the name, short bytes.
    path.write_bytes(SCAN[:10])
    assert store.put(SCAN).written
    assert store.get(SCAN_SHA) == SCAN
    # Same size, other bytes: only the hash can tell.
    path.write_bytes(SCAN[::-1])
    with pytest.raises(MediaDamaged, match="damaged"):
        store.get(SCAN_SHA)


def test_concurrent_puts_of_the_same_bytes_make_one_object(tmp_path):
    root = tmp_path / "media"
    store = MediaStore.open(root)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.put(SCAN))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.uri for r in results} == {store.uri(SCAN_SHA)}
    assert store.get(SCAN_SHA) == SCAN
    assert _files(root) == [_object(SCAN_SHA)]


def test_a_memory_store_answers_with_its_own_urls(memory_url):
    store = MediaStore.open(memory_url + "/")
    assert store.location == memory_url
    stored = store.put(SCAN)
    assert stored.uri.startswith("memory://")
    # Another handle on the same location sees the same objects.
    assert MediaStore.open(memory_url).get(SCAN_SHA) == SCAN
    assert fsspec.filesystem("memory").cat_file(stored.uri) == SCAN


def test_the_default_store_is_beside_the_sqlite_database(tmp_path):
    assert default_location("sqlite:///quorum.db", cwd=tmp_path) == str(tmp_path / "media")
    assert default_location("sqlite:///data/q.db", cwd=tmp_path) == str(tmp_path / "data/media")
    assert default_location("sqlite:////srv/quorum/q.db", cwd=tmp_path) == "/srv/quorum/media"
    assert default_location("sqlite://", cwd=tmp_path) == str(tmp_path / "media")
    assert default_location("postgresql+psycopg://q@db/quorum", cwd=tmp_path) == str(
        tmp_path / "media"
    )
