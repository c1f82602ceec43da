"""Fixtures for the client's tests: a scripted HTTP server standing where a proxy or a
failing Quorum would (answers given in advance, every request recorded), for what the
real server cannot be made to do on cue: drop connections, answer HTML, 502 and 503."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DROP = "drop"  # an answer that closes the connection without a response


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes or str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    """Answers requests in order from `script` (the last answer repeats), on 127.0.0.1."""

    def __init__(self) -> None:
        self.script: list[Answer | str] = []
        self.seen: list[Seen] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scripted.seen.append(
                    Seen(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                )
                index = min(len(scripted.seen), len(scripted.script)) - 1
                answer = scripted.script[index] if scripted.script else Answer(404)
                if answer == DROP:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                assert isinstance(answer, Answer)
                if isinstance(answer.body, bytes):
                    payload = answer.body
                elif isinstance(answer.body, str):
                    payload = answer.body.encode()
                else:
                    payload = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, *answers: Answer | str) -> ScriptedServer:
        self.script = list(answers)
        return self

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.stop()
