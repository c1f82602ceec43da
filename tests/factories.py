"""Builders the tests share: settings, projects, items and answers, items decided without
Slack, the Slack sandbox (its people, what a reviewer sees and presses, what was sent)
and `quorum serve` processes. Plain functions and constants; the fixtures that use them
are in the conftest.py files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, col, select

from bot import EXAMPLES_DIR
from bot.audit.chain import content_hash
from bot.config.project import ProjectConfig, load_project_file
from bot.intake.importer import import_records, validate_file
from bot.runtime.settings import Settings
from bot.sandbox.harness import SlackSandbox
from bot.sandbox.slack_emulator import SlackEmulator
from bot.workflow.decision.decide import decide
from bot.workflow.project_versions import apply_project, project_config, require_project
from bot.workflow.review.answer import record_answer
from storage.db import session_scope
from storage.models import (
    Assignment,
    Event,
    Item,
    Label,
    OutboxMessage,
    OutboxStatus,
    ProjectVersion,
    Response,
)

# -- settings and projects -------------------------------------------------------------


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "slack_bot_token": "xoxb-emulator-token",
        "slack_signing_secret": "test-signing-secret",
        "slack_app_token": None,
        "openai_api_key": None,
        "quorum_delivery_interval_s": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def example_config(name: str, **changes: object) -> ProjectConfig:
    config = load_project_file(EXAMPLES_DIR / f"{name}.yml")
    return config.model_copy(update=changes) if changes else config


def label_config(**changes: object) -> ProjectConfig:
    base = {
        "name": "support-intent",
        "kind": "label",
        "question": "Which team should handle this conversation?",
        "labels": ["billing", "bug", "account", "other"],
        "reviewers": ["U01ALICE", "U02BOB", "U03CARA", "U04DAN"],
        "leads": ["U09LEAD"],
        "overlap": 3,
        "agreement": 0.67,
        "escalation_channel": "C0ESCALATE",
        "routing": {"confidence_below": 0.8, "audit_rate": 0.0},
    }
    base.update(changes)
    return ProjectConfig.model_validate(base)


def apply(engine: Engine, config: ProjectConfig) -> None:
    with session_scope(engine) as session:
        apply_project(session, config)


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# -- items and answers -----------------------------------------------------------------


def write_items(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def conversation(text: str) -> list[dict]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": "Let me check."}]


def import_file(engine, path: Path, name: str = "support-intent") -> None:
    with session_scope(engine) as session:
        project = require_project(session, name)
        records = validate_file(path, project_config(session, project))
        import_records(session, project, records, source=str(path))


def answer(engine, clock, assignment: Assignment, value, user: str | None = None):
    with session_scope(engine) as session:
        return record_answer(
            session,
            assignment_id=assignment.id,
            user_id=user or assignment.reviewer_id,
            value=value,
            now=clock.now(),
        )


def chat(text: str = "I was charged twice") -> dict:
    return {"conversation": conversation(text)}


PAIR = {
    "prompt": [{"role": "user", "content": "Explain DNS"}],
    "responses": [
        {"id": "r-short", "content": "It maps names to addresses.", "model": "m1"},
        {"id": "r-long", "content": "DNS is the phone book of the internet...", "model": "m2"},
    ],
}


def preference(choice: str, strength: str | None, shown_first: str) -> dict:
    return {"choice": choice, "strength": strength, "shown_first": shown_first}


def correction(text: str, changed: bool) -> dict:
    return {"text": text, "changed": changed, "diff": ""}


LEGAL = {
    "conversation": [
        {"role": "user", "content": "Is a 12-month non-compete enforceable in California?"},
        {"role": "assistant", "content": "Yes, if it is reasonable in scope."},
    ]
}
ORIGINAL = "Yes, if it is reasonable in scope."


def seed_item(
    engine,
    clock,
    project: str,
    *,
    external_id: str,
    content: dict,
    answers: list[tuple],
    gold: object = None,
    seconds: float = 60.0,
    presentation: dict | None = None,
):
    """An item whose reviewers have all answered, decided as record_answer would decide it.
    Bypasses the review DMs so each kind's rule is tested on its own. Each answer is
    (reviewer, value) or (reviewer, value, seconds taken)."""
    now = clock.now()
    with session_scope(engine) as session:
        target = require_project(session, project)
        config = project_config(session, target)
        item = Item(
            project_id=target.id,
            external_id=external_id,
            content=content,
            content_hash=content_hash(content),
            gold=gold,
            status="answered",
            route_reason="test",
            created_at=now,
            updated_at=now,
        )
        session.add(item)
        session.flush()
        for reviewer, value, *took in answers:
            taken = took[0] if took else seconds
            assignment = Assignment(
                item_id=item.id,
                reviewer_id=reviewer,
                status="answered",
                presentation=presentation,
                created_at=now - timedelta(seconds=taken),
                answered_at=now,
            )
            session.add(assignment)
            session.flush()
            session.add(
                Response(
                    assignment_id=assignment.id,
                    item_id=item.id,
                    reviewer_id=reviewer,
                    value=value,
                    latency_ms=int(taken * 1000),
                    created_at=now,
                    updated_at=now,
                )
            )
        session.flush()
        outcome = decide(session, item, target, config, now=now)
        return item.id, type(outcome).__name__


# -- the Slack sandbox: its people, and what a reviewer sees and presses ---------------

REVIEWERS = ["U01ALICE", "U02BOB", "U03CARA", "U04DAN"]
LEAD = "U09LEAD"
LEADS = [LEAD]


@contextmanager
def slack_world(
    database_url: str,
    clock,  # type: ignore[no-untyped-def]
    *,
    time_zones: dict[str, tuple[str, int]] | None = None,
    **settings: object,
) -> Iterator[SlackSandbox]:
    """A sandbox whose emulator knows the reviewers (London unless told otherwise)."""
    emulator = SlackEmulator(bot_token="xoxb-emulator-token").start()
    for user in [*REVIEWERS, LEAD]:
        tz, offset = (time_zones or {}).get(user, ("Europe/London", 0))
        emulator.add_user(user, tz=tz, tz_offset=offset)
    for channel in ("C0ESCALATE", "C0DIGEST"):
        emulator.add_channel(channel, channel.lower())
    sandbox = SlackSandbox(
        database_url, clock=clock, emulator=emulator, settings_overrides=settings
    )
    try:
        with sandbox:
            yield sandbox
    finally:
        emulator.stop()


def start_items(sandbox: SlackSandbox, tmp_path: Path, count: int = 1, **config: object) -> None:
    """Apply the label project and import `count` items for humans (not settled)."""
    apply(sandbox.ctx.engine, label_config(**config))
    items = [
        {
            "id": f"t-{n}",
            "conversation": conversation(f"question number {n}"),
            "prediction": {"label": "billing", "confidence": 0.5, "model": "intent-v3"},
        }
        for n in range(1, count + 1)
    ]
    import_file(sandbox.ctx.engine, write_items(tmp_path / "items.jsonl", items))


def kind_config(name: str, **changes: Any) -> ProjectConfig:
    """An example project with the sandbox's people, everything routed to reviewers."""
    base = example_config(name).model_dump(mode="json")
    base.update(
        reviewers=REVIEWERS,
        leads=LEADS,
        overlap=3,
        digest_channel=None,
        routing={"confidence_below": 1.0, "audit_rate": 0.0},
    )
    base.update(changes)
    return ProjectConfig.model_validate(base)


def start(sandbox, tmp_path: Path, config: ProjectConfig, items: list[dict]) -> list[str]:
    """Apply the project, import the items, send the DMs; the reviewers who got one."""
    apply(sandbox.ctx.engine, config)
    path = write_items(tmp_path / f"{config.name}-{len(items)}.jsonl", items)
    import_file(sandbox.ctx.engine, path, name=config.name)
    sandbox.settle()
    return [user for user in REVIEWERS if sandbox.dm(user)]


def texts(message: dict, *, block_prefix: str | None = None) -> list[str]:
    """Visible texts of a message's buttons (optionally of blocks whose id starts so)."""
    found = []
    for block in message.get("blocks") or []:
        if block_prefix and not (block.get("block_id") or "").startswith(block_prefix):
            continue
        elements = list(block.get("elements") or []) if block["type"] == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found += [e["text"]["text"] for e in elements if e.get("type") == "button"]
    return found


def shown(message: dict) -> str:
    """Everything a message shows, as one string to search (without the ids Slack gives
    blocks, whose random letters could hold any short text)."""
    return json.dumps(_without_block_ids(message.get("blocks") or []), ensure_ascii=False)


def _without_block_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_block_ids(v) for k, v in value.items() if k != "block_id"}
    if isinstance(value, list):
        return [_without_block_ids(v) for v in value]
    return value


def press(sandbox, user: str, message: dict, text: str, **kwargs: Any) -> None:
    response = sandbox.sender.click(user, message, text=text, **kwargs)
    assert response.status == 200, response.body


def press_in_block(sandbox, user: str, message: dict, block_prefix: str, text: str) -> None:
    """Press a button whose text repeats in other blocks (a Likert score per criterion)."""
    block = next(b for b in message["blocks"] if (b.get("block_id") or "").startswith(block_prefix))
    press(sandbox, user, {**message, "blocks": [block]}, text)


def last_modal(sandbox) -> dict:
    opened = sandbox.emulator.views_opened()
    assert opened, "no modal was opened"
    return opened[-1]


REJECTIONS = {"invalid_blocks", "invalid_blocks_format", "invalid_arguments", "msg_too_long"}


def assert_slack_accepted_everything(sandbox) -> None:
    """No message or view we sent was refused by the emulator's Block Kit validation."""
    refused = [
        (call.method, call.response.get("error"), call.response.get("response_metadata"))
        for call in sandbox.emulator.calls
        if call.response.get("error") in REJECTIONS
    ]
    assert refused == []


# -- hostile text: pings, mentions and links smuggled in through data ------------------

# What an attacker (or a careless import) puts in every field that reaches Slack.
HOSTILE = "<!here> <!channel> <!everyone> <@U123> <#C123> <https://evil.example|x> & end"
# Slack's date token is the one `<!…>` the bot writes itself.
_DATE_TOKEN = re.compile(r"<!date\^\d+\^[^<>|]*\|[^<>]*>")
_LINK = re.compile(r"<([@#])([A-Z0-9]+)>")
_ESCAPED_TWICE = re.compile(r"&amp;(?:amp|lt|gt);")
_ESCAPED = re.compile(r"&(?:amp|lt|gt);")
_NOT_SHOWN = {"value", "action_id", "block_id", "callback_id", "private_metadata", "metadata"}


def _loaded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def unsafe_text(
    payload: Any, *, people: tuple[str, ...] = (), channels: tuple[str, ...] = ()
) -> list[str]:
    """Where a payload for Slack (a message, a view, a response_url body) would ping,
    mention or link from data: any `<…>` in mrkdwn or a notification `text` that is not a
    mention of one of `people`, a link to one of `channels` or a date token. Also text
    escaped twice (`&amp;lt;`) and plain_text shown escaped (`&amp;`), both visible to
    the reader. Each problem is its JSON path and the offending excerpt."""
    problems: list[str] = []

    def check(text: str, path: str, plain: bool) -> None:
        if plain:
            if _ESCAPED.search(text):
                problems.append(f"{path}: plain_text shows an escape: {text[:120]!r}")
            return
        if _ESCAPED_TWICE.search(text):
            problems.append(f"{path}: escaped twice: {text[:120]!r}")
        rest = _DATE_TOKEN.sub("", text)
        for start in [i for i, c in enumerate(rest) if c == "<"]:
            token = rest[start : rest.find(">", start) + 1 or start + 40]
            link = _LINK.fullmatch(token)
            allowed = people if link and link.group(1) == "@" else channels
            if not (link and link.group(2) in allowed):
                problems.append(f"{path}: unescaped {token[:60]!r}")

    def walk(value: Any, path: str, plain: bool = False) -> None:
        value = _loaded(value)
        if isinstance(value, list):
            for index, entry in enumerate(value):
                walk(entry, f"{path}[{index}]", plain)
        elif isinstance(value, dict):
            is_plain = value.get("type") == "plain_text"
            for key, entry in value.items():
                if key in _NOT_SHOWN:
                    continue
                if key == "text" and isinstance(entry, str):
                    check(entry, f"{path}.text", is_plain)
                elif key == "initial_value" and isinstance(entry, str):
                    check(entry, f"{path}.{key}", plain=True)  # a prefilled box: as it is
                else:
                    walk(entry, f"{path}.{key}", is_plain)
        elif isinstance(value, str) and plain:
            check(value, path, plain=True)

    walk(payload, "$")
    return problems


# -- what the sandbox sent and stored --------------------------------------------------


def posted_keys(emulator: SlackEmulator) -> Counter:
    """Idempotency key -> how many chat.postMessage calls Slack accepted with it."""
    counts: Counter = Counter()
    for call in emulator.calls_to("chat.postMessage"):
        if call.status != 200 or not call.response.get("ok"):
            continue
        metadata = call.args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        counts[metadata["event_payload"]["idempotency_key"]] += 1
    return counts


def outbox_rows(sandbox: SlackSandbox) -> list[OutboxMessage]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def top_level_dms(sandbox: SlackSandbox, user: str) -> list[dict]:
    return [m for m in sandbox.dm(user) if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]


def thread_replies(sandbox: SlackSandbox, user: str) -> list[dict]:
    return [m for m in sandbox.dm(user) if m.get("thread_ts") and m["thread_ts"] != m["ts"]]


def database_state(engine: Engine) -> dict[str, tuple[int, str]]:
    """Per table, its row count and a digest of every row's contents: a request that
    changed nothing (no insert, no update, no delete) leaves both as they were."""
    state = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in connection.execute(table.select()))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            state[table.name] = (len(rows), digest)
    return state


def items(sandbox: SlackSandbox) -> list[Item]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Item).order_by(Item.id)))


def assignments(sandbox) -> list[Assignment]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Assignment).order_by(col(Assignment.id))))


def responses(sandbox) -> list[Response]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Response).order_by(col(Response.id))))


def response_of(sandbox, user: str) -> Response | None:
    return next((r for r in responses(sandbox) if r.reviewer_id == user), None)


def events(sandbox, kind: str) -> list[Event]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def item_status(sandbox) -> str:
    with Session(sandbox.ctx.engine) as session:
        return session.exec(select(Item)).one().status


def labels(sandbox) -> list[Label]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Label)))


# -- `quorum serve` as a real process --------------------------------------------------

QUORUM = Path(sys.executable).with_name("quorum")
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STARTED: list[subprocess.Popen] = []


PROCESS_SECRET = "fault-test-secret"  # SLACK_SIGNING_SECRET of quorum_process()


def quorum_process(
    args: list[str], database_url: str, emulator: SlackEmulator, workdir: Path, **env: str
) -> subprocess.Popen:
    """A real `quorum <args>` process against the emulator, its output in `workdir`;
    stopped by stop_started_processes()."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_API_URL": emulator.api_url,
        "SLACK_BOT_TOKEN": "xoxb-emulator-token",
        "SLACK_SIGNING_SECRET": PROCESS_SECRET,
        "QUORUM_DELIVERY_INTERVAL_S": "0.05",
        "QUORUM_DELIVERY_LEASE_S": "2",
        "QUORUM_SCHEDULER_ENABLED": "false",
        "PYTHONPATH": str(REPO),  # the checkout, whatever the working folder
        **env,
    }
    environment.pop("SLACK_APP_TOKEN", None)
    log = (workdir / f"{args[0]}-{time.monotonic_ns()}.log").open("w")
    process = subprocess.Popen(
        [str(QUORUM), *args], env=environment, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
    )
    STARTED.append(process)
    return process


def serve(
    database_url: str, emulator: SlackEmulator, workdir: Path, **env: str
) -> subprocess.Popen:
    port = str(free_port())
    return quorum_process(
        ["serve", "--host", "127.0.0.1", "--port", port], database_url, emulator, workdir, **env
    )


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def process_world(engine: Engine, reviewers: list[str]) -> SlackEmulator:
    """An emptied database with the label project for `reviewers` (at work all day, as
    processes run on the real clock) and an emulator that knows them."""
    truncate_all(engine)
    emulator = SlackEmulator(bot_token="xoxb-emulator-token").start()
    for user in [*reviewers, LEAD]:
        emulator.add_user(user)
    emulator.add_channel("C0ESCALATE", "escalations")
    apply(engine, label_config(reviewers=reviewers, timing={"work_hours": (0, 0)}))
    return emulator


def import_samples(engine: Engine, tmp_path: Path, prefix: str, count: int) -> None:
    """`count` items the model is unsure of (they all go to reviewers)."""
    records = [
        {
            "id": f"{prefix}-{n}",
            "conversation": conversation(f"sample {n}"),
            "prediction": {"label": "billing", "confidence": 0.5, "model": "m"},
        }
        for n in range(count)
    ]
    import_file(engine, write_items(tmp_path / "items.jsonl", records))


def review_dms_sent(engine: Engine, count: int) -> bool:
    """All `count` review requests (three per item) are sent."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.status).where(OutboxMessage.operation == "post_dm")
        ).all()
    return len(rows) == count and set(rows) == {OutboxStatus.SENT}


def stop_started_processes() -> None:
    """Stop whatever serve() started that still runs (only those processes)."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def wait_for(predicate, *, timeout_s: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def store_as_an_older_release_did(engine, name: str, **changes: object) -> None:
    """Change the project's stored config the way a file applied by an older `project
    apply` (before the schema and the preflight refused it) would have left it."""
    with session_scope(engine) as session:
        project = require_project(session, name)
        row = session.exec(
            select(ProjectVersion).where(ProjectVersion.project_id == project.id)
        ).one()
        row.config = {**row.config, **changes}
        project.updated_at = project.updated_at + timedelta(seconds=1)  # a new cache key
        session.add_all([row, project])


KIND_SETTINGS = ("labels", "multi_label", "criteria", "scale")
KIND_SETTINGS += ("allow_tie", "allow_both_bad", "ask_strength")


def kind_settings(kind: str) -> dict[str, Any]:
    """What a project of `kind` must set beyond the common fields (its labels, criteria,
    scale), taken from the example project of that kind, so tests need not branch on
    kind names."""
    for path in sorted(EXAMPLES_DIR.glob("*.yml")):
        example = load_project_file(path)
        if example.kind == kind:
            dumped = example.model_dump(mode="json", exclude_unset=True)
            return {k: dumped[k] for k in KIND_SETTINGS if k in dumped}
    raise LookupError(f"no example project of kind {kind!r}")


# -- webhooks: a local receiver ----------------------------------------------------------


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records every webhook POST it gets (headers,
    raw body) and answers `status` (an int, or a function of the request path); it can be
    stopped and started again on the same port, as a receiver that was down."""

    def __init__(self, *, port: int = 0, status: Any = 200, delay_s: float = 0.0) -> None:
        import threading

        self.port = port
        self.status = status
        self.delay_s = delay_s
        self.received: list[dict[str, Any]] = []  # {"path", "headers", "body", "status"}
        self.in_flight: Counter = Counter()
        self.most_in_flight: Counter = Counter()  # the most requests at once, per path
        self._lock = threading.Lock()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebhookReceiver:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.in_flight[self.path] += 1
                    receiver.most_in_flight[self.path] = max(
                        receiver.most_in_flight[self.path], receiver.in_flight[self.path]
                    )
                time.sleep(receiver.delay_s)
                status = receiver.status
                status = status(self.path) if callable(status) else status
                with receiver._lock:
                    receiver.in_flight[self.path] -= 1
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "body": body,
                            "status": status,
                        }
                    )
                answer = b"ok" if status < 300 else b"receiver says no " * 30
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self, path: str | None = None) -> list[dict]:
        """The JSON bodies received (at `path`), in arrival order."""
        with self._lock:
            return [
                json.loads(r["body"]) for r in self.received if path is None or r["path"] == path
            ]


# -- the REST API: tokens and webhooks as `quorum token` / `quorum webhook` make them --


def api_token(engine: Engine, project: str = "support-intent", scope: str = "write") -> str:
    """A new API token for `project`, as `quorum token create` prints it."""
    from bot.api.tokens import create_token
    from storage.models import utcnow

    with session_scope(engine) as session:
        made = create_token(session, project=project, scope=scope, name=None, now=utcnow())
    return made.token


def revoke_api_tokens(engine: Engine) -> None:
    """Revoke every token, as `quorum token revoke ID` would one by one."""
    from bot.api.tokens import list_tokens, revoke_token
    from storage.models import utcnow

    with session_scope(engine) as session:
        for token in list_tokens(session):
            revoke_token(session, token.id, now=utcnow())


def add_webhook(
    engine: Engine, url: str, project: str = "support-intent", events: str | None = None
) -> str:
    """A webhook for `project` (every event type unless told); its secret, printed once."""
    from bot.webhooks.subscriptions import add_webhook as add
    from storage.models import utcnow

    with session_scope(engine) as session:
        return add(
            session, project=project, url=url, events=events, allow_private=True, now=utcnow()
        ).secret


# --- media ----------------------------------------------------------------------------------


def png_file(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    """A one-colour PNG written to `path` (folders made); its bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def image_blocks(message: dict) -> list[dict]:
    return [b for b in message.get("blocks", []) if b.get("type") == "image"]


def settle_until(sandbox, clock, predicate, *, what: str):  # type: ignore[no-untyped-def]
    """Settle, letting time pass on both clocks (the emulator processes files on the real
    one, the bot waits on the frozen one) until `predicate` holds; what it returned."""
    for _ in range(40):
        sandbox.settle()
        if found := predicate():
            return found
        time.sleep(0.05)
        clock.advance(seconds=1)
    raise AssertionError(f"never saw {what}")


def dms_to_reviewers(sandbox, clock, count: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    """The reviewers who got a review DM, once `count` have (media may take a moment)."""
    return settle_until(
        sandbox,
        clock,
        lambda: len(sent := [r for r in REVIEWERS if sandbox.dm(r)]) == count and sent,
        what=f"{count} review DM(s)",
    )


def export_rows(  # type: ignore[no-untyped-def]
    sandbox, out: Path, *, project: str = "support-intent", fmt: str = "labels", parquet=False
) -> list[dict]:
    """Run an export of the sandbox's database to `out`; its rows as a consumer reads them."""
    import pyarrow.parquet as pq

    from bot.exports.outputs import open_outputs
    from bot.exports.run import ExportRequest, run_export

    request = ExportRequest(project=project, format=fmt)
    with open_outputs(request.check(), out=out, parquet=parquet) as (sink, ties, _):
        run_export(
            sandbox.ctx.engine, request, sink=sink, ties=ties, now=sandbox.clock.now(), salt="s"
        )
    if parquet:
        return pq.read_table(out).to_pylist()
    return [json.loads(line) for line in out.read_text().splitlines()]
