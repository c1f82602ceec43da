"""Reading signed-off labels in a stream, for exports."""

from __future__ import annotations

from collections.abc import Iterator

from sqlmodel import Session, col, select

from storage.models import Item, Label, Response


def iter_labels(
    session: Session, project_id: int, *, batch: int = 1000
) -> Iterator[tuple[Label, Item]]:
    """Labels with their items in id order, fetched page by page (keyset pagination) so
    memory stays flat however many there are."""
    last_id = 0
    while True:
        rows = session.exec(
            select(Label, Item)
            .join(Item, col(Item.id) == Label.item_id)
            .where(Label.project_id == project_id, col(Label.id) > last_id)
            .order_by(col(Label.id))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1][0].id
        session.expunge_all()


def responses_by_item(session: Session, item_ids: list[int]) -> dict[int, list[Response]]:
    found: dict[int, list[Response]] = {item_id: [] for item_id in item_ids}
    for response in session.exec(
        select(Response).where(col(Response.item_id).in_(item_ids)).order_by(col(Response.id))
    ).all():
        found[response.item_id].append(response)
    return found
