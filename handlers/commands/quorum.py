"""`/quorum next | stats | pause | resume | help`: a reviewer's own controls, and
`/quorum status | audit [project]` and `/quorum provenance ITEM [project]` for those who
lead, own or audit a project, answered
ephemerally (only they see it). Anything else gets the help text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond

from bot.runtime.context import QuorumContext
from bot.slack import ids, inbound
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say
from bot.workflow import oversight
from bot.workflow.review import interactions, pause, queue


def answer_for(ctx: QuorumContext, user: str, text: str, *, key: str) -> str:
    words = text.strip().split()
    word = words[0].lower() if words else "help"
    if word == "next":
        found = interactions.run_in_transaction(ctx, queue.next_item, user_id=user, key=key)
        if found.external_id is None:
            return say("command_next_none", paused=found.paused)
        return say(
            "command_next_sent",
            project_name=escape_mrkdwn(found.project_name or ""),
            external_id=escape_mrkdwn(found.external_id),
            more=found.more,
        )
    if word == "stats":
        stats = interactions.run_in_transaction(ctx, queue.reviewer_stats, user_id=user)
        return say(
            "command_stats",
            pending=stats.pending,
            today=stats.today,
            week=stats.week,
            total=stats.total,
            agreement=stats.agreement,
            compared=stats.compared,
            paused=stats.paused,
        )
    if word == "pause":
        result = interactions.run_in_transaction(ctx, pause.pause, user_id=user, rng=ctx.rng)
        if not result.member:
            return say("command_not_member", action="pause")
        return say("command_paused", already=result.already, moved=result.moved)
    if word == "resume":
        result = interactions.run_in_transaction(ctx, pause.resume, user_id=user)
        if not result.member:
            return say("command_not_member", action="resume")
        return say("command_resumed", already=result.already)
    if word in ("status", "audit"):
        return oversight_answer(ctx, user, word, words[1] if len(words) > 1 else None)
    if word == "provenance":
        if len(words) < 2:
            return say("command_provenance_usage", command=ids.COMMAND)
        return provenance_answer(ctx, user, words[1], words[2] if len(words) > 2 else None)
    help_text = say("command_help", command=ids.COMMAND)
    if word == "help":
        return help_text
    return say("command_unknown", text=escape_mrkdwn(text.strip()[:100])) + "\n" + help_text


def oversight_answer(ctx: QuorumContext, user: str, word: str, project: str | None) -> str:
    """What a lead, owner or auditor reads: checked against the project files first."""
    if word == "status":
        found, statuses = oversight.project_statuses(ctx.engine, user, project)
        text = say("command_status", statuses=statuses) if found.projects else ""
    else:
        key = ctx.settings.quorum_audit_key
        found, checks = oversight.audit_checks(ctx.engine, user, project, key=key)
        text = say("command_audit", checks=checks) if found.projects else ""
    if not found.projects:
        return say("command_not_overseer", project=found.refused, what=word)
    return text


def provenance_answer(ctx: QuorumContext, user: str, external_id: str, project: str | None) -> str:
    found, shown = oversight.item_provenance(ctx.engine, user, external_id, project)
    if not found.projects:
        return say("command_not_overseer", project=found.refused, what="provenance")
    if shown.history is None:
        return say(
            "command_provenance_missing",
            external_id=external_id,
            several=shown.several or [],
            command=ids.COMMAND,
        )
    return say("command_provenance", history=shown.history, shown=oversight.EVENTS_SHOWN)


def make_quorum_command(ctx: QuorumContext) -> Callable[..., None]:
    def on_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()  # within Slack's 3 seconds; pausing may move many items, so answer after
        user = command["user_id"]
        typed = inbound.command_text(command.get("text"))
        if typed is None:
            length = len(str(command.get("text")))
            text = say("command_too_long", length=length, command=ids.COMMAND)
        else:
            text = answer_for(ctx, user, typed, key=f"next:{user}:{command.get('trigger_id')}")
        respond(text=text, response_type="ephemeral")

    return on_command
