"""Block Kit for escalations: the leads' channel message, the "Decide…" modal, the notes
to overruled reviewers and the reminders; and the same for a review stage's senior
reviewer (in their DM: "Accept: <consensus>" or "Fix…"). Pure builders: plain values in,
blocks out.

Everything that came from a sample, a reviewer or an LLM is escaped for mrkdwn and cut to
Slack's limits; the message stays well under 50 blocks whatever the item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.config.project import ProjectConfig
from bot.kinds.base import TEXT_INPUT_LIMIT, VALUE_ACTION
from bot.kinds.registry import kind_of
from bot.slack.text import SECTION_LIMIT, escape_mrkdwn, mention, truncate

ACCEPT = "quorum_escalation_accept"
ACCEPT_PATTERN = rf"^{ACCEPT}:\d+$"
DECIDE = "quorum_escalation_decide"
DECIDE_VIEW = "quorum_decide"
RATIONALE_BLOCK = "rationale"

EDIT_LIMIT = 800
RATIONALE_LIMIT = 400
MAX_CHOICES = 24  # an actions block holds 25 elements; one is "Decide…"
MAX_BUTTON_TEXT = 75
# Sections of answers in one message: with the sample, the figures and the buttons, well
# within Slack's 50 blocks at any overlap.
MAX_ANSWER_SECTIONS = 20


@dataclass(frozen=True)
class ShownAnswer:
    """One reviewer's answer as the leads see it."""

    reviewer: str
    text: str  # the answer in plain words
    seconds: float | None
    rationale: str | None = None
    edited_text: str | None = None  # corrections: the reviewer's edited response
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Choice:
    """A distinct answer the lead can accept with one click (the first response giving it)."""

    text: str
    response_id: int
    count: int
    is_consensus: bool


@dataclass(frozen=True)
class EscalationCard:
    """Everything the escalation message shows, read from the database by the workflow."""

    escalation_id: int
    config: ProjectConfig
    external_id: str
    content: dict
    reason: str | None
    answers: list[ShownAnswer]
    choices: list[Choice]
    share: float
    agreeing: int
    per_criterion: dict[str, float] | None
    posterior: float | None
    sign_off_only: bool = False  # the project has a lead sign off every item
    consensus: Any = None  # canonical value offered as the default, if any
    consensus_text: str | None = None
    summary: str | None = None
    resolved_by: str | None = None
    resolved_text: str | None = None
    resolution_rationale: str | None = None
    resolved_at: datetime | None = None
    review: bool = False  # a senior reviewer's review of the consensus, not the leads'


def _button_text(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1] + "…"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)[0]))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, SECTION_LIMIT)[0])])


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "time unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _quote(text: str, limit: int) -> str:
    cut, _ = truncate(escape_mrkdwn(text.strip()), limit)
    return "\n".join("> " + line for line in cut.splitlines() or [""])


# --------------------------------------------------------------------------- the sample


def sample_blocks(config: ProjectConfig, content: dict) -> list[Block]:
    """The item as the reviewers saw it, compacted for a channel message."""
    kind = kind_of(config)
    blocks = kind.content_for(content).channel_blocks(content)
    blocks += [_context(line) for line in kind.channel_context(content)]
    return blocks


# --------------------------------------------------------------------------- the message


def _answer_lines(card: EscalationCard) -> list[str]:
    lines = []
    for number, answer in enumerate(card.answers, start=1):
        line = (
            f"*{number}.* {mention(answer.reviewer)} — *{escape_mrkdwn(answer.text)}*"
            f" · {duration(answer.seconds)}"
        )
        if answer.flags:
            line += " · flagged: " + escape_mrkdwn(", ".join(answer.flags))
        if answer.edited_text:
            line += "\n" + _quote(answer.edited_text, EDIT_LIMIT)
        if answer.rationale:
            line += (
                "\n_Rationale:_ "
                + truncate(escape_mrkdwn(answer.rationale.strip()), RATIONALE_LIMIT)[0]
            )
        lines.append(line)
    return lines


def _packed(lines: list[str], external_id: str) -> list[Block]:
    """Answer lines packed into as few sections as Slack's 3000-character limit allows, at
    most MAX_ANSWER_SECTIONS of them (a message holds 50 blocks): the answers that do not
    fit are counted, and `quorum provenance` shows them."""
    blocks: list[Block] = []
    current = ""
    for number, line in enumerate(lines):
        line = truncate(line, SECTION_LIMIT)[0]
        if current and len(current) + 2 + len(line) > SECTION_LIMIT:
            blocks.append(_section(current))
            current = ""
            if len(blocks) == MAX_ANSWER_SECTIONS:
                left = len(lines) - number
                blocks.append(
                    _context(
                        f"{left} more answer{'s' if left != 1 else ''} not shown: "
                        f"`/quorum provenance {escape_mrkdwn(external_id)}` lists them all"
                    )
                )
                return blocks
        current = f"{current}\n\n{line}" if current else line
    if current:
        blocks.append(_section(current))
    return blocks


def _figures(card: EscalationCard) -> str:
    config = card.config
    parts = [
        f"Agreement *{card.share:.2f}* ({card.agreeing} of {len(card.answers)})",
        f"threshold {config.agreement:.2f}",
    ]
    if card.per_criterion:
        parts.append(
            ", ".join(f"{escape_mrkdwn(c)} {s:.2f}" for c, s in card.per_criterion.items())
        )
    if card.posterior is not None:
        parts.append(f"{kind_of(config).posterior_name} {card.posterior:.2f}")
    text = " · ".join(parts)
    if card.reason:
        text += f"\nWhy it is here: {escape_mrkdwn(card.reason)}"
    return text


def _choice_value(escalation_id: int, response_id: int) -> str:
    return json.dumps({"e": escalation_id, "r": response_id}, separators=(",", ":"))


def _actions(card: EscalationCard) -> ActionsBlock:
    buttons = []
    for index, choice in enumerate(card.choices[:MAX_CHOICES]):
        buttons.append(
            ButtonElement(
                text=_button_text(f"Accept: {choice.text}"),
                action_id=f"{ACCEPT}:{index}",
                value=_choice_value(card.escalation_id, choice.response_id),
                style="primary" if choice.is_consensus else None,
            )
        )
    buttons.append(
        ButtonElement(
            text="Fix…" if card.review else "Decide…",
            action_id=DECIDE,
            value=json.dumps({"e": card.escalation_id}, separators=(",", ":")),
        )
    )
    return ActionsBlock(block_id=f"escalation:{card.escalation_id}", elements=buttons)


def escalation_blocks(card: EscalationCard) -> tuple[str, list[dict]]:
    """(notification text, blocks) of the escalation message, open or resolved."""
    config = card.config
    lead_sign_off = card.sign_off_only
    title = ":memo: *Sign-off needed*" if lead_sign_off else ":rotating_light: *Needs a lead*"
    if card.review:
        title = ":mag: *Review what the reviewers agreed on*"
    project = escape_mrkdwn(config.name)
    item = escape_mrkdwn(card.external_id)
    blocks: list[Block] = [
        _section(f"{title} · *{project}* · item `{item}`"),
        _context(escape_mrkdwn(config.question)),
        DividerBlock(),
        *sample_blocks(config, card.content),
        DividerBlock(),
        *_packed(_answer_lines(card), card.external_id),
        _context(_figures(card)),
    ]
    if card.summary:
        summary = truncate(escape_mrkdwn(card.summary.strip()), 2500)[0]
        blocks.append(
            _section(
                ":robot_face: *AI summary* _(written by an AI model; check it against the "
                f"answers above)_\n{summary}"
            )
        )
    if card.resolved_by:
        decided = escape_mrkdwn(card.resolved_text or "")
        done = "Reviewed" if card.review else "Resolved"
        text = f":white_check_mark: *{done} by {mention(card.resolved_by)}*: *{decided}*"
        if card.resolution_rationale:
            text += "\n" + _quote(card.resolution_rationale, 1500)
        blocks.append(_section(text))
        if card.resolved_at:
            blocks.append(_context(card.resolved_at.strftime("Signed off %Y-%m-%d %H:%M UTC")))
        fallback = (
            f"{done} by {'a senior reviewer' if card.review else 'a lead'}: {project} item {item}"
        )
    else:
        if (lead_sign_off or card.review) and card.consensus_text:
            blocks.append(_context(f"Reviewers' consensus: *{escape_mrkdwn(card.consensus_text)}*"))
        blocks.append(_actions(card))
        fallback = f"{'Review' if card.review else 'Needs a lead'}: {project} item {item}"
    return fallback, [block.to_dict() for block in blocks]


# --------------------------------------------------------------------------- the modal


def decision_modal(card: EscalationCard) -> dict:
    """The "Decide…" modal: a final value suited to the kind, and a required rationale."""
    config = card.config
    intro = (
        f"*{escape_mrkdwn(config.name)}* · item `{escape_mrkdwn(card.external_id)}`\n"
        f"{escape_mrkdwn(config.question)}"
    )
    view = View(
        type="modal",
        callback_id=DECIDE_VIEW,
        private_metadata=json.dumps({"e": card.escalation_id}),
        title=PlainTextObject(text="Fix" if card.review else "Decide"),
        submit=PlainTextObject(text="Sign off"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            _section(intro),
            *kind_of(config).decision_inputs(config, card.content, card.consensus),
            InputBlock(
                block_id=RATIONALE_BLOCK,
                label="Rationale",
                hint="Required. Reviewers who answered differently receive it.",
                element=PlainTextInputElement(
                    action_id=VALUE_ACTION, multiline=True, max_length=TEXT_INPUT_LIMIT
                ),
            ),
        ],
    )
    return view.to_dict()


def _selected(entry: dict) -> Any:
    if entry.get("type") == "multi_static_select":
        return [o["value"] for o in entry.get("selected_options") or []]
    if "selected_option" in entry:
        option = entry.get("selected_option")
        return option["value"] if option else None
    return entry.get("value")


def read_decision(config: ProjectConfig, state_values: dict) -> tuple[Any, str, dict[str, str]]:
    """(raw final value, rationale, errors by block id) from a submitted "Decide…" modal."""

    def entry(block_id: str) -> Any:
        return _selected((state_values.get(block_id) or {}).get(VALUE_ACTION) or {})

    value, errors = kind_of(config).read_decision(config, entry)
    errors = dict(errors)
    rationale = (entry(RATIONALE_BLOCK) or "").strip()
    if not rationale:
        errors[RATIONALE_BLOCK] = "Say why: the reviewers who answered differently will read it."
    return value, rationale, errors


# --------------------------------------------------------------------------- notes


def not_a_lead_notice(config: ProjectConfig) -> str:
    leads = ", ".join(mention(lead) for lead in config.leads) or "nobody yet"
    return (
        f"Only the leads of *{escape_mrkdwn(config.name)}* can resolve its escalations "
        f"({leads}). Nothing was changed."
    )


def not_your_review_notice(assignee: str | None) -> str:
    who = mention(assignee) if assignee else "a senior reviewer"
    return f"This review was given to {who}; only they can accept or fix it. Nothing was changed."


def already_resolved_notice(resolved_by: str | None, decided: str | None) -> str:
    who = mention(resolved_by) if resolved_by else "a lead"
    what = f": *{escape_mrkdwn(decided)}*" if decided else ""
    return f"This escalation was already resolved by {who}{what}. Nothing was changed."


UNKNOWN_NOTICE = "This escalation no longer exists. Nothing was changed."


def overruled_message(
    config: ProjectConfig,
    *,
    external_id: str,
    yours: str,
    decided: str,
    lead: str,
    rationale: str | None,
    role: str = "lead",
) -> tuple[str, list[dict]]:
    """The short DM to a reviewer whose answer differs from the decision of a lead (or of
    a senior reviewer: `role`)."""
    text = (
        f"A {role} decided an item you reviewed in *{escape_mrkdwn(config.name)}* "
        f"(item `{escape_mrkdwn(external_id)}`).\n"
        f"You answered *{escape_mrkdwn(yours)}*; {mention(lead)} decided *{escape_mrkdwn(decided)}*."
    )
    if rationale:
        text += "\n" + _quote(rationale, 1500)
    else:
        text += f"\n_The {role} accepted this answer without a note._"
    blocks = [_section(text)]
    fallback = f"A {role} decided an item you reviewed: {truncate(escape_mrkdwn(decided), 200)[0]}"
    return fallback, [b.to_dict() for b in blocks]


def reminder_text(*, lead: str | None, number: int, waited_hours: float) -> str:
    waited = f"{waited_hours:.0f} h"
    if lead is None:
        return f"Reminder: this escalation has waited {waited} for a lead's decision."
    if number == 1:
        return (
            f"{mention(lead)} reminder: this escalation has waited {waited} for a lead's decision."
        )
    return (
        f"{mention(lead)} could you take this one? It has waited {waited} for a lead's decision "
        "and is still open."
    )
