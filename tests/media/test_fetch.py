"""Fetching an item's media once at import: local paths, data: URIs, http(s) through a
real local server (status, timeouts, the byte cap, redirects, private addresses) and
fsspec URLs, one at a time and many in order."""

from __future__ import annotations

import base64
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
import pytest

from bot.media.fetch import Fetched, FetchError, fetch, fetch_many, shown

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CAP = 100_000


class QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-answer is what these tests are about: no traceback for it."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class MediaServer:
    """A web server on 127.0.0.1 whose paths behave as media hosts do, good and bad."""

    BIG_BYTES = 64_000_000  # far past the cap and past any socket buffer

    def __init__(self) -> None:
        self.released = threading.Event()  # ends /slow's wait at teardown
        self.big_sent = 0
        self.big_finished = False
        self.big_ended = threading.Event()
        self.hits: Counter[str] = Counter()  # requests per path
        media = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                media.hits[self.path] += 1
                name = self.path.split("?", 1)[0].strip("/").replace("-", "_")
                route = getattr(media, "route_" + name, None)
                try:
                    route(self) if route else self._answer(404, b"no such medium")
                except ConnectionError:  # the client hung up, as one that timed out does
                    self.close_connection = True

            def _answer(self, status: int, body: bytes, **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    # -- routes: /name-with-dashes -> route_name_with_dashes ---------------------------

    def route_cxr_png(self, h: Any) -> None:
        h._answer(200, PNG, Content_Type="image/png")

    def route_slow(self, h: Any) -> None:
        self.released.wait(5)
        h._answer(200, PNG)

    def route_drip(self, h: Any) -> None:
        # One byte each 0.05 s: every read is quick, the whole is far too slow.
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(1000):
            if self.released.wait(0.05):
                return
            try:
                h.wfile.write(b"x")
                h.wfile.flush()
            except OSError:
                return

    def route_big(self, h: Any) -> None:
        # No Content-Length: only the streamed count can stop the client.
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"\0" * 65536
        try:
            while self.big_sent < self.BIG_BYTES:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.big_sent += len(chunk)
            h.wfile.write(b"0\r\n\r\n")
            self.big_finished = True
        except OSError:
            h.close_connection = True
        finally:
            self.big_ended.set()

    def route_big_declared(self, h: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(50_000_000))
        h.end_headers()
        h.close_connection = True

    def route_to_png(self, h: Any) -> None:
        h._answer(302, b"", Location="/cxr-png")

    def route_to_file(self, h: Any) -> None:
        h._answer(302, b"", Location="file:///etc/passwd")

    def route_loop(self, h: Any) -> None:
        h._answer(301, b"", Location="/loop")

    def route_private(self, h: Any) -> None:
        expected = "Basic " + base64.b64encode(b"reader:s3cret").decode()
        if h.headers.get("Authorization") == expected:
            h._answer(200, PNG)
        else:
            h._answer(401, b"who are you?")


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    media = MediaServer()
    yield media
    media.stop()


def http(src: str, **options: Any) -> Fetched:
    return fetch(src, base_dir=None, max_bytes=options.pop("max_bytes", CAP), **options)


# -- local files ---------------------------------------------------------------------------


@pytest.fixture
def import_dir(tmp_path: Path) -> Path:
    (tmp_path / "batch" / "images").mkdir(parents=True)
    (tmp_path / "batch" / "images" / "cxr-001.png").write_bytes(PNG)
    (tmp_path / "shared.png").write_bytes(PNG[::-1])
    return tmp_path / "batch"


def test_a_relative_path_is_read_from_the_import_folder(import_dir):
    got = fetch("images/cxr-001.png", base_dir=import_dir, max_bytes=CAP)
    assert got == Fetched(PNG, "images/cxr-001.png", None)


def test_absolute_paths_and_paths_outside_the_import_folder_are_the_users_own_files(import_dir):
    # Allowed from the CLI: the importing user's own machine.
    assert fetch("../shared.png", base_dir=import_dir, max_bytes=CAP).data == PNG[::-1]
    absolute = str(import_dir / "images" / "cxr-001.png")
    assert fetch(absolute, base_dir=import_dir, max_bytes=CAP).data == PNG
    assert fetch(Path(absolute).as_uri(), base_dir=import_dir, max_bytes=CAP).data == PNG


def test_a_missing_file_names_the_folder_looked_in(import_dir):
    with pytest.raises(FetchError) as caught:
        fetch("images/x.png", base_dir=import_dir, max_bytes=CAP)
    assert str(caught.value) == f"file not found: images/x.png (looked in {import_dir.resolve()})"
    with pytest.raises(FetchError, match="is a folder, not a file"):
        fetch("images", base_dir=import_dir, max_bytes=CAP)


def test_without_an_import_folder_paths_are_refused(import_dir):
    with pytest.raises(FetchError, match="relative path.*no import folder"):
        fetch("images/cxr-001.png", base_dir=None, max_bytes=CAP)
    absolute = str(import_dir / "images" / "cxr-001.png")
    for src in (absolute, Path(absolute).as_uri()):
        with pytest.raises(FetchError, match="cannot read the server's files"):
            fetch(src, base_dir=None, max_bytes=CAP)


def test_a_local_file_over_the_cap_is_refused(import_dir):
    with pytest.raises(FetchError, match=r"larger than the 1 kB cap \(the file has 1 kB\)"):
        fetch("images/cxr-001.png", base_dir=import_dir, max_bytes=1000)


# -- data: URIs ----------------------------------------------------------------------------


def test_data_uris_in_base64_and_percent_encoding():
    encoded = base64.b64encode(PNG).decode()
    got = fetch(f"data:image/png;base64,{encoded}", base_dir=None, max_bytes=CAP)
    assert got.data == PNG
    assert got.content_type == "image/png"
    # Line breaks inside the base64 (as editors wrap it) are not part of it.
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert fetch(f"data:;base64,{wrapped}", base_dir=None, max_bytes=CAP).data == PNG
    text = "t,lead_i\n0,0.5\n"
    got = fetch(f"data:text/csv,{quote(text)}", base_dir=None, max_bytes=CAP)
    assert got.data == text.encode()
    assert got.content_type == "text/csv"


@pytest.mark.parametrize(
    ("src", "said"),
    [
        ("data:image/png;base64,iVBORw0KGgo*", "not valid base64"),
        ("data:image/png;base64,iVBORw0KGg", "not valid base64"),  # cut short
        ("data:image/png;base64", "needs a ',' before its data"),
        ("data:text/plain," + "x" * 2000, r"larger than the 1 kB cap \(the data: URI holds 2 kB"),
        ("data:;base64," + "A" * 4000, "larger than the 1 kB cap"),
    ],
)
def test_bad_data_uris_are_refused_with_the_reason(src, said):
    with pytest.raises(FetchError, match=said) as caught:
        fetch(src, base_dir=None, max_bytes=1000)
    assert len(str(caught.value)) < 300  # the message quotes the URI's head, not its bulk


# -- http(s) -------------------------------------------------------------------------------


def test_an_http_medium_is_fetched_with_its_declared_type(server):
    got = http(f"{server.url}/cxr-png")
    assert got.data == PNG
    assert got.content_type == "image/png"


def test_an_http_error_status_is_reported_with_the_url(server):
    with pytest.raises(FetchError) as caught:
        http(f"{server.url}/gone.png")
    assert str(caught.value) == f"HTTP 404 from {server.url}/gone.png"


def test_a_server_that_does_not_answer_times_out(server):
    with pytest.raises(FetchError) as caught:
        http(f"{server.url}/slow", timeout_s=0.3)
    assert str(caught.value) == f"timed out after 0.3 s fetching {server.url}/slow"


def test_a_server_dripping_bytes_is_cut_off_by_the_whole_fetch_deadline(server):
    with pytest.raises(FetchError, match="timed out fetching .*/drip: slower than 100 kB/s"):
        http(f"{server.url}/drip", timeout_s=0.5, max_bytes=1000)


def test_an_oversize_body_is_refused_while_streaming_without_reading_it_all(server):
    with pytest.raises(FetchError) as caught:
        http(f"{server.url}/big")
    assert str(caught.value) == (
        f"{server.url}/big is larger than the 100 kB cap (stopped reading at 100 kB)"
    )
    assert server.big_ended.wait(10)
    assert not server.big_finished  # the client hung up long before the 64 MB were sent


def test_an_announced_oversize_body_is_refused_before_reading(server):
    with pytest.raises(FetchError, match=r"100 kB cap \(the server announced 50 MB\)"):
        http(f"{server.url}/big-declared")


def test_redirects_to_http_are_followed_and_others_refused(server):
    assert http(f"{server.url}/to-png").data == PNG
    with pytest.raises(FetchError) as caught:
        http(f"{server.url}/to-file")
    assert str(caught.value).startswith("redirect to file:///etc/passwd refused: only http(s)")
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        http(f"{server.url}/loop")


def test_credentials_in_a_url_are_sent_but_never_shown(server):
    host = server.url.removeprefix("http://")
    assert http(f"http://reader:s3cret@{host}/private").data == PNG
    with pytest.raises(FetchError) as caught:
        http(f"http://reader:wrong@{host}/private?X-Amz-Signature=abc123")
    assert str(caught.value) == f"HTTP 401 from http://{host}/private?…"
    assert shown(f"https://u:pw@{host}/a.png?sig=1") == f"https://{host}/a.png?…"


def test_private_addresses_are_refused_when_private_hosts_are_not_allowed(server):
    port = server.url.rsplit(":", 1)[1]
    for url, said in [
        (f"{server.url}/cxr-png", "127.0.0.1 is a loopback address"),
        (f"http://localhost:{port}/cxr-png", "localhost resolves to .*, a loopback address"),
        ("http://10.1.2.3/x.png", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
    ]:
        with pytest.raises(FetchError, match=f"refused: {said}; media of items pushed over"):
            http(url, allow_private=False)
    assert http(f"{server.url}/cxr-png", allow_private=True).data == PNG


# -- fsspec --------------------------------------------------------------------------------


@pytest.fixture
def memory_src() -> Iterator[str]:
    url = f"memory://quorum-test-{uuid.uuid4().hex}/cxr.png"
    fs = fsspec.filesystem("memory")
    fs.pipe_file(url, PNG)
    yield url
    fs.rm(url)


def test_an_fsspec_url_is_read(memory_src, import_dir):
    assert fetch(memory_src, base_dir=import_dir, max_bytes=CAP).data == PNG
    # Object stores are allowed for API items too, while private hosts are allowed.
    assert fetch(memory_src, base_dir=None, max_bytes=CAP).data == PNG
    with pytest.raises(FetchError, match="file not found: memory://"):
        fetch(memory_src + ".missing", base_dir=import_dir, max_bytes=CAP)
    with pytest.raises(FetchError, match="larger than the 1 kB cap"):
        fetch(memory_src, base_dir=import_dir, max_bytes=1000)


def test_fsspec_urls_that_could_reach_the_servers_files_are_refused_for_api_items(memory_src):
    with pytest.raises(FetchError, match="server's own credentials"):
        fetch(memory_src, base_dir=None, max_bytes=CAP, allow_private=False)
    for src in (f"simplecache::{memory_src}", "zip://a.png::/etc/archive.zip", "sftp://h/x"):
        with pytest.raises(FetchError, match="may name only object stores"):
            fetch(src, base_dir=None, max_bytes=CAP)


def test_an_unknown_scheme_says_what_a_src_may_be(import_dir):
    with pytest.raises(FetchError, match=r"unknown kind of source nope://.*give a file path"):
        fetch("nope://bucket/x.png", base_dir=import_dir, max_bytes=CAP)


def test_a_missing_fsspec_backend_names_the_package_to_install(import_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # not installed, whatever this machine has
    with pytest.raises(FetchError) as caught:
        fetch("s3://bucket/x.png", base_dir=import_dir, max_bytes=CAP)
    assert str(caught.value) == "s3:// needs the s3fs package (pip install 'quorum[s3]')"


# -- many ----------------------------------------------------------------------------------


def test_fetch_many_keeps_the_order_and_reports_errors_per_src(server, import_dir):
    numbered = [f"data:text/plain,{n}" for n in range(40)]
    srcs = [
        "images/cxr-001.png",
        f"{server.url}/gone.png",
        *numbered[:20],
        f"{server.url}/cxr-png",
        "images/x.png",
        *numbered[20:],
    ]
    results = list(fetch_many(srcs, base_dir=import_dir, max_bytes=CAP, workers=4))
    assert [r.src if isinstance(r, Fetched) else None for r in results] == [
        "images/cxr-001.png",
        None,
        *numbered[:20],
        f"{server.url}/cxr-png",
        None,
        *numbered[20:],
    ]
    assert [r.data for r in results[2:22]] == [str(n).encode() for n in range(20)]
    assert str(results[1]) == f"HTTP 404 from {server.url}/gone.png"
    assert str(results[23]).startswith("file not found: images/x.png")


def test_a_consumer_that_stops_early_does_not_fetch_the_rest(server):
    # An all-or-nothing import stops at its first bad medium: the 40 after it are not
    # fetched, only the few already under way (a window of 2 × workers).
    before = server.hits["/slow"]
    srcs = ["data:,first", *[f"{server.url}/slow"] * 40]
    results = fetch_many(srcs, base_dir=None, max_bytes=CAP, timeout_s=0.2, workers=2)
    first = next(results)
    results.close()
    assert isinstance(first, Fetched) and first.data == b"first"
    assert server.hits["/slow"] - before <= 4
