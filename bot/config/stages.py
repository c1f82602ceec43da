"""A project's review path: who judges an item, in which order, and when.

```yaml
stages:
  - {name: annotate, who: reviewers, overlap: 3}
  - {name: review, who: senior_reviewers, when: {sample: 0.2, or: [low_agreement]}, action: accept_or_fix}
  - {name: sign_off, who: leads, when: disagreement}
```

The path this version runs: the reviewers answer (the first stage, always); then, for an
item their answers would sign off, an optional review stage gives it to one senior
reviewer, who accepts the consensus or fixes it (`accept_or_fix`), when its `when` holds:
a reproducible `sample` of the items, or any condition in `or`: `low_agreement` (the
answers were not unanimous) or `low_confidence` (the consensus' confidence below
`confidence_below`, 0.9 unless set). Items the answers do not sign off go to the leads
(the last stage, `when: disagreement`; `when: always` has a lead sign off every item, as
`sign_off.lead_signs_off_all`). Without `stages` the path is the first and last stage:
today's default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Condition = Literal["low_agreement", "low_confidence"]
# Reviewers per item at most; the leads' message shows every answer it can and counts the
# rest (bot/slack/escalation.py).
MAX_OVERLAP = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StageWhen(_Strict):
    sample: float = Field(default=0.0, ge=0.0, le=1.0)
    any_of: list[Condition] = Field(default_factory=list, alias="or")
    confidence_below: float = Field(default=0.9, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _something(self) -> StageWhen:
        if not self.sample and not self.any_of:
            raise ValueError("a review stage's `when` needs a `sample` above 0 or an `or` list")
        return self


class Stage(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    who: Literal["reviewers", "senior_reviewers", "leads"]
    overlap: int | None = Field(default=None, ge=1, le=MAX_OVERLAP)
    # A named condition or a rule, told apart by type (the tags leave error locations).
    when: (
        Annotated[
            Annotated[Literal["disagreement", "always"], Tag("named")]
            | Annotated[StageWhen, Tag("rule")],
            Discriminator(lambda value: "named" if isinstance(value, str) else "rule"),
        ]
        | None
    ) = None
    action: Literal["answer", "accept_or_fix", "resolve"] | None = None


class AdaptiveOverlap(_Strict):
    """`overlap: {min: 2, max: 5, target_confidence: 0.95}`: an item gets `min` answers;
    while its consensus' confidence is under `target_confidence` (or its answers would go
    to a lead) and it has fewer than `max`, one more reviewer is asked; what `max`
    reviewers cannot settle goes to a lead."""

    min: int = Field(ge=1, le=MAX_OVERLAP)
    max: int = Field(ge=1, le=MAX_OVERLAP)
    target_confidence: float = Field(gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> AdaptiveOverlap:
        if self.max < self.min:
            raise ValueError(f"overlap.max ({self.max}) is under overlap.min ({self.min})")
        return self


def path_problem(stages: list[Stage]) -> str | None:
    """Why the stages are not a path this version runs, for the person editing the file."""
    if not stages:
        return None
    first, rest = stages[0], stages[1:]
    if first.who != "reviewers" or first.action not in (None, "answer") or first.when:
        return "stages: the first stage is the reviewers' (`who: reviewers`, no `when`)"
    last = rest[-1] if rest and rest[-1].who == "leads" else None
    if last is not None and (last.action not in (None, "resolve") or last.overlap):
        return "stages: the leads' stage resolves (`action: resolve`) and has no overlap"
    if last is not None and isinstance(last.when, StageWhen):
        return "stages: the leads' stage runs `when: disagreement` or `when: always`"
    middle = rest[:-1] if last is not None else rest
    if len(middle) > 1:
        return "stages: at most one review stage between the reviewers and the leads"
    for stage in middle:
        if stage.who != "senior_reviewers" or stage.action != "accept_or_fix":
            return (
                f"stages: `{stage.name}` must be `who: senior_reviewers, action: "
                "accept_or_fix` (the leads' stage comes last)"
            )
        if not isinstance(stage.when, StageWhen):
            return f"stages: `{stage.name}` needs `when: {{sample: …, or: […]}}`"
        if stage.overlap not in (None, 1):
            return f"stages: `{stage.name}` goes to one senior reviewer per item (overlap 1)"
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        return "stages: every stage needs its own name"
    return None


def review_stage(stages: list[Stage]) -> Stage | None:
    return next((s for s in stages if s.action == "accept_or_fix"), None)


def leads_sign_off_all(stages: list[Stage]) -> bool:
    return any(s.who == "leads" and s.when == "always" for s in stages)
