"""The `labels` export: one JSON line per signed-off item with its answers."""

from __future__ import annotations

import json
from itertools import islice
from typing import TextIO

from sqlalchemy import Engine
from sqlmodel import Session

from bot.workflow.projects import require_project
from storage.label_queries import iter_labels, responses_by_item


def _pages(rows, size):  # type: ignore[no-untyped-def]
    iterator = iter(rows)
    while page := list(islice(iterator, size)):
        yield page


def export_labels(engine: Engine, *, project: str, out: TextIO) -> int:
    count = 0
    with Session(engine) as session:
        target = require_project(session, project)
        for page in _pages(iter_labels(session, target.id), 500):
            answers = responses_by_item(session, [item.id for _, item in page])
            for label, item in page:
                record = {
                    "id": item.external_id,
                    "project": target.name,
                    "value": label.value,
                    "method": label.method,
                    "agreement": label.agreement,
                    "config_version": label.config_version,
                    "signed_off_by": label.signed_off_by,
                    "signed_off_at": label.signed_off_at.isoformat(),
                    "responses": [
                        {
                            "reviewer": r.reviewer_id,
                            "value": r.value,
                            "answered_at": r.created_at.isoformat(),
                            "latency_ms": r.latency_ms,
                        }
                        for r in answers[item.id]
                    ],
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    return count
