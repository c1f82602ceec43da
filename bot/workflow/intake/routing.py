"""Which items need a human: confidence routing with a reproducible audit sample.

An item's confidence comes from the pipeline that sent it (`prediction.confidence`) or,
when it has none, from its LLM pre-label. At or above the project's threshold the item
is auto-accepted, except an audit sample that goes to reviewers anyway (the only way to
learn how far the model can be trusted, see bot/quality/calibration.py). A failed
pre-label always sends the item to reviewers, with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bot.config.project import ProjectConfig
from bot.kinds.registry import kind_of
from storage.models import Item, PreLabelRecord

PIPELINE = "pipeline"
LLM = "llm"


@dataclass(frozen=True)
class RouteDecision:
    to_humans: bool
    reason: str
    audit: bool = False
    confidence: float | None = None
    source: str | None = None  # PIPELINE or LLM: where the confidence came from
    value: Any = None  # what an auto-acceptance signs off


def audit_draw(project: str, external_id: str, salt: str = "") -> float:
    """A uniform number in [0, 1) fixed by the item, so every process (and every rerun)
    makes the same audit decision for the same item."""
    digest = hashlib.sha256(f"{salt}:{project}:{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def route(
    config: ProjectConfig,
    *,
    external_id: str,
    confidence: float | None,
    salt: str = "",
    source_note: str = "",
) -> RouteDecision:
    """Route by a confidence alone; `source_note` is appended to the reason."""
    threshold = config.routing.confidence_below
    if confidence is None:
        return RouteDecision(True, "no model confidence: every item goes to reviewers")
    if confidence < threshold:
        return RouteDecision(
            True,
            f"confidence {confidence:.2f} < {threshold:.2f}{source_note}",
            confidence=confidence,
        )
    if audit_draw(config.name, external_id, salt) < config.routing.audit_rate:
        return RouteDecision(
            True,
            f"audit sample (rate {config.routing.audit_rate:.2%}) of confidence "
            f"{confidence:.2f} >= {threshold:.2f}{source_note}",
            audit=True,
            confidence=confidence,
        )
    return RouteDecision(
        False,
        f"confidence {confidence:.2f} >= {threshold:.2f}{source_note}: auto-accepted",
        confidence=confidence,
    )


def route_item(
    config: ProjectConfig, item: Item, prelabel: PreLabelRecord | None, *, salt: str = ""
) -> RouteDecision:
    """Route one item from its pipeline prediction or, failing that, its pre-label."""
    if prelabel is not None and prelabel.error:
        return RouteDecision(True, f"{prelabel.error} — sent to reviewers", source=LLM)
    prediction = item.content.get("prediction") if isinstance(item.content, dict) else None
    if item.confidence is not None:
        value = prediction.get("label") if isinstance(prediction, dict) else None
        decision = route(
            config, external_id=item.external_id, confidence=item.confidence, salt=salt
        )
        source = PIPELINE
    elif prelabel is not None and prelabel.confidence is not None:
        value = kind_of(config).model_value(item.content, prelabel.value)
        decision = route(
            config,
            external_id=item.external_id,
            confidence=prelabel.confidence,
            salt=salt,
            source_note=" (LLM pre-label)",
        )
        source = LLM
    else:
        return route(config, external_id=item.external_id, confidence=None, salt=salt)
    if not decision.to_humans and value is None:
        # Confident about nothing: there is no value to sign off.
        return RouteDecision(
            True, "confident, but no predicted value to accept", confidence=decision.confidence
        )
    return RouteDecision(
        decision.to_humans,
        decision.reason,
        audit=decision.audit,
        confidence=decision.confidence,
        source=source,
        value=value,
    )


def routed_event_data(config: ProjectConfig, decision: RouteDecision) -> dict:
    """The `routed` event's data: enough to reweight audited items in calibration."""
    return {
        "to_humans": decision.to_humans,
        "reason": decision.reason,
        "audit": decision.audit,
        "confidence": decision.confidence,
        "confidence_source": decision.source,
        "threshold": config.routing.confidence_below,
        "audit_rate": config.routing.audit_rate,
    }
