"""`quorum webhook add|list|remove|log`: a project's signed webhooks (docs/webhooks.md).
The signing secret is printed once, by `add`; nothing else shows it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.context import open_context
from bot.cli.output import console, fail
from bot.webhooks.events import EVENT_TYPES
from storage.db import session_scope

app = typer.Typer(
    help="Signed webhooks: a project's events POSTed to your URL.", no_args_is_help=True
)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


@app.command("add")
def webhook_add(
    url: str = typer.Argument(..., help="Where to POST the events (http or https)."),
    project: str = typer.Option(..., "--project", "-p", help="The project whose events."),
    events: str | None = typer.Option(
        None,
        "--events",
        help=f"Comma-separated event types (default: all of {', '.join(EVENT_TYPES)}).",
    ),
) -> None:
    """Add a webhook; prints its id and its signing secret, once."""
    from bot.webhooks.events import UnknownEventTypes
    from bot.webhooks.subscriptions import add_webhook, shown_url
    from bot.webhooks.targets import TargetRefused

    ctx = open_context()
    try:
        with session_scope(ctx.engine) as session:
            added = add_webhook(
                session,
                project=project,
                url=url,
                events=events,
                allow_private=ctx.settings.quorum_webhook_allow_private,
                now=ctx.clock.now(),
                actor=os.environ.get("USER", "cli"),
            )
    except UnknownEventTypes as exc:
        raise fail(f"--events: {exc}.") from None
    except TargetRefused as exc:
        raise fail(f"Webhook URL refused: {exc}.") from None
    console.print(
        f"Added webhook {added.id} to [bold]{escape(added.project)}[/bold]: "
        f"{escape(shown_url(added.url))}",
        soft_wrap=True,
    )
    console.print(f"Events: {', '.join(added.events)}")
    console.print("Signing secret (shown only now; give it to your receiver):")
    console.print(added.secret, markup=False, highlight=False, soft_wrap=True)


@app.command("list")
def webhook_list(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project's."),
) -> None:
    """The webhooks, with their pending and failed deliveries (never their secrets)."""
    from bot.webhooks.subscriptions import list_webhooks, shown_url

    ctx = open_context()
    with session_scope(ctx.engine) as session:
        hooks = list_webhooks(session, project=project)
    if not hooks:
        console.print("No webhooks." + ("" if project else " Add one with `quorum webhook add`."))
        return
    table = Table(title="Webhooks")
    for column in ("ID", "Project", "URL", "Events", "Created (UTC)", "Pending", "Failed"):
        numeric = column in ("ID", "Pending", "Failed")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for hook in hooks:
        table.add_row(
            str(hook.id),
            escape(hook.project),
            escape(shown_url(hook.url)),
            ", ".join(hook.events),
            _when(hook.created_at),
            str(hook.pending),
            str(hook.failed),
        )
    console.print(table)


@app.command("remove")
def webhook_remove(
    webhook_id: int = typer.Argument(..., metavar="ID", help="The id `quorum webhook list` shows."),
) -> None:
    """Remove a webhook: nothing more is sent to it, and its pending deliveries are dropped."""
    from bot.webhooks.subscriptions import UnknownWebhook, remove_webhook

    ctx = open_context()
    try:
        with session_scope(ctx.engine) as session:
            dropped = remove_webhook(
                session, webhook_id, now=ctx.clock.now(), actor=os.environ.get("USER", "cli")
            )
    except UnknownWebhook as exc:
        raise fail(str(exc)) from None
    if dropped:
        console.print(
            f"Removed webhook {webhook_id}; {dropped} pending deliver"
            f"{'y' if dropped == 1 else 'ies'} dropped (they will not be sent)."
        )
    else:
        console.print(f"Removed webhook {webhook_id}; nothing was pending.")


@app.command("log")
def webhook_log(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project's."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=10_000, help="How many attempts."),
) -> None:
    """Delivery attempts, newest first: when, to which webhook, what came back."""
    from bot.webhooks.subscriptions import attempt_log

    ctx = open_context()
    with session_scope(ctx.engine) as session:
        entries = attempt_log(session, project=project, limit=limit)
    if not entries:
        console.print("No webhook deliveries attempted yet.")
        return
    table = Table(title=f"Webhook attempts (newest first, at most {limit})")
    for column in ("Time (UTC)", "Webhook", "Event", "Type", "Result", "Took", "Delivery"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        result = str(entry.status) if entry.status is not None else "no answer"
        if entry.error:
            result += f": {entry.error}"
        state = entry.delivery_status
        if state == "pending":
            state = f"pending (next try {_when(entry.next_attempt_at)})"
        took = f"{entry.duration_ms} ms" if entry.duration_ms is not None else ""
        table.add_row(
            _when(entry.attempted_at),
            str(entry.webhook_id),
            entry.event_id,
            entry.event_type,
            escape(result),
            took,
            state,
        )
    console.print(table)
