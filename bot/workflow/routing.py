"""Which items need a human: confidence routing with a reproducible audit sample."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.projects import ProjectConfig


@dataclass(frozen=True)
class RouteDecision:
    to_humans: bool
    reason: str
    audit: bool = False


def audit_draw(project: str, external_id: str, salt: str = "") -> float:
    """A uniform number in [0, 1) fixed by the item, so every process (and every rerun)
    makes the same audit decision for the same item."""
    digest = hashlib.sha256(f"{salt}:{project}:{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def route(
    config: ProjectConfig, *, external_id: str, confidence: float | None, salt: str = ""
) -> RouteDecision:
    threshold = config.routing.confidence_below
    if confidence is None:
        return RouteDecision(True, "no model confidence: every item goes to reviewers")
    if confidence < threshold:
        return RouteDecision(True, f"confidence {confidence:.2f} < {threshold:.2f}")
    if audit_draw(config.name, external_id, salt) < config.routing.audit_rate:
        return RouteDecision(
            True,
            f"audit sample (rate {config.routing.audit_rate:.2%}) of confidence "
            f"{confidence:.2f} >= {threshold:.2f}",
            audit=True,
        )
    return RouteDecision(False, f"confidence {confidence:.2f} >= {threshold:.2f}: auto-accepted")
