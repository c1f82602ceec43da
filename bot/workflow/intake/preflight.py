"""Before a project is applied: render a sample of every message it will send with the
real builders, and check each against Slack's Block Kit limits.

The schema (bot/config/project.py) bounds what is static (a scale label's length, the
number of criteria); this catches what only the builders know: how a question, labels
and criteria combine into blocks. Each problem names the project file's field when one
is to blame, found by rendering again with that field replaced by a short text: the
field whose replacement makes the problem go away is the one to change.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bot.config.project import ProjectConfig, field_path
from bot.intake.records import RecordError, item_content, validate_record
from bot.kinds.registry import kind_of
from bot.slack.blockkit import validate_message_blocks, validate_view
from bot.slack.escalation import (
    Choice,
    EscalationCard,
    ShownAnswer,
    decision_modal,
    escalation_blocks,
)
from bot.slack.review import ReviewState, build_answered, build_request_for, content_parts
from bot.slack.views import conversation_modal, flag_modal, rationale_modal

SAMPLE_ID = "sample-1"
ASSIGNMENT_ID = 123_456_789  # large ids make the longest button values
TURNS = [
    {"role": "user", "content": "I was charged twice for my subscription this month."},
    {"role": "assistant", "content": "Sorry about that! I can refund the second charge."},
]
PROMPT = [{"role": "user", "content": "Explain what DNS does."}]


def _responses(count: int) -> list[dict]:
    return [
        {"id": f"r{n}", "content": f"Answer number {n}: DNS maps names to addresses.", "model": "m"}
        for n in range(1, count + 1)
    ]


def sample_content(config: ProjectConfig) -> dict | None:
    """An item of the shape the project's kind reads, as an import would store it."""
    prediction = (
        {"label": config.labels[0], "confidence": 0.5, "model": "m"} if config.labels else None
    )
    candidates: list[dict[str, Any]] = [
        {"conversation": TURNS, "prediction": prediction},
        {"conversation": TURNS},
        *({"prompt": PROMPT, "responses": _responses(n)} for n in range(2, 7)),
    ]
    for candidate in candidates:
        data = {"id": SAMPLE_ID, **{k: v for k, v in candidate.items() if v is not None}}
        try:
            return item_content(validate_record(data, config))
        except RecordError:
            continue
    return None


@dataclass(frozen=True)
class Rendered:
    name: str  # which message, as a person calls it
    surface: str  # "message" or "view"
    build: Callable[[ProjectConfig], Any]  # blocks (message) or a view dict


def _renders(content: dict) -> Iterator[Rendered]:
    """Every message and modal a project sends, built from `content` by the real builders."""

    def parts(config: ProjectConfig) -> tuple[Any, dict | None, Any]:
        kind = kind_of(config)
        presentation = kind.presentation(content, random.Random(0))
        truth = kind.demo_truth(config, SAMPLE_ID, content)
        return kind, presentation, truth

    def request(config: ProjectConfig, **extra: Any) -> list[dict]:
        _, presentation, _ = parts(config)
        message = build_request_for(
            config,
            assignment_id=ASSIGNMENT_ID,
            content=content,
            presentation=presentation,
            **extra,
        )
        return _with_text(message.text, message.blocks)

    def suggested(config: ProjectConfig) -> list[dict]:
        _, _, truth = parts(config)
        suggestion = {"value": truth, "confidence": 0.55, "model": "gpt-4o-mini"}
        return request(config, suggestion=suggestion if truth is not None else None)

    def changing(config: ProjectConfig) -> list[dict]:
        _, _, truth = parts(config)
        return request(config, state=ReviewState(changing=truth) if truth is not None else None)

    def answered(config: ProjectConfig) -> list[dict]:
        _, presentation, truth = parts(config)
        if truth is None:
            return []
        assignment = SimpleNamespace(id=ASSIGNMENT_ID, presentation=presentation)
        message = build_answered(config, assignment, content, truth, datetime.now(UTC))
        return _with_text(message.text, message.blocks)

    def card(config: ProjectConfig) -> EscalationCard:
        kind, _, truth = parts(config)
        values = [truth, truth] if truth is not None else []
        agreement = kind.agreement(config, values) if values else None
        described = kind.describe(config, truth, content) if truth is not None else ""
        answers = [
            ShownAnswer(reviewer=f"U0REVIEW{n}", text=described, seconds=42.0) for n in (1, 2)
        ]
        return EscalationCard(
            escalation_id=ASSIGNMENT_ID,
            config=config,
            external_id=SAMPLE_ID,
            content=content,
            reason="agreement below the threshold",
            answers=answers if values else [],
            choices=[Choice(described, ASSIGNMENT_ID, 2, True)] if values else [],
            share=agreement.share if agreement else 0.0,
            agreeing=agreement.agreeing if agreement else 0,
            per_criterion=agreement.per_criterion if agreement else None,
            posterior=0.5,
            consensus=agreement.value if agreement else None,
            consensus_text=described or None,
        )

    def escalation(config: ProjectConfig) -> list[dict]:
        text, blocks = escalation_blocks(card(config))
        return _with_text(text, blocks)

    def full_view(config: ProjectConfig) -> dict:
        _, presentation, _ = parts(config)
        return conversation_modal(
            content_parts(config, content, presentation), ref={"a": ASSIGNMENT_ID}
        )

    yield Rendered("review message", "message", request)
    yield Rendered("review message with an AI suggestion", "message", suggested)
    yield Rendered("review message while changing an answer", "message", changing)
    yield Rendered("review message after an answer", "message", answered)
    yield Rendered("escalation message", "message", escalation)
    yield Rendered("lead's decision modal", "view", lambda config: decision_modal(card(config)))
    yield Rendered(
        "rationale modal",
        "view",
        lambda config: rationale_modal(
            config,
            assignment_id=ASSIGNMENT_ID,
            external_id=SAMPLE_ID,
            current=None,
            answer="the answer",
        ),
    )
    yield Rendered(
        "flag modal",
        "view",
        lambda config: flag_modal(config, assignment_id=ASSIGNMENT_ID, external_id=SAMPLE_ID),
    )
    yield Rendered("full conversation modal", "view", full_view)


EMPTY_TEXT = "__notification_text__"


def _with_text(text: str, blocks: list[dict]) -> list[dict]:
    """Blocks plus the notification text, checked as a pseudo block (Slack needs one)."""
    if not (text or "").strip():
        return [*blocks, {"type": EMPTY_TEXT}]
    return blocks


def _problems_of(rendered: Rendered, config: ProjectConfig) -> list[str]:
    try:
        built = rendered.build(config)
    except Exception as exc:  # a builder refusing the content is the problem itself
        return [" ".join(str(exc).split()) or type(exc).__name__]
    if rendered.surface == "view":
        return validate_view(built)
    if any(block.get("type") == EMPTY_TEXT for block in built):
        return ["the notification text is empty"]
    return validate_message_blocks(built) if built else []


# --- finding the field to blame ------------------------------------------------------------

SAFE = "x"


def _variants(config: ProjectConfig) -> Iterator[tuple[str, ProjectConfig]]:
    """(field path, the config with that one field made short and harmless)."""
    yield "question", config.model_copy(update={"question": "Question?"})
    if config.description:
        yield "description", config.model_copy(update={"description": None})
    for index in range(len(config.labels)):
        labels = [*config.labels]
        labels[index] = f"{SAFE}{index}"
        yield field_path(("labels", index)), config.model_copy(update={"labels": labels})
    for index in range(len(config.criteria)):
        criteria = [*config.criteria]
        criteria[index] = f"{SAFE}{index}"
        yield field_path(("criteria", index)), config.model_copy(update={"criteria": criteria})
    for score in config.scale.labels:
        scale_labels = {**config.scale.labels, score: f"{SAFE}{score}"}
        scale = config.scale.model_copy(update={"labels": scale_labels})
        yield field_path(("scale", "labels", score)), config.model_copy(update={"scale": scale})
    if len(config.labels) > 1:
        short = [f"{SAFE}{index}" for index in range(len(config.labels))]
        yield "labels", config.model_copy(update={"labels": short})
    if len(config.labels) > 2:
        yield "labels", config.model_copy(update={"labels": config.labels[:2]})
    if len(config.criteria) > 1:
        yield "criteria", config.model_copy(update={"criteria": config.criteria[:1]})


def _blame(rendered: Rendered, config: ProjectConfig, problem: str) -> str | None:
    for where, variant in _variants(config):
        if problem not in _problems_of(rendered, variant):
            return where
    return None


def preflight(config: ProjectConfig) -> list[str]:
    """What Slack would refuse of this project's messages, one line per problem, naming
    the project file's field where one is to blame and the messages it breaks; [] when
    every message renders."""
    content = sample_content(config)
    if content is None:
        return [f"no sample item of a {config.kind} project could be built to check the messages"]
    found: dict[tuple[str | None, str], list[str]] = {}
    for rendered in _renders(content):
        for problem in _problems_of(rendered, config)[:3]:
            where = _blame(rendered, config, problem)
            found.setdefault((where, problem), []).append(rendered.name)
    return [
        f"{where + ': ' if where else ''}{problem} (in the {', '.join(names)})"
        for (where, problem), names in found.items()
    ]
