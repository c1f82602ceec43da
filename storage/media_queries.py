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


def claim_upload(
    session: Session, key: Key, *, now: datetime, lease: timedelta, exists: bool
) -> bool:
    """Take the upload of `key`: True if this caller is to upload it now (no one has, and
    no one else holds a live claim). `exists`: the caller saw its row."""
    sha256, rendition = key
    if not exists:
        try:
            with session.begin_nested():
                session.add(
                    SlackFile(sha256=sha256, rendition=rendition, claimed_until=now + lease)
                )
            return True
        except IntegrityError:  # another sender's row, inserted meanwhile
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


def record_upload(session: Session, key: Key, file_id: str, *, now: datetime) -> str:
    """Keep this upload's file id, unless another sender (whose lease ran out on ours)
    recorded one first: the file id every message is to use."""
    kept = session.exec(
        update(SlackFile)
        .where(col(SlackFile.sha256) == key[0], col(SlackFile.rendition) == key[1])
        .where(col(SlackFile.file_id).is_(None))
        .values(file_id=file_id, uploaded_at=now, claimed_until=None)
    )
    if kept.rowcount:
        return file_id
    row = session.exec(
        select(SlackFile).where(SlackFile.sha256 == key[0], SlackFile.rendition == key[1])
    ).one()
    return str(row.file_id)


def forget_upload(session: Session, key: Key) -> None:
    """Slack no longer has the file: the next sender uploads it again."""
    session.exec(
        update(SlackFile)
        .where(col(SlackFile.sha256) == key[0], col(SlackFile.rendition) == key[1])
        .values(file_id=None, uploaded_at=None, ready_at=None, claimed_until=None)
    )


def mark_ready(session: Session, key: Key, *, now: datetime) -> None:
    session.exec(
        update(SlackFile)
        .where(col(SlackFile.sha256) == key[0], col(SlackFile.rendition) == key[1])
        .values(ready_at=now)
    )
