"""What an imported item must look like: the record type of the project's kind (its
content type's fields plus the kind's own), checked against the project.

Validation happens on every record before anything is written, so a bad file is
rejected whole with the line and field of each problem.
"""

from __future__ import annotations

from pydantic import ValidationError

from bot.config.project import ProjectConfig
from bot.content.base import ItemRecord
from bot.kinds.registry import kind_of

__all__ = ["ItemRecord", "RecordError", "item_content", "validate_record"]


class RecordError(ValueError):
    """One bad record, described for a person: `line 12: field prediction.label: ...`."""


def validate_record(data: object, config: ProjectConfig) -> ItemRecord:
    """Parse one record for the project's kind; raise RecordError listing its problems."""
    if not isinstance(data, dict):
        raise RecordError("each record must be a JSON object")
    kind = kind_of(config)
    try:
        record = kind.record.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"not a field of a {config.kind} item"
            elif err["type"] != "missing" and not isinstance(err.get("input"), dict | list):
                message += f" (got {err.get('input')!r})"
            problems.append(f"field `{where}`: {message}" if where else message)
        raise RecordError("; ".join(problems)) from None
    problems = kind.record_problems(record, config)
    if problems:
        raise RecordError("; ".join(problems))
    return record


def item_content(record: ItemRecord) -> dict:
    """What reviewers see: the record without the caller's id, metadata and gold."""
    return record.model_dump(mode="json", exclude={"id", "metadata", "gold"}, exclude_none=True)
