"""The delivery part of `quorum status` on the terminal: what waits to go to Slack, since
when, and what is being retried or has failed."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session

from storage import outbox_store
from storage.models import Item


def _age(now: datetime, then: object) -> str:
    if not isinstance(then, datetime):  # none yet (backlog's figures are untyped values)
        return "-"
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def delivery_status_table(engine: Engine, now: datetime) -> Table:
    with Session(engine) as session:
        figures = outbox_store.backlog(session, now=now)
        item = session.get(Item, figures["oldest_item_id"]) if figures["oldest_item_id"] else None
    table = Table(title="Slack delivery (outbox)")
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("detail")
    oldest = figures["oldest_key"]
    if oldest and item is not None:
        oldest = f"{oldest} (item {item.external_id})"
    table.add_row(
        "waiting to send",
        str(figures["pending"]),
        f"oldest queued {_age(now, figures['oldest'])} ago: {oldest}" if oldest else "",
    )
    table.add_row("held for work hours or pacing", str(figures["deferred"]), "they go out when due")
    retry_errors = figures["retry_errors"]
    counted = retry_errors.items() if isinstance(retry_errors, dict) else ()
    errors = ", ".join(f"{error} x{n}" for error, n in counted)
    next_retry = figures["next_retry"]
    wait = _age(next_retry, now) if isinstance(next_retry, datetime) and next_retry > now else "now"
    table.add_row(
        "retrying after an error",
        str(figures["retrying"]),
        f"next retry in {wait} ({errors})" if figures["retrying"] else "",
    )
    table.add_row(
        "failed for good",
        str(figures["failed"]),
        "Slack refused them (e.g. account inactive); reviews were reassigned"
        if figures["failed"]
        else "",
    )
    return table
