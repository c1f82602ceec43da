"""Calibration of model confidence against human labels, and the threshold it supports.

Inputs are parallel arrays, one entry per human-labelled item: the model's confidence,
whether the model's value matched the human label, and an optional weight. Weights
undo the sampling design: items above the routing threshold reach humans only through
the audit sample (rate r), so each of them stands for 1/r auto-accepted items; without
weights the confident region would be under-represented.

All functions are vectorised (numpy), so 100k items take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class Bucket:
    low: float
    high: float
    items: int
    weight: float  # items represented (sum of weights)
    mean_confidence: float | None
    accuracy: float | None

    @property
    def gap(self) -> float | None:
        """Accuracy minus confidence: negative means over-confident."""
        if self.accuracy is None or self.mean_confidence is None:
            return None
        return self.accuracy - self.mean_confidence


@dataclass(frozen=True)
class ThresholdProposal:
    """The lowest threshold whose auto-accepted precision clears `target` with confidence.

    `threshold` is None when no threshold does (then nothing should be auto-accepted).
    """

    target: float
    level: float
    threshold: float | None
    precision: float | None  # point estimate for items with confidence >= threshold
    lower_bound: float | None  # one-sided Wilson bound at `level`
    items: int  # labelled items behind the estimate
    effective_items: float  # Kish effective sample size under the weights
    coverage: float | None  # share of (weighted) items that would be auto-accepted


def _arrays(
    confidence: ArrayLike, correct: ArrayLike, weights: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    w = np.ones_like(conf) if weights is None else np.asarray(weights, dtype=np.float64)
    if conf.ndim != 1 or hit.shape != conf.shape or w.shape != conf.shape:
        raise ValueError("confidence, correct and weights must be 1-D arrays of one length")
    if conf.size and (np.nanmin(conf) < 0 or np.nanmax(conf) > 1 or np.isnan(conf).any()):
        raise ValueError("confidence must lie in [0, 1]")
    if (w <= 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be positive and finite")
    return conf, hit, w


def bucket_index(confidence: NDArray[np.float64], bins: int) -> NDArray[np.intp]:
    """Equal-width buckets over [0, 1]; 1.0 falls in the last. The small epsilon keeps
    0.7 in [0.7, 0.8) despite 0.7 * 10 == 6.999…"""
    return np.minimum(np.floor(confidence * bins + 1e-9).astype(np.intp), bins - 1)


def reliability_table(
    confidence: ArrayLike, correct: ArrayLike, *, bins: int = 10, weights: ArrayLike | None = None
) -> list[Bucket]:
    """Accuracy and mean confidence per equal-width confidence bucket."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    conf, hit, w = _arrays(confidence, correct, weights)
    index = bucket_index(conf, bins)
    counts = np.bincount(index, minlength=bins)
    weight = np.bincount(index, weights=w, minlength=bins)
    conf_sum = np.bincount(index, weights=w * conf, minlength=bins)
    hit_sum = np.bincount(index, weights=w * hit, minlength=bins)
    table = []
    for b in range(bins):
        has = weight[b] > 0
        table.append(
            Bucket(
                low=b / bins,
                high=(b + 1) / bins,
                items=int(counts[b]),
                weight=float(weight[b]),
                mean_confidence=float(conf_sum[b] / weight[b]) if has else None,
                accuracy=float(hit_sum[b] / weight[b]) if has else None,
            )
        )
    return table


def expected_calibration_error(
    confidence: ArrayLike, correct: ArrayLike, *, bins: int = 10, weights: ArrayLike | None = None
) -> float:
    """ECE: the bucket-weighted mean of |accuracy - confidence| (0 is perfect)."""
    table = reliability_table(confidence, correct, bins=bins, weights=weights)
    total = sum(b.weight for b in table)
    if total == 0:
        return float("nan")
    return float(sum(b.weight * abs(b.gap) for b in table if b.gap is not None) / total)


def wilson_lower_bound(
    precision: ArrayLike, items: ArrayLike, *, level: float = 0.95
) -> NDArray[np.float64]:
    """One-sided Wilson score lower bound for a proportion (vectorised).

    Wilson rather than the normal approximation because the interesting proportions are
    near 1, where the normal interval overshoots and collapses to zero width.
    """
    if not 0.5 < level < 1:
        raise ValueError("level must be in (0.5, 1)")
    p = np.asarray(precision, dtype=np.float64)
    n = np.asarray(items, dtype=np.float64)
    z = NormalDist().inv_cdf(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2n = z * z / n
        centre = p + z2n / 2
        spread = z * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
        bound = (centre - spread) / (1 + z2n)
    return np.where(n > 0, np.clip(bound, 0.0, 1.0), 0.0)


def propose_threshold(
    confidence: ArrayLike,
    correct: ArrayLike,
    *,
    target: float = 0.95,
    level: float = 0.95,
    weights: ArrayLike | None = None,
) -> ThresholdProposal:
    """The lowest threshold t (an observed confidence) such that, among items with
    confidence >= t, the weighted accuracy's one-sided Wilson lower bound at `level`
    is at least `target`.
    """
    if not 0 < target < 1:
        raise ValueError("target must be in (0, 1)")
    conf, hit, w = _arrays(confidence, correct, weights)
    empty = ThresholdProposal(target, level, None, None, None, 0, 0.0, None)
    if conf.size == 0:
        return empty
    order = np.argsort(-conf, kind="stable")
    conf, hit, w = conf[order], hit[order], w[order]
    cum_w = np.cumsum(w)
    cum_hit = np.cumsum(w * hit)
    cum_w2 = np.cumsum(w * w)
    # A threshold includes every item at its confidence: candidates end each run of ties.
    ends = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    precision = cum_hit[ends] / cum_w[ends]
    effective = cum_w[ends] ** 2 / cum_w2[ends]
    lower = wilson_lower_bound(precision, effective, level=level)
    passing = np.flatnonzero(lower >= target)
    if passing.size == 0:
        return empty
    best = ends[passing[-1]]  # the last passing run has the lowest confidence
    k = passing[-1]
    return ThresholdProposal(
        target=target,
        level=level,
        threshold=float(conf[best]),
        precision=float(precision[k]),
        lower_bound=float(lower[k]),
        items=int(best + 1),
        effective_items=float(effective[k]),
        coverage=float(cum_w[best] / cum_w[-1]),
    )
