"""What an imported item must look like, per task kind.

Validation happens on every record before anything is written, so a bad file is
rejected whole with the line and field of each problem.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.config.project import ProjectConfig


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(_Record):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Prediction(_Record):
    label: str | list[str]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    model: str | None = None


class CandidateResponse(_Record):
    id: str = Field(min_length=1, max_length=64)
    content: str
    model: str | None = None


class ItemRecord(_Record):
    id: str = Field(min_length=1, max_length=255)
    metadata: dict[str, Any] | None = None
    gold: Any | None = None


class ConversationRecord(ItemRecord):
    conversation: list[Turn] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_assistant_turn(self) -> ConversationRecord:
        if not any(turn.role == "assistant" for turn in self.conversation):
            raise ValueError("`conversation` needs an assistant turn to review")
        return self


class LabelRecord(ItemRecord):
    conversation: list[Turn] = Field(min_length=1)
    prediction: Prediction | None = None


class PreferenceRecord(ItemRecord):
    prompt: list[Turn] = Field(min_length=1)
    responses: list[CandidateResponse] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _distinct_ids(self) -> PreferenceRecord:
        if self.responses[0].id == self.responses[1].id:
            raise ValueError("the two `responses` need different ids")
        return self


RECORD_TYPES: dict[str, type[ItemRecord]] = {
    "label": LabelRecord,
    "rating": ConversationRecord,
    "correction": ConversationRecord,
    "preference": PreferenceRecord,
}


class RecordError(ValueError):
    """One bad record, described for a person: `line 12: field prediction.label: ...`."""


def _check_against_project(record: ItemRecord, config: ProjectConfig) -> list[str]:
    problems: list[str] = []
    allowed = ", ".join(config.labels)
    if isinstance(record, LabelRecord):
        predicted = record.prediction.label if record.prediction else None
        for label in [predicted] if isinstance(predicted, str) else predicted or []:
            if label not in config.labels:
                problems.append(
                    f"field `prediction.label`: {label!r} is not a label of {config.name} ({allowed})"
                )
        gold = record.gold
        for label in [gold] if isinstance(gold, str) else gold or []:
            if label not in config.labels:
                problems.append(
                    f"field `gold`: {label!r} is not a label of {config.name} ({allowed})"
                )
        if isinstance(predicted, list) and not config.multi_label:
            problems.append(
                "field `prediction.label`: a list needs `multi_label: true` in the project"
            )
    if isinstance(record, PreferenceRecord) and record.gold is not None:
        ids = [r.id for r in record.responses] + ["tie", "both_bad"]
        if record.gold not in ids:
            problems.append(f"field `gold`: must be one of {', '.join(ids)} (got {record.gold!r})")
    gold_is_scores = isinstance(record.gold, dict) and not set(record.gold) - set(config.criteria)
    if config.kind == "rating" and record.gold is not None and not gold_is_scores:
        criteria = ", ".join(config.criteria)
        problems.append(f"field `gold`: a mapping of criteria ({criteria}) to scores")
    return problems


def validate_record(data: object, config: ProjectConfig) -> ItemRecord:
    """Parse one record for the project's kind; raise RecordError listing its problems."""
    if not isinstance(data, dict):
        raise RecordError("each record must be a JSON object")
    try:
        record = RECORD_TYPES[config.kind].model_validate(data)
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
    problems = _check_against_project(record, config)
    if problems:
        raise RecordError("; ".join(problems))
    return record


def item_content(record: ItemRecord) -> dict:
    """What reviewers see: the record without the caller's id, metadata and gold."""
    return record.model_dump(mode="json", exclude={"id", "metadata", "gold"}, exclude_none=True)
