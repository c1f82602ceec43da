"""Media items pushed over the REST API: inline `data:` images are stored like any import;
a path (there is no import folder), a `file://` URL and a URL on a private address (SSRF)
are refused with the item's field, and nothing is stored."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from sqlmodel import Session, select

from storage.models import Item
from tests.api.conftest import PROJECT
from tests.factories import apply, kind_config

ITEMS = f"/projects/{PROJECT}/items"
LABELS = ["effusion", "normal", "other"]


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 200, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def image_item(src: str) -> dict:
    return {
        "id": "cxr-1",
        "image": {"src": src},
        "prediction": {"label": "effusion", "confidence": 0.5},
    }


@pytest.fixture
def local_server() -> Iterator[str]:
    """An HTTP server on loopback serving a PNG (a private address for the API)."""
    body = png_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/scan.png"
    server.shutdown()


def items_in(world) -> list[Item]:  # type: ignore[no-untyped-def]
    with Session(world.sandbox.ctx.engine) as session:
        return list(session.exec(select(Item)).all())


def test_an_inline_image_is_stored_and_its_item_created(world, writer):
    apply(world.sandbox.ctx.engine, kind_config(PROJECT, labels=LABELS))
    data = png_bytes()
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    created = writer.post(ITEMS, json={"items": [image_item(uri)]})
    assert created.status_code == 201, created.text
    [item] = items_in(world)
    assert item.content["image"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert item.content["image"]["mime"] == "image/png"
    assert item.media[0]["src"] == "data:image/png,…"


@pytest.mark.parametrize(
    ("src", "says"),
    [
        ("images/cxr-001.png", "no import folder"),
        ("file:///etc/hostname", "file"),
        (None, "loopback address"),  # the test server, on 127.0.0.1
    ],
    ids=["relative path", "file URL", "private address"],
)
def test_a_source_the_server_must_not_read_is_refused_by_field(
    world, writer, local_server, src, says
):
    apply(world.sandbox.ctx.engine, kind_config(PROJECT, labels=LABELS))
    refused = writer.post(ITEMS, json={"items": [image_item(src or local_server)]})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "items.0.image.src"
    assert says in detail["message"].lower(), detail["message"]
    assert items_in(world) == []


def test_a_private_network_is_allowed_when_the_deployment_says_so(open_world, local_server):
    with open_world(quorum_media_allow_private=True) as world:
        apply(world.sandbox.ctx.engine, kind_config(PROJECT, labels=LABELS))
        with world.client(world.token("write")) as writer:
            created = writer.post(ITEMS, json={"items": [image_item(local_server)]})
        assert created.status_code == 201, created.text
        [item] = items_in(world)
        assert item.content["image"]["sha256"] == hashlib.sha256(png_bytes()).hexdigest()
