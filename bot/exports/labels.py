"""The `labels` export to an open text handle: one JSON line per signed-off item, with
its final value and provenance. A shortcut over bot.exports.run for code and tests."""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from pydantic import SecretStr
from sqlalchemy import Engine

from bot.exports.run import ExportRequest, run_export
from bot.exports.writers import JsonlSink
from bot.runtime.clock import SYSTEM_CLOCK


def export_labels(
    engine: Engine,
    *,
    project: str,
    out: TextIO,
    now: datetime | None = None,
    salt: SecretStr | str = "",
    pseudonymise: bool = False,
) -> int:
    """Write the project's labels as JSONL to `out`; return how many were written."""
    result = run_export(
        engine,
        ExportRequest(project=project, format="labels", pseudonymise=pseudonymise),
        sink=JsonlSink(out),
        now=now or SYSTEM_CLOCK.now(),
        salt=salt,
    )
    return result.rows
