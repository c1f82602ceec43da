"""`quorum token create | list | revoke`: the REST API's bearer tokens, one project each.
A token is printed once, when it is made; only its SHA-256 is kept."""

from __future__ import annotations

import os
from datetime import datetime

import typer

from bot.cli.context import open_context
from bot.cli.output import console
from storage.db import session_scope

app = typer.Typer(help="Bearer tokens of the REST API (one project each).", no_args_is_help=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


@app.command("create")
def token_create(
    project: str = typer.Option(..., "--project", "-p", help="The project the token is for."),
    scope: str = typer.Option(
        "read", "--scope", help="read (status, labels, stats) or write (also push items)."
    ),
    name: str | None = typer.Option(None, "--name", help="What the token is for, for `list`."),
) -> None:
    """Make a token and print it, once: store it where your pipeline keeps secrets."""
    from bot.api.tokens import create_token

    ctx = open_context()
    with session_scope(ctx.engine) as session:
        created = create_token(
            session,
            project=project,
            scope=scope,
            name=name,
            now=ctx.clock.now(),
            actor=os.environ.get("USER", "cli"),  # who did it, in the audit trail
        )
    info = created.info
    console.print(f"Created {info.scope} token {info.id} ({info.name}) for project {info.project}.")
    console.print("The token (shown only now; `quorum token revoke ID` ends it):")
    # Plain print: no wrapping or markup may change a character of it.
    typer.echo(created.token)


@app.command("list")
def token_list(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project's."),
) -> None:
    """Every token: id, project, name, scope, created, last used, revoked (never the token)."""
    from rich.markup import escape
    from rich.table import Table
    from sqlmodel import Session

    from bot.api.tokens import list_tokens

    ctx = open_context()
    with Session(ctx.engine) as session:
        tokens = list_tokens(session, project=project)
    if not tokens:
        console.print("No tokens yet: `quorum token create --project NAME`.")
        return
    table = Table(title="API tokens")
    for column in ("id", "project", "name", "scope", "starts", "created", "last used", "revoked"):
        table.add_column(column, overflow="fold")
    for token in tokens:
        table.add_row(
            str(token.id),
            token.project,
            escape(token.name),
            token.scope,
            f"{token.prefix}…",
            _when(token.created_at),
            _when(token.last_used_at),
            _when(token.revoked_at),
        )
    console.print(table)


@app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="The id `quorum token list` shows."),
) -> None:
    """End a token at once: the next request that uses it gets 401."""
    from bot.api.tokens import revoke_token

    ctx = open_context()
    with session_scope(ctx.engine) as session:
        info, now_revoked = revoke_token(
            session, token_id, now=ctx.clock.now(), actor=os.environ.get("USER", "cli")
        )
    if now_revoked:
        console.print(f"Revoked token {info.id} ({info.name}) of project {info.project}.")
    else:
        console.print(f"Token {info.id} was revoked already, on {_when(info.revoked_at)}.")
