"""A simulated team lead for the demo and tests: settles escalations through Slack.

The lead reads the escalation channels like a person would: finds messages that still
carry "Accept: …" buttons, and clicks one (usually the reviewers' consensus, styled as
primary, otherwise a random answer) or, now and then, opens "Decide…" and submits the
modal with a rationale. Every step is a signed request to the real Bolt app.
"""

from __future__ import annotations

import json
import random
from typing import Any

from sqlmodel import Session

from bot.kinds.base import DECISION_BLOCK, VALUE_ACTION
from bot.sandbox.harness import SlackSandbox
from bot.slack.escalation import DECIDE, RATIONALE_BLOCK
from storage.models import Escalation

DECIDE_RATE = 0.2
MODAL_TRIES = 10
MODAL_WAIT_S = 3.0
RATIONALES = [
    "Checked against the guidelines: this is the reading that matches the customer's request.",
    "The majority missed a detail in the last turn; deciding on the evidence.",
    "Close call. Going with the answer the project description asks for.",
]


def _buttons(message: dict) -> list[dict]:
    return [
        element
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements") or []
        if element.get("type") == "button"
    ]


def open_escalations(sandbox: SlackSandbox) -> list[dict]:
    """Escalation messages in the sandbox's channels that still wait for a lead."""
    found = []
    for channel in sandbox.channels:
        for message in sandbox.channel_messages(channel):
            if message.get("thread_ts") not in (None, message["ts"]):
                continue
            if any(b.get("action_id") == DECIDE for b in _buttons(message)):
                found.append(message)
    return found


def _decision_values(view: dict, rng: random.Random, rationale: str) -> dict[str, dict[str, Any]]:
    """Fill the "Decide…" modal: keep the prefilled default where there is one."""
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        block_id = block.get("block_id", "")
        element = block.get("element") or {}
        if not block_id.startswith(DECISION_BLOCK):
            continue
        element_type = element.get("type")
        if element_type == "static_select":
            chosen = (element.get("initial_option") or {}).get("value")
            values[block_id] = {VALUE_ACTION: chosen or rng.choice(element["options"])["value"]}
        elif element_type == "multi_static_select":
            initial = [o["value"] for o in element.get("initial_options") or []]
            values[block_id] = {VALUE_ACTION: initial or [element["options"][0]["value"]]}
        elif element_type == "plain_text_input":
            values[block_id] = {VALUE_ACTION: element.get("initial_value") or "Corrected."}
    values[RATIONALE_BLOCK] = {VALUE_ACTION: rationale}
    return values


def resolve_escalations(
    sandbox: SlackSandbox,
    lead_user: str,
    *,
    rng: random.Random,
    decide_rate: float = DECIDE_RATE,
    limit: int | None = None,
) -> int:
    """Settle the open escalations visible now; returns how many were submitted.

    A message is only clicked once per call; if the bot has not updated it yet (background
    delivery), a later call sees it resolved and leaves it alone.
    """
    sender = sandbox.sender
    assert sender is not None, "start the sandbox first"
    done = 0
    for message in open_escalations(sandbox):
        if limit is not None and done >= limit:
            break
        if not _still_open(sandbox, message):
            continue  # resolved already; the message update is on its way
        buttons = _buttons(message)
        accepts = [b for b in buttons if b.get("text", {}).get("text", "").startswith("Accept: ")]
        if rng.random() < decide_rate or not accepts:
            view = _open_decide_modal(sandbox, lead_user, message)
            if view is None:
                continue  # refused (not a lead, already resolved) or never opened
            rationale = rng.choice(RATIONALES)
            for _ in range(MODAL_TRIES):  # a refused choice is chosen again, as a person would
                reply = sender.submit_view(lead_user, view, _decision_values(view, rng, rationale))
                if '"response_action"' not in reply.body:
                    break
        else:
            primary = [b for b in accepts if b.get("style") == "primary"]
            choice = primary[0] if primary and rng.random() < 0.8 else rng.choice(accepts)
            sender.click(lead_user, message, action_id=choice["action_id"])
        done += 1
    return done


def _open_decide_modal(sandbox: SlackSandbox, lead_user: str, message: dict) -> dict | None:
    assert sandbox.sender is not None, "start the sandbox first"
    before = len(sandbox.emulator.views_opened())
    response = sandbox.sender.click(lead_user, message, action_id=DECIDE)
    if response.status != 200:
        return None
    if sandbox.background:  # Bolt acks first and opens the modal from its worker thread
        try:
            sandbox.wait_until(
                lambda: len(sandbox.emulator.views_opened()) > before, timeout_s=MODAL_WAIT_S
            )
        except TimeoutError:
            return None
    opened = sandbox.emulator.views_opened()
    return opened[-1] if len(opened) > before else None


def _still_open(sandbox: SlackSandbox, message: dict) -> bool:
    escalation_id = escalation_id_of(message)
    if escalation_id is None:
        return False
    with Session(sandbox.ctx.engine) as session:
        escalation = session.get(Escalation, escalation_id)
        return escalation is not None and escalation.status == "open"


def escalation_id_of(message: dict) -> int | None:
    """The escalation a channel message belongs to, from its "Decide…" button."""
    for button in _buttons(message):
        if button.get("action_id") == DECIDE:
            return int(json.loads(button["value"])["e"])
    return None
