"""Helpers for the reviewer-experience tests: start a project of any kind in the sandbox,
find and press what a reviewer sees, and check that Slack accepted everything we sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot.config.project import ProjectConfig
from storage.models import Assignment, Event, Item, Label, Response
from tests.conftest import apply, example_config
from tests.e2e.conftest import LEADS, REVIEWERS
from tests.workflow.test_label_loop import import_file, write_items

REJECTIONS = {"invalid_blocks", "invalid_blocks_format", "invalid_arguments", "msg_too_long"}


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
    """Everything a message shows, as one string to search."""
    return json.dumps(message.get("blocks") or [], ensure_ascii=False)


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


def assert_slack_accepted_everything(sandbox) -> None:
    """No message or view we sent was refused by the emulator's Block Kit validation."""
    refused = [
        (call.method, call.response.get("error"), call.response.get("response_metadata"))
        for call in sandbox.emulator.calls
        if call.response.get("error") in REJECTIONS
    ]
    assert refused == []


def responses(sandbox) -> list[Response]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Response).order_by(col(Response.id))))


def response_of(sandbox, user: str) -> Response | None:
    return next((r for r in responses(sandbox) if r.reviewer_id == user), None)


def events(sandbox, kind: str) -> list[Event]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def assignments(sandbox) -> list[Assignment]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Assignment).order_by(col(Assignment.id))))


def item_status(sandbox) -> str:
    with Session(sandbox.ctx.engine) as session:
        return session.exec(select(Item)).one().status


def labels(sandbox) -> list[Label]:
    with Session(sandbox.ctx.engine) as session:
        return list(session.exec(select(Label)))
