"""A model pipeline that asks Quorum's experts about the predictions it is unsure of and
turns their labels into training data.

It reads the model's predictions (JSONL items as `quorum import` takes them, with
`prediction.confidence`), sends those below `--below` to Quorum over the REST API, and
appends each signed-off label, joined with the item it labels, to a training JSONL file.
Labels arrive by webhook (a small receiver on http.server that checks every delivery's
signature) or, with `--poll`, by following the labels feed with a cursor kept on disk.
Either way it can be stopped and started again: a label already in the training file is
not written twice, and nothing signed off meanwhile is lost (webhooks are retried for a
day; the cursor resumes the feed).

    quorum token create --project support-intent --scope write     # prints the token once
    export QUORUM_URL=http://localhost:3000 QUORUM_TOKEN=qrm_...

    # by webhook: register the receiver once, then run
    quorum webhook add --project support-intent http://localhost:8080/quorum --events label.signed_off
    export QUORUM_WEBHOOK_SECRET=whsec_...
    python examples/pipeline.py --listen 127.0.0.1:8080

    # or by polling, no inbound connection needed
    python examples/pipeline.py --poll

Needs only the Python client (quorum_client: httpx and the standard library).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from quorum_client import Client, QuorumError, verify_webhook

HERE = Path(__file__).resolve().parent
MAX_BODY_BYTES = 10 * 1024 * 1024  # a label record is small; refuse anything absurd


# -- the model's side: predictions in, training rows out -------------------------------


def read_predictions(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def uncertain(items: Iterable[dict[str, Any]], below: float) -> list[dict[str, Any]]:
    """The items whose prediction the model is not sure enough of (or that have none)."""
    return [i for i in items if float((i.get("prediction") or {}).get("confidence", 0)) < below]


class TrainingFile:
    """The training set, one JSON line per labelled item: the item's own fields (its
    conversation, prompt, ...), the experts' label and how it was reached. Appends are
    flushed at once; an item already in the file is skipped, so a label delivered twice
    (a webhook retried after a lost answer, a resumed feed) is written once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written: set[str] = set()
        if path.exists():
            with path.open(encoding="utf-8") as lines:
                self.written = {json.loads(line)["id"] for line in lines if line.strip()}
        self._lock = threading.Lock()

    def add(self, item: dict[str, Any], label: dict[str, Any]) -> bool:
        """Append the labelled item; False if it was already there."""
        with self._lock:
            if label["id"] in self.written:
                return False
            row = {key: value for key, value in item.items() if key not in ("gold",)}
            row.update(
                id=label["id"],
                label=label["value"],
                method=label.get("method"),
                agreement=label.get("agreement"),
                signed_off_at=label.get("signed_off_at"),
                model_prediction=item.get("prediction"),
            )
            row.pop("prediction", None)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
            self.written.add(label["id"])
            return True

    def missing(self, items: dict[str, dict[str, Any]]) -> int:
        return len(items.keys() - self.written)


# -- receiving labels ------------------------------------------------------------------


def receive_by_webhook(
    host: str, port: int, secret: str, items: dict[str, dict[str, Any]], training: TrainingFile
) -> ThreadingHTTPServer:
    """A receiver for Quorum's webhooks, serving in a background thread. A delivery is
    answered 2xx only once its label is safely in the file: a refusal or no answer makes
    Quorum send it again later."""

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY_BYTES:
                return self._answer(413 if length else 411)
            body = self.rfile.read(length)
            if not verify_webhook(secret, self.headers, body):
                return self._answer(401)  # not from Quorum (or another secret)
            event = json.loads(body)
            data = event.get("data") or {}
            if event.get("type") == "label.signed_off":
                if data["id"] in items and training.add(items[data["id"]], data):
                    print(f"labelled {data['id']}: {data['value']!r}", flush=True)
            else:  # item.escalated, item.failed: worth a line, not a training row
                print(f"{event.get('type')}: {data.get('id')}", file=sys.stderr, flush=True)
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per label above is enough

    server = ThreadingHTTPServer((host, port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def receive_by_polling(
    quorum: Client,
    project: str,
    items: dict[str, dict[str, Any]],
    training: TrainingFile,
    *,
    cursor_file: Path,
    poll_s: float,
    until_done: bool,
) -> None:
    """Follow the labels feed from the stored cursor, storing it after each label. A
    server that is down or busy for a while is waited for, from the same cursor."""
    cursor = cursor_file.read_text().strip() if cursor_file.exists() else ""
    while not (until_done and not training.missing(items)):
        feed = quorum.labels(project, after=cursor or None, follow=True, poll_s=poll_s)
        try:
            for label in feed:
                if label["id"] in items and training.add(items[label["id"]], label):
                    print(f"labelled {label['id']}: {label['value']!r}", flush=True)
                if feed.cursor and feed.cursor != cursor:
                    cursor = feed.cursor
                    cursor_file.write_text(cursor)
                if until_done and not training.missing(items):
                    return
        except QuorumError as error:
            if error.status not in (0, 429, 502, 503, 504):
                raise
            print(f"Quorum unavailable ({error}); trying again", file=sys.stderr, flush=True)
            time.sleep(poll_s)


# -- the run ---------------------------------------------------------------------------


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Send a model's uncertain predictions to Quorum and append the experts' "
        "labels to a training file, received by webhook or by polling.",
        epilog="The token comes from `quorum token create --project NAME --scope write`; the "
        "webhook secret from `quorum webhook add --project NAME URL`.",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("QUORUM_URL", "http://localhost:3000"),
        help="where `quorum serve` listens ($QUORUM_URL; default %(default)s)",
    )
    parser.add_argument("--token", default=os.environ.get("QUORUM_TOKEN"), help="$QUORUM_TOKEN")
    parser.add_argument("--project", default="support-intent", help="default %(default)s")
    parser.add_argument(
        "--predictions",
        type=Path,
        default=HERE / "support-intent.jsonl",
        help="the model's predictions, JSONL items as `quorum import` takes them "
        "(default: the support-intent example)",
    )
    parser.add_argument(
        "--below",
        type=float,
        default=0.8,
        help="send predictions less confident than this (default %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("training.jsonl"),
        help="the training file labels are appended to (default %(default)s); with --poll "
        "the feed's cursor is kept beside it, as .cursor",
    )
    receive = parser.add_mutually_exclusive_group()
    receive.add_argument(
        "--listen",
        default="127.0.0.1:8080",
        help="receive webhooks on HOST:PORT (the default, %(default)s)",
    )
    receive.add_argument("--poll", action="store_true", help="follow the labels feed instead")
    parser.add_argument(
        "--secret",
        default=os.environ.get("QUORUM_WEBHOOK_SECRET"),
        help="the webhook's signing secret ($QUORUM_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--poll-s", type=float, default=5.0, help="seconds between polls (default %(default)s)"
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="go on receiving after every sent item is labelled",
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no token: pass --token or set QUORUM_TOKEN")
    if not args.poll and not args.secret:
        parser.error("webhooks need their secret: pass --secret or set QUORUM_WEBHOOK_SECRET")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    training = TrainingFile(args.out)
    to_review = uncertain(read_predictions(args.predictions), args.below)
    items = {item["id"]: item for item in to_review}

    with Client(args.url, args.token) as quorum:
        server = None
        if not args.poll:  # listen first: a label may be signed off before submit returns
            host, _, port = args.listen.rpartition(":")
            server = receive_by_webhook(host, int(port), args.secret, items, training)
        try:
            sent = quorum.submit(args.project, to_review)
        except QuorumError as error:
            print(f"error: Quorum refused the items: {error}", file=sys.stderr)
            return 1
        print(
            f"sent {len(to_review)} uncertain predictions to {args.project}: {sent.created} new, "
            f"{sent.unchanged} already there; {training.missing(items)} labels to come",
            flush=True,
        )
        try:
            if args.poll:
                receive_by_polling(
                    quorum,
                    args.project,
                    items,
                    training,
                    cursor_file=args.out.with_suffix(".cursor"),
                    poll_s=args.poll_s,
                    until_done=not args.keep_running,
                )
            else:
                while args.keep_running or training.missing(items):
                    time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.shutdown()
    print(f"{len(training.written)} labelled items in {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
