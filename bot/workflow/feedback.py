"""The model-label feedback loop: how far the model can be trusted, from human labels.

Gathers every item whose label people reached (consensus, a lead, gold) and that had a
model opinion (the pipeline's prediction or the LLM pre-label, the same one routing
used), measures calibration, proposes the routing threshold that keeps auto-accepted
precision at the target, and can store it as a new project config version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.kinds.registry import kind_of
from bot.quality.calibration import (
    Bucket,
    ThresholdProposal,
    expected_calibration_error,
    propose_threshold,
    reliability_table,
)
from bot.workflow.intake.routing import LLM, PIPELINE
from bot.workflow.project_versions import (
    ApplyResult,
    apply_project,
    project_config,
    require_project,
)
from storage import prelabel_queries
from storage.models import Item, PreLabelRecord

HUMAN_METHODS = ("consensus", "lead", "gold")


@dataclass(frozen=True)
class CalibrationCase:
    """One human-labelled item with the model's opinion of it."""

    external_id: str
    model_value: Any
    confidence: float
    source: str  # PIPELINE or LLM
    human_value: Any
    method: str
    audited: bool
    weight: float
    correct: bool


@dataclass(frozen=True)
class CalibrationReport:
    project: str
    config_version: int
    current_threshold: float
    audit_rate: float
    bins: int
    cases: list[CalibrationCase]
    buckets: list[Bucket]
    ece: float | None
    proposal: ThresholdProposal

    @property
    def disagreements(self) -> list[CalibrationCase]:
        """Audited items (would have been auto-accepted) where people chose otherwise."""
        return [case for case in self.cases if case.audited and not case.correct]


def model_agrees(config: ProjectConfig, content: dict, model_value: Any, human_value: Any) -> bool:
    """Whether the model's value is the human label (order-free for multi-label; the
    LLM's position letters mapped to response ids)."""
    return kind_of(config).model_agrees(content, model_value, human_value)


def _model_opinion(item: Item, prelabel: PreLabelRecord | None) -> tuple[Any, float, str] | None:
    """(value, confidence, source) as routing saw it; None without a usable opinion."""
    if item.confidence is not None:
        prediction = item.content.get("prediction") if isinstance(item.content, dict) else None
        if isinstance(prediction, dict) and prediction.get("label") is not None:
            return prediction["label"], float(item.confidence), PIPELINE
    if prelabel is not None and not prelabel.error and prelabel.confidence is not None:
        return prelabel.value, float(prelabel.confidence), LLM
    return None


def _weight(routed: dict | None, audit_rate_now: float) -> tuple[bool, float]:
    """(audited, weight): an audited item stands for 1/rate items like it."""
    if not routed or not routed.get("audit"):
        return False, 1.0
    rate = routed.get("audit_rate") or audit_rate_now
    return True, (1.0 / rate) if rate and rate > 0 else 1.0


def calibration_cases(
    session: Session, project_id: int, config: ProjectConfig
) -> list[CalibrationCase]:
    rows = prelabel_queries.human_labelled_items(session, project_id, HUMAN_METHODS)
    ids = [item.id for item, _label in rows if item.id is not None]
    prelabels = prelabel_queries.latest_prelabels(session, ids)
    routed = prelabel_queries.routed_events(session, ids)
    cases = []
    for item, label in rows:
        assert item.id is not None
        opinion = _model_opinion(item, prelabels.get(item.id))
        if opinion is None:
            continue
        value, confidence, source = opinion
        audited, weight = _weight(routed.get(item.id), config.routing.audit_rate)
        cases.append(
            CalibrationCase(
                external_id=item.external_id,
                model_value=value,
                confidence=confidence,
                source=source,
                human_value=label.value,
                method=label.method,
                audited=audited,
                weight=weight,
                correct=model_agrees(config, item.content, value, label.value),
            )
        )
    return cases


def calibration_report(
    session: Session,
    project_name: str,
    *,
    target: float = 0.95,
    level: float = 0.95,
    bins: int = 10,
) -> CalibrationReport:
    project = require_project(session, project_name)
    config = project_config(session, project)
    assert project.id is not None
    cases = calibration_cases(session, project.id, config)
    confidence = np.fromiter((c.confidence for c in cases), dtype=np.float64, count=len(cases))
    correct = np.fromiter((c.correct for c in cases), dtype=np.float64, count=len(cases))
    weights = np.fromiter((c.weight for c in cases), dtype=np.float64, count=len(cases))
    ece = (
        expected_calibration_error(confidence, correct, bins=bins, weights=weights)
        if cases
        else None
    )
    return CalibrationReport(
        project=project.name,
        config_version=project.current_version,
        current_threshold=config.routing.confidence_below,
        audit_rate=config.routing.audit_rate,
        bins=bins,
        cases=cases,
        buckets=reliability_table(confidence, correct, bins=bins, weights=weights),
        ece=ece,
        proposal=propose_threshold(
            confidence, correct, target=target, level=level, weights=weights
        ),
    )


def apply_threshold(
    session: Session, project_name: str, threshold: float, *, actor: str = "calibrate"
) -> ApplyResult:
    """Store the project's config with `routing.confidence_below = threshold` as a new
    version (event `project_applied`); labels keep recording the version they used."""
    project = require_project(session, project_name)
    config = project_config(session, project)
    data = config.model_dump(mode="json")
    data["routing"]["confidence_below"] = threshold
    return apply_project(session, ProjectConfig.model_validate(data), actor=actor)
