"""`/quorum next | stats | pause | resume | help`: a reviewer's own controls, answered
ephemerally (only they see it). Anything else gets the help text."""

from __future__ import annotations

import logging

from bot.runtime.context import QuorumContext
from bot.slack import ids
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say
from bot.workflow import interactions, reviewer_queue


def answer_for(ctx: QuorumContext, user: str, text: str, *, key: str) -> str:
    words = text.strip().split()
    word = words[0].lower() if words else "help"
    if word == "next":
        found = interactions.run_in_transaction(
            ctx, reviewer_queue.next_item, user_id=user, key=key
        )
        if found.external_id is None:
            return say("command_next_none", paused=found.paused)
        return say(
            "command_next_sent",
            project_name=escape_mrkdwn(found.project_name or ""),
            external_id=escape_mrkdwn(found.external_id),
            more=found.more,
        )
    if word == "stats":
        stats = interactions.run_in_transaction(ctx, reviewer_queue.reviewer_stats, user_id=user)
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
        result = interactions.run_in_transaction(
            ctx, reviewer_queue.pause, user_id=user, rng=ctx.rng
        )
        return say("command_paused", already=result.already, moved=result.moved)
    if word == "resume":
        result = interactions.run_in_transaction(ctx, reviewer_queue.resume, user_id=user)
        return say("command_resumed", already=result.already)
    help_text = say("command_help", command=ids.COMMAND)
    if word == "help":
        return help_text
    return say("command_unknown", text=escape_mrkdwn(text.strip()[:100])) + "\n" + help_text


def make_quorum_command(ctx: QuorumContext):  # type: ignore[no-untyped-def]
    def on_command(ack, command: dict, respond, logger: logging.Logger) -> None:  # type: ignore[no-untyped-def]
        ack()  # within Slack's 3 seconds; pausing may move many items, so answer after
        user = command["user_id"]
        try:
            text = answer_for(
                ctx, user, command.get("text") or "", key=f"next:{user}:{command.get('trigger_id')}"
            )
        except Exception:
            logger.exception("/quorum %s failed", (command.get("text") or "").split()[:1])
            raise
        respond(text=text, response_type="ephemeral")

    return on_command
