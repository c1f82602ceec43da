"""What an imported item must look like: the record type of the project's kind (its
content type's fields plus the kind's own), checked against the project.

Validation happens on every record before anything is written, so a bad file is
rejected whole with the line and field of each problem. The bounds of bot/intake/bounds.py
(size, nesting, text a store cannot hold) are checked first, on every intake path.
"""

from __future__ import annotations

from pydantic import ValidationError

from bot.config.people import TAG_HINTS
from bot.config.project import ProjectConfig
from bot.content.base import NOT_CONTENT, ItemRecord
from bot.intake.bounds import ItemLimits, encoded_size, value_problems
from bot.kinds.registry import kind_of

__all__ = ["ItemRecord", "RecordError", "item_content", "validate_record"]


class RecordError(ValueError):
    """One bad record, described for a person: `line 12: field prediction.label: ...`.
    `problems` are its problems one by one (the message joins them with "; ")."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


def _refused(problems: list[str]) -> RecordError:
    return RecordError("; ".join(problems), problems)


def _shown(value: object) -> str:
    """A refused value as the error shows it: its repr, cut (it may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}…"


def validate_record(
    data: object,
    config: ProjectConfig,
    *,
    limits: ItemLimits | None = None,
    size: int | None = None,
) -> ItemRecord:
    """Parse one record for the project's kind; raise RecordError listing its problems.
    `size` is the record's size in its file (else it is measured as JSON); pass `limits`
    when validating many records (read from the settings otherwise)."""
    if not isinstance(data, dict):
        raise RecordError("each record must be a JSON object")
    limits = limits or ItemLimits.from_settings()
    if size is not None and size > limits.max_bytes:
        raise RecordError(limits.size_problem(size))
    problems = value_problems(data, limits)  # first: measuring recurses into the nesting
    if problems:
        raise _refused(problems)
    size = encoded_size(data) if size is None else size
    if size > limits.max_bytes:
        raise RecordError(limits.size_problem(size))
    kind = kind_of(config)
    try:
        record = kind.record_for(data).model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "string_pattern_mismatch":  # a requirement's tag
                message = TAG_HINTS.get(str((err.get("ctx") or {}).get("pattern")), message)
            if err["type"] == "extra_forbidden":
                message = f"not a field of a {config.kind} item"
            elif err["type"] != "missing" and not isinstance(err.get("input"), dict | list):
                message += f" (got {_shown(err.get('input'))})"
            problems.append(f"field `{where}`: {message}" if where else message)
        raise _refused(problems) from None
    problems = kind.record_problems(record, config)
    if problems:
        raise _refused(problems)
    return record


def item_content(record: ItemRecord) -> dict:
    """What reviewers see: the record without the caller's id, metadata, gold and
    requirements."""
    return record.model_dump(mode="json", exclude=set(NOT_CONTENT), exclude_none=True)
