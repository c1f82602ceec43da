"""The REST API's bodies as pydantic models: they make /api/openapi.json (the routes build
their answers as plain JSON; tests/api/test_schemathesis.py checks that every answer
matches these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_ITEMS = 1000  # per POST
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_CURSOR = 200  # characters; a real cursor has about 30
MAX_IDEMPOTENCY_KEY = 255

ItemState = Literal["queued", "in_review", "escalated", "signed_off", "auto_accepted", "failed"]


class ErrorDetail(BaseModel):
    field: str = Field(description="Where: `items.3.prediction.label`, `limit`, `body`, ...")
    message: str
    index: int | None = Field(None, description="The item (from 0), for problems of one item")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, for programs: `invalid_items`, `rate_limited`, ...")
    message: str = Field(description="For people")
    details: list[ErrorDetail]


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class ProjectOut(BaseModel):
    name: str
    kind: str
    version: int = Field(description="The current version of the project's config")
    created_at: str


class ProjectsOut(BaseModel):
    projects: list[ProjectOut]


ITEMS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_ITEMS,
                        "description": "Items exactly as the lines of a JSONL import "
                        "(docs/import.md): an `id`, the content fields of the project's "
                        "kind, optional `metadata`, `gold` and `requires`.",
                        "items": {"type": "object", "additionalProperties": True},
                    }
                },
            },
            "example": {
                "items": [
                    {
                        "id": "t-1",
                        "conversation": [
                            {"role": "user", "content": "I was charged twice"},
                            {"role": "assistant", "content": "Sorry! Let me check."},
                        ],
                        "prediction": {"label": "billing", "confidence": 0.55},
                    }
                ]
            },
        }
    },
}


class SubmitResult(BaseModel):
    created: int = Field(description="Items stored by this request")
    unchanged: int = Field(description="Items known already with the same content")


class Provenance(BaseModel):
    """Who decided what, when, from which inputs, under which rules (as in the export)."""

    responses: list[dict[str, Any]]
    prelabels: list[dict[str, Any]]
    escalation: dict[str, Any] | None
    sign_off: dict[str, Any]
    config: dict[str, Any]
    chain: dict[str, Any]


class MediaReference(BaseModel):
    field: str = Field(description="Where the item holds it: image, responses.0.image, …")
    src: str | None = Field(description="The `src` the item was imported with (None: inline)")
    uri: str = Field(description="Where Quorum's media store keeps the bytes")
    sha256: str
    mime: str = Field(description="Sniffed from the bytes")
    size: int


class LabelRecord(BaseModel):
    """One signed-off label, exactly as a line of `quorum export --format labels`."""

    id: str
    project: str
    kind: str
    value: Any
    status: str = Field(description="signed_off, or auto_accepted (method auto)")
    method: str = Field(description="consensus, lead, review, auto or gold")
    agreement: float | None
    confidence: float | None
    config_version: int
    signed_off_at: str
    signed_off_by: str | None
    metadata: dict[str, Any] | None
    content_hash: str
    media: list[MediaReference] | None = Field(
        description="The item's media as stored at import (None for text items)"
    )
    provenance: Provenance


class Answer(BaseModel):
    reviewer: str = Field(description="The reviewer's Slack user id")
    value: Any
    answered_at: str
    changed_at: str | None = Field(description="When the answer was last changed, if it was")
    revision: int


class ItemOut(BaseModel):
    id: str
    project: str
    status: ItemState
    failure: str | None = Field(description="Why the item could not be sent (status failed)")
    waiting: str | None = Field(
        description="Why the item waits for more reviewers (too few qualified people free: "
        "`understaffed: needs de, 1 of 3 qualified reviewers available`), else null"
    )
    created_at: str
    updated_at: str
    answers: list[Answer]
    label: LabelRecord | None = Field(description="When signed off: its `labels` record")
    provenance: Provenance | None = Field(description="When signed off: the label's provenance")


class LabelsPage(BaseModel):
    labels: list[LabelRecord]
    next: str = Field(description="The cursor after this page (the same one when it is empty)")


class ItemCounts(BaseModel):
    queued: int
    in_review: int
    escalated: int
    signed_off: int
    auto_accepted: int
    failed: int
    total: int


class AgreementFigures(BaseModel):
    mean: float | None = Field(description="Mean agreement of the labels that have one")
    labels: int
    by_method: dict[str, int] = Field(description="Labels per method: consensus, lead, ...")
    shares: dict[str, float] = Field(description="The same as shares of all labels")


class Throughput(BaseModel):
    last_hour: int = Field(description="Labels signed off in the last hour")
    last_24h: int


class StatsOut(BaseModel):
    project: str
    items: ItemCounts
    answers: int
    agreement: AgreementFigures
    throughput: Throughput
    backlog: int = Field(description="Items queued or in review")
    open_escalations: int
