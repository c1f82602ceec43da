"""One workflow step in one database transaction, retried when a racing request wins.

Two deliveries of one click, or two leads deciding at once, race on row locks and
unique constraints; the loser's transaction fails and is run again, and then reads what
the winner wrote (a duplicate, "already resolved"). The delivery worker is woken after
each commit so the Slack calls the step queued go out at once. On SQLite the steps of
one process take turns in arrival order (storage.db.writer_turn), so a step never calls
Slack or anything else slow: every other step would wait for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from bot.delivery.outbox import wake_delivery
from bot.runtime.context import QuorumContext
from storage.db import session_scope, writer_turn

ATTEMPTS = 4
T = TypeVar("T")


def transact(
    ctx: QuorumContext,
    work: Callable[[Session, datetime], T],
    *,
    keep: Callable[[T], bool] | None = None,
) -> T:
    """`work(session, now)` in a transaction, run again (up to ATTEMPTS times) when it
    loses a race. With `keep`, a result it refuses is rolled back instead of committed."""
    for attempt in range(ATTEMPTS):
        try:
            with writer_turn(ctx.engine), session_scope(ctx.engine) as session:
                result = work(session, ctx.clock.now())
                if keep is not None and not keep(result):
                    session.rollback()
            wake_delivery()
            return result
        except (IntegrityError, OperationalError, StaleDataError):  # lost a race: redo
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def run_in_transaction(ctx: QuorumContext, service: Callable[..., T], **kwargs: Any) -> T:
    """Run one workflow step, `service(session, now=..., **kwargs)`, in a retried transaction."""
    return transact(ctx, lambda session, now: service(session, now=now, **kwargs))
