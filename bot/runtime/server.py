"""HTTP mode: Slack's requests at POST /slack/events and a health check at GET /healthz,
on a threaded WSGI server so a slow request never holds up the others."""

from __future__ import annotations

import json
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # request lines would repeat what Bolt logs; never log bodies (they hold user text)


def make_wsgi_app(app: App, *, health: callable = lambda: {"ok": True}):  # type: ignore[valid-type]
    bolt = SlackRequestHandler(app)

    def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method == "GET":
            body = json.dumps(health()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if path == "/slack/events" and method == "POST":
            return bolt(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return wsgi


class HttpServer:
    def __init__(self, app: App, *, host: str = "127.0.0.1", port: int = 3000, health=None) -> None:  # type: ignore[no-untyped-def]
        kwargs = {"health": health} if health else {}
        self.httpd = make_server(
            host,
            port,
            make_wsgi_app(app, **kwargs),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self.port = self.httpd.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="http")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
