"""Fetch the bytes of one medium from where an item's `src` says it is, once, at import.

A `src` is one of:
- a file path, relative to the import file's folder (`base_dir`), or absolute. Only the
  CLI has such a folder; with `base_dir=None` (items pushed over the REST API) paths are
  refused, since they would name the server's own files. A relative path may climb out of
  `base_dir` (`../shared/x.png`): it is the importing user's own machine.
- an `http(s)://` URL, fetched with httpx: per-phase timeouts and a whole-fetch deadline,
  the body streamed under a byte cap, at most MAX_REDIRECTS redirects followed by hand and
  only to http(s). With `allow_private=False` every hop's host must resolve to public
  addresses only, and connections go to the very addresses checked (bot/webhooks/targets.py).
- a `data:` URI (RFC 2397), base64 or percent-encoded.
- a URL fsspec knows (s3://, gs://, memory://, …) when fsspec and the protocol's package
  are installed. Those are read with the server's own credentials, so with
  `allow_private=False` they are refused, and without `base_dir` only object stores are
  allowed (not `file://`, `zip::…` chains or other ways back to local files). fsspec's own
  timeouts apply to them.

Every failure is a FetchError whose message says what to fix. URLs in messages lose their
`user:password@` part and query string (where presigned URLs keep their signatures).
"""

from __future__ import annotations

import base64
import binascii
import re
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import httpcore
import httpx

from bot.webhooks.targets import GuardedBackend, TargetRefused, address_problem, resolve

MAX_REDIRECTS = 5
# A whole HTTP fetch may take timeout_s plus max_bytes at this rate: a server that drips a
# byte just inside each read timeout cannot hold an import thread for hours.
MIN_BYTES_PER_S = 100_000
FETCH_WORKERS = 8
USER_AGENT = "Quorum-Media/1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# fsspec protocols allowed without an import folder: remote object stores (and the
# in-process memory store), none of which reaches the server's local files.
OBJECT_STORES = frozenset(
    {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "hf", "memory"}
)
# The package behind a protocol -> Quorum's extra that installs it.
EXTRAS = {"s3fs": "s3", "gcsfs": "gcs", "adlfs": "azure"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
SHOWN_CHARS = 120


@dataclass(frozen=True)
class Fetched:
    """One medium's bytes; `content_type` is what the source declared (informational: the
    bytes are sniffed, never trusted by their label)."""

    data: bytes
    src: str
    content_type: str | None


class FetchError(ValueError):
    """The medium could not be fetched; the message says why, for a person."""


def fetch(
    src: str,
    *,
    base_dir: Path | None,
    max_bytes: int,
    timeout_s: float = 20.0,
    allow_private: bool = True,
) -> Fetched:
    """The bytes at `src` (see the module docstring for the rules), or FetchError."""
    with _Fetcher(
        base_dir=base_dir, max_bytes=max_bytes, timeout_s=timeout_s, allow_private=allow_private
    ) as fetcher:
        return fetcher.fetch(src)


def fetch_many(
    srcs: Iterable[str],
    *,
    base_dir: Path | None,
    max_bytes: int,
    timeout_s: float = 20.0,
    allow_private: bool = True,
    workers: int = FETCH_WORKERS,
) -> Iterator[Fetched | FetchError]:
    """One result per src, in the order given: the Fetched bytes or the FetchError that
    src met (one bad src does not stop the others). `workers` threads share one HTTP
    client; at most 2 × workers results are held at once, so an import of 10,000 images
    can store each as it comes instead of holding them all."""
    window = max(1, workers) * 2
    fetcher = _Fetcher(
        base_dir=base_dir, max_bytes=max_bytes, timeout_s=timeout_s, allow_private=allow_private
    )
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="media-fetch")
    pending: deque[Future[Fetched | FetchError]] = deque()
    try:
        for src in srcs:
            pending.append(pool.submit(fetcher.fetch_or_error, src))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        # A consumer that stops early (an all-or-nothing import that met an error) does
        # not wait for the sources it will never look at.
        pool.shutdown(wait=True, cancel_futures=True)
        fetcher.close()


def shown(src: str) -> str:
    """`src` as it may appear in a message or a log: no credentials, no bulk."""
    scheme = _scheme(src)
    if scheme == "data":
        return src.partition(",")[0][:40] + ",…"
    if scheme in ("http", "https"):
        try:
            parts = urlsplit(src)
            netloc = parts.netloc.rpartition("@")[2]
            text = f"{parts.scheme}://{netloc}{parts.path}" + ("?…" if parts.query else "")
        except ValueError:
            text = src.split("?", 1)[0].rpartition("@")[2]
    else:
        text = src
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _scheme(src: str) -> str | None:
    """The URL scheme of `src`, lower case, or None for a file path (a one-letter
    "scheme" is a Windows drive: C:\\scans\\a.png)."""
    match = _SCHEME.match(src)
    if match is None or len(match.group(1)) == 1:
        return None
    return match.group(1).lower()


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}".removesuffix(".0") + " MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f}".removesuffix(".0") + " kB"
    return f"{n} bytes"


class _Fetcher:
    """The settings of one import and the HTTP client its fetches share (httpx's Client
    may be used from several threads)."""

    def __init__(
        self, *, base_dir: Path | None, max_bytes: int, timeout_s: float, allow_private: bool
    ) -> None:
        self.base_dir = base_dir
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()  # fetch_many's threads ask for it at once

    def __enter__(self) -> _Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def fetch_or_error(self, src: str) -> Fetched | FetchError:
        try:
            return self.fetch(src)
        except FetchError as exc:
            return exc

    def fetch(self, src: str) -> Fetched:
        text = src.strip()
        if not text:
            raise FetchError("the media src is empty")
        scheme = _scheme(text)
        if scheme is None:
            return Fetched(self._read_path(Path(text), src), src, None)
        if scheme == "file":
            return Fetched(self._read_path(self._file_url_path(text), src), src, None)
        if scheme in ("http", "https"):
            return self._fetch_http(text, src)
        if scheme == "data":
            return self._decode_data_uri(text, src)
        return self._fetch_fsspec(text, scheme, src)

    def _too_large(self, src: str, detail: str) -> FetchError:
        cap = _size(self.max_bytes)
        return FetchError(f"{shown(src)} is larger than the {cap} cap ({detail})")

    # -- local files -------------------------------------------------------------------

    def _file_url_path(self, text: str) -> Path:
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(
                f"{shown(text)} names the host {parts.netloc!r}: a file:// URL must name a "
                "file on this machine (file:///absolute/path)"
            )
        return Path(unquote(parts.path))

    def _read_path(self, path: Path, src: str) -> bytes:
        if self.base_dir is None:
            if path.is_absolute():
                raise FetchError(
                    f"{src} is a local path, and items pushed over the API cannot read the "
                    "server's files: give an http(s) URL or a data: URI"
                )
            raise FetchError(
                f"{src} is a relative path, and items pushed over the API have no import "
                "folder to resolve it against: give an http(s) URL or a data: URI (or "
                "import the file with `quorum import`)"
            )
        full = path if path.is_absolute() else self.base_dir / path
        looked = "" if path.is_absolute() else f" (looked in {self.base_dir.resolve()})"
        try:
            info = full.stat()
            if stat.S_ISDIR(info.st_mode):
                raise FetchError(f"{src} is a folder, not a file{looked}")
            if not stat.S_ISREG(info.st_mode):
                # A FIFO would block the import, /dev/zero would never end.
                raise FetchError(f"{src} is not a regular file{looked}")
            if info.st_size > self.max_bytes:
                raise self._too_large(src, f"the file has {_size(info.st_size)}")
            with full.open("rb") as handle:
                data = handle.read(self.max_bytes + 1)  # the file may grow meanwhile
        except FileNotFoundError:
            raise FetchError(f"file not found: {src}{looked}") from None
        except PermissionError:
            raise FetchError(f"cannot read {src}: permission denied{looked}") from None
        except OSError as exc:
            raise FetchError(f"cannot read {src}: {exc.strerror or exc}{looked}") from None
        if len(data) > self.max_bytes:
            raise self._too_large(src, f"stopped reading at {_size(self.max_bytes)}")
        return data

    # -- data: URIs --------------------------------------------------------------------

    def _decode_data_uri(self, text: str, src: str) -> Fetched:
        header, comma, payload = text[len("data:") :].partition(",")
        if not comma:
            raise FetchError(f"{shown(src)}: a data: URI needs a ',' before its data")
        params = [part.strip() for part in header.split(";")]
        is_base64 = params[-1].lower() == "base64"
        content_type = ";".join(params[:-1] if is_base64 else params) or None
        if is_base64:
            encoded = re.sub(r"\s+", "", unquote(payload))
            if len(encoded) // 4 * 3 > self.max_bytes + 2:
                raise self._too_large(src, "judged by the data: URI's length")
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise FetchError(f"{shown(src)}: data: URI is not valid base64 ({exc})") from None
        else:
            data = unquote_to_bytes(payload)
        if len(data) > self.max_bytes:
            raise self._too_large(src, f"the data: URI holds {_size(len(data))}")
        return Fetched(data, src, content_type)

    # -- http(s) -----------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = _make_client(
                    timeout_s=self.timeout_s, guarded=not self.allow_private
                )
            return self._client

    def _check_host(self, url: httpx.URL, src: str) -> None:
        """Without allow_private: refuse a host with any non-public address (which one
        a connection would use is not ours to choose)."""
        if self.allow_private:
            return
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = resolve(url.host, port)
        except TargetRefused as exc:
            raise FetchError(f"cannot fetch {shown(str(url))}: {exc}") from None
        for address in addresses:
            problem = address_problem(address)
            if problem:
                where = (
                    f"{address} is" if url.host == address else f"{url.host} resolves to {address},"
                )
                raise FetchError(
                    f"{shown(str(url))} refused: {where} {problem}; media of items pushed "
                    "over the API may come only from public hosts (a private network's "
                    "need QUORUM_MEDIA_ALLOW_PRIVATE=true)"
                )

    def _fetch_http(self, text: str, src: str) -> Fetched:
        try:
            url = httpx.URL(text)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{shown(src)} is not a valid URL ({exc})") from None
        if not url.host:
            raise FetchError(f"{shown(src)} names no host")
        # Credentials in the URL travel as Basic auth, to that origin only, and stay out
        # of httpx's request log.
        auth = httpx.BasicAuth(url.username, url.password) if url.userinfo else None
        url = url.copy_with(userinfo=b"") if url.userinfo else url
        origin = (url.scheme, url.host, url.port)
        deadline = time.monotonic() + self.timeout_s + self.max_bytes / MIN_BYTES_PER_S
        for _ in range(MAX_REDIRECTS + 1):
            self._check_host(url, src)
            hop_auth = auth if (url.scheme, url.host, url.port) == origin else None
            try:
                with self.client.stream("GET", url, auth=hop_auth) as response:
                    status = response.status_code
                    if status in REDIRECT_STATUSES and "location" in response.headers:
                        url = self._redirect_target(url, response.headers["location"])
                        continue
                    if not 200 <= status < 300:
                        raise FetchError(f"HTTP {status} from {shown(str(url))}")
                    data = self._read_body(response, str(url), deadline)
                    return Fetched(data, src, response.headers.get("content-type"))
            except httpx.TimeoutException:
                raise FetchError(
                    f"timed out after {self.timeout_s:g} s fetching {shown(str(url))}"
                ) from None
            except httpx.ConnectError as exc:
                reason = str(exc)
                if reason.startswith("refused: "):  # GuardedBackend, on a changed address
                    raise FetchError(
                        f"{shown(str(url))} refused: {reason.removeprefix('refused: ')}"
                    ) from None
                raise FetchError(f"cannot connect to {shown(str(url))} ({reason})") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"fetching {shown(str(url))} failed ({exc})") from None
        raise FetchError(f"{shown(src)} redirected more than {MAX_REDIRECTS} times")

    def _redirect_target(self, url: httpx.URL, location: str) -> httpx.URL:
        try:
            target = url.join(location)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{shown(str(url))} redirected to an invalid URL ({exc})") from None
        if target.scheme not in ("http", "https"):
            # httpx writes file:///x as file:/x; the Location as sent is what a person knows.
            said = location if _scheme(location) else str(target)
            raise FetchError(
                f"redirect to {shown(said)} refused: only http(s) redirects are followed"
                f" (from {shown(str(url))})"
            )
        return target

    def _read_body(self, response: httpx.Response, where: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(where, f"the server announced {_size(int(declared))}")
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > self.max_bytes:
                raise self._too_large(where, f"stopped reading at {_size(self.max_bytes)}")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise FetchError(
                    f"timed out fetching {shown(where)}: slower than {_size(MIN_BYTES_PER_S)}/s"
                )
        return b"".join(chunks)

    # -- fsspec ------------------------------------------------------------------------

    def _fetch_fsspec(self, text: str, scheme: str, src: str) -> Fetched:
        if not self.allow_private:
            raise FetchError(
                f"{shown(src)}: {scheme}:// sources would be read with the server's own "
                "credentials, so items pushed over the API may use only http(s) URLs and "
                "data: URIs"
            )
        if self.base_dir is None and ("::" in text or scheme not in OBJECT_STORES):
            raise FetchError(
                f"{shown(src)}: items pushed over the API may name only object stores "
                f"({', '.join(sorted(OBJECT_STORES))}), http(s) URLs and data: URIs"
            )
        try:
            from fsspec.core import url_to_fs  # type: ignore[import-untyped]  # no stubs
        except ImportError:
            raise FetchError(f"{scheme}:// needs the fsspec package (pip install fsspec)") from None
        try:
            fs, path = url_to_fs(text)
        except ImportError as exc:
            raise FetchError(_missing_package(scheme, exc)) from None
        except ValueError as exc:
            raise FetchError(
                f"{shown(src)}: unknown kind of source {scheme}:// ({exc}); give a file path, "
                "an http(s) URL, a data: URI or an fsspec URL (s3://, gs://, …)"
            ) from None
        try:
            size = fs.size(path)
            if size is not None and size > self.max_bytes:
                raise self._too_large(src, f"the object has {_size(int(size))}")
            with fs.open(path, "rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except FileNotFoundError:
            raise FetchError(f"file not found: {shown(src)}") from None
        except IsADirectoryError:
            raise FetchError(f"{shown(src)} is a folder, not a file") from None
        except FetchError:
            raise
        except Exception as exc:  # each fsspec backend raises its own kinds of error
            raise FetchError(f"cannot read {shown(src)} ({type(exc).__name__}: {exc})") from None
        if len(data) > self.max_bytes:
            raise self._too_large(src, f"stopped reading at {_size(self.max_bytes)}")
        return Fetched(bytes(data), src, None)


def _missing_package(scheme: str, exc: ImportError) -> str:
    from fsspec.registry import known_implementations  # type: ignore[import-untyped]  # no stubs

    spec = known_implementations.get(scheme, {})
    package = str(spec.get("class", "")).split(".", 1)[0]
    if not package:
        return f"{scheme}:// needs a package that is not installed ({exc})"
    extra = EXTRAS.get(package)
    hint = f"pip install 'quorum[{extra}]'" if extra else f"pip install {package}"
    return f"{scheme}:// needs the {package} package ({hint})"


def _make_client(*, timeout_s: float, guarded: bool) -> httpx.Client:
    """No redirects of its own (each hop is checked here), no retries. Guarded: connections
    only to checked public addresses, and no environment proxies (a proxy would connect
    where the guard cannot see)."""
    transport = httpx.HTTPTransport(retries=0)
    if guarded:
        # httpx takes no network backend; its pool is rebuilt around the guarded one, with
        # the same TLS context (certificates are checked against the URL's host name).
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=GuardedBackend(socket.getaddrinfo),
            retries=0,
        )
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        transport=transport,
        trust_env=not guarded,
        # Media are compressed already; asking for identity keeps a gzip bomb from
        # inflating past the cap inside one chunk.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        limits=httpx.Limits(max_connections=FETCH_WORKERS * 2),
    )
