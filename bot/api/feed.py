"""The labels feed: signed-off labels in commit order, a page at a time, each as its
`labels` export record. The cursor after a page is stable: a label committed later
always lands after it (storage.api_queries.feed_positions says how), so a consumer
following `next` sees every label once."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.api.auth import Caller
from bot.api.cursor import START, decode_cursor, encode_cursor
from bot.exports.records import label_records
from bot.runtime.context import QuorumContext
from storage import api_queries


def labels_page(
    ctx: QuorumContext, caller: Caller, *, after: str | None, limit: int
) -> dict[str, Any]:
    start = decode_cursor(after) if after is not None else START
    with Session(ctx.engine) as session:
        positions = api_queries.feed_positions(session, caller.project_id, after=start, limit=limit)
        records = label_records(session, caller.project_id, [label for _, label in positions])
    if positions:
        following = encode_cursor(positions[-1])
    else:  # nothing new: the same cursor, to poll with
        following = after if after is not None else encode_cursor(START)
    return {"labels": records, "next": following}
