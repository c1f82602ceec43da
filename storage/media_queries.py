"""Media as uploaded to Slack (SlackFile): which upload a content hash and rendition has,
who is uploading it, and whether Slack has processed it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import SlackFile

Key = tuple[str, str]  # (sha256, rendition)


def slack_files(session: Session, keys: Collection[Key]) -> dict[Key, SlackFile]:
    if not keys:
        return {}
    rows = session.exec(
        select(SlackFile).where(tuple_(col(SlackFile.sha256), col(SlackFile.rendition)).in_(keys))
    ).all()
    return {(row.sha256, row.rendition): row for row in rows}


def claim_upload(session: Session, key: Key, *, now: datetime, lease: timedelta) -> bool:
    """Take the upload of `key`: True if this caller is to upload it now (no one has, and
    no one else holds a live claim)."""
    sha256, rendition = key
    try:
        with session.begin_nested():
            session.add(SlackFile(sha256=sha256, rendition=rendition, claimed_until=now + lease))
        return True
    except IntegrityError:
        pass
    taken = session.exec(
        update(SlackFile)
        .where(
            col(SlackFile.sha256) == sha256,
            col(SlackFile.rendition) == rendition,
            col(SlackFile.file_id).is_(None),
            or_(col(SlackFile.claimed_until).is_(None), col(SlackFile.claimed_until) < now),
        )
        .values(claimed_until=now + lease)
    )
    return bool(taken.rowcount)


def release_upload(session: Session, key: Key) -> None:
    """Give up a claim after a failed upload, for the next sender to try again."""
    session.exec(
        update(SlackFile)
        .where(col(SlackFile.sha256) == key[0], col(SlackFile.rendition) == key[1])
        .where(col(SlackFile.file_id).is_(None))
        .values(claimed_until=None)
    )


def record_upload(session: Session, key: Key, file_id: str, *, now: datetime) -> None:
    session.exec(
        update(SlackFile)
        .where(col(SlackFile.sha256) == key[0], col(SlackFile.rendition) == key[1])
        .values(file_id=file_id, uploaded_at=now, claimed_until=None)
    )


def mark_ready(session: Session, key: Key, *, now: datetime) -> None:
    session.exec(
        update(SlackFile)
        .where(col(SlackFile.sha256) == key[0], col(SlackFile.rendition) == key[1])
        .values(ready_at=now)
    )
