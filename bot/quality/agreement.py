"""Inter-annotator agreement on integer-coded answers, vectorised with numpy.

Every function takes answers as parallel arrays, one entry per answer: ``items`` (item index),
``raters`` (rater index) and ``values`` (the answer, an integer code or a number). A missing
answer is simply absent. Nothing here loops over items in Python, so the same code serves a
10-item Slack summary and a 100k-item export.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "MajorityResult",
    "PositionBias",
    "cohen_kappa_pairwise",
    "encode_labels",
    "fleiss_kappa",
    "krippendorff_alpha",
    "majority_share",
    "position_bias",
]

Level = Literal["nominal", "ordinal", "interval"]

# Dense (n_items x n_values) count tables are used below this many cells; above it, a
# sort-based sparse path keeps memory proportional to the number of answers.
_DENSE_CELLS = 1 << 24
_Z95 = 1.959963984540054  # two-sided 95% normal quantile


def encode_labels(
    labels: Iterable[Hashable], classes: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, list[Hashable]]:
    """Code labels (strings, ids, ...) as ints 0..K-1 so the metrics can use bincount.

    Pass ``classes`` to fix the order (needed for ordinal scales and for stable codes across
    calls); otherwise classes are numbered in order of first appearance. Unknown labels raise
    ``ValueError`` rather than being silently coded.
    """
    labels = list(labels)
    if classes is None:
        classes = list(dict.fromkeys(labels))
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError("classes contains duplicates")
    try:
        codes = np.fromiter((index[x] for x in labels), dtype=np.int64, count=len(labels))
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of the classes") from None
    return codes, classes


def _as_int(name: str, a: np.ndarray | Sequence[int]) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer codes (use encode_labels)")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    return arr


def _check_same_length(*arrays: np.ndarray) -> None:
    if len({a.shape[0] for a in arrays}) > 1:
        raise ValueError("items, raters and values must have the same length")


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys and their counts, by one sort (numpy 2.4's hash-based
    ``np.unique`` is over 10x slower on a million int64 keys)."""
    if keys.size == 0:
        return keys, np.zeros(0, dtype=np.int64)
    s = np.sort(keys)
    first = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    return s[first], np.diff(np.append(first, s.size))


def _has_duplicates(keys: np.ndarray) -> bool:
    s = np.sort(keys)
    return bool(np.any(s[1:] == s[:-1]))


def _item_value_counts(
    items: np.ndarray, codes: np.ndarray, n_items: int, n_values: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse (item, value, count) triples for the non-zero cells of the item x value table."""
    if n_items * n_values <= _DENSE_CELLS:
        table = np.bincount(items * n_values + codes, minlength=n_items * n_values)
        nz = np.flatnonzero(table)
        return nz // n_values, nz % n_values, table[nz]
    keys, counts = _unique_counts(items * n_values + codes)
    return keys // n_values, keys % n_values, counts


# --------------------------------------------------------------------------- majority


@dataclass(frozen=True)
class MajorityResult:
    """Per-item majority figures (arrays of length ``n_items``).

    ``value`` is the most common answer, or -1 when the top is tied or the item has no
    answers: a tie is reported as a tie, never resolved by "first label wins".
    """

    value: np.ndarray  # int, -1 when tied or unanswered
    share: np.ndarray  # float, top count / answers; nan when unanswered
    tied: np.ndarray  # bool, two or more values share the top count
    top_count: np.ndarray  # int
    n_answers: np.ndarray  # int


def majority_share(
    items: np.ndarray | Sequence[int],
    values: np.ndarray | Sequence[int],
    n_items: int | None = None,
) -> MajorityResult:
    """Share of each item's answers that agree with its most common answer.

    This is the figure the sign-off rule compares with the project's ``agreement`` threshold;
    ties are flagged so the workflow can escalate them.
    """
    items = _as_int("items", items)
    values = _as_int("values", values)
    _check_same_length(items, values)
    if n_items is None:
        n_items = int(items.max()) + 1 if items.size else 0
    n_values = int(values.max()) + 1 if values.size else 1
    n_answers = np.bincount(items, minlength=n_items)
    it, val, cnt = _item_value_counts(items, values, n_items, n_values)
    top = np.zeros(n_items, dtype=np.int64)
    np.maximum.at(top, it, cnt)
    is_top = cnt == top[it]
    n_top = np.bincount(it[is_top], minlength=n_items)
    value = np.full(n_items, -1, dtype=np.int64)
    value[it[is_top]] = val[is_top]
    tied = n_top > 1
    value[n_top != 1] = -1
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_answers > 0, top / np.maximum(n_answers, 1), np.nan)
    return MajorityResult(value=value, share=share, tied=tied, top_count=top, n_answers=n_answers)


# --------------------------------------------------------------------------- alpha


def krippendorff_alpha(
    items: np.ndarray | Sequence[int],
    raters: np.ndarray | Sequence[int],
    values: np.ndarray | Sequence[float],
    level: Level = "nominal",
) -> float:
    """Krippendorff's alpha from the coincidence matrix, in O(answers) memory.

    Equals ``krippendorff.alpha(reliability_data, level_of_measurement=level)`` (package
    0.9) to ~1e-12. Instead of building the V x V coincidence and distance matrices it uses
    closed forms: nominal needs only the per-item value counts; interval needs only
    within-item sums of squares; ordinal is interval on the mid-ranks of the pairable values
    (``d(c, k) = (p_k - p_c)^2`` with ``p_c = n_<c + n_c / 2``), which is exactly the package's
    ordinal metric with the value domain taken as the values present.

    Items with a single answer are not pairable and are dropped. ``NaN`` values are treated
    as missing. Returns ``nan`` when alpha is undefined: no item has two answers (e.g. one
    rater), or every pairable answer is identical (expected disagreement is 0). The
    ``krippendorff`` package raises ``ValueError`` in those cases (or returns nan with a
    warning when the domain holds a second value only on unpairable items); we return
    ``nan`` consistently so a dashboard can show "n/a" instead of crashing.

    A rater answering the same item twice is rejected: alpha counts each coder once per unit.
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError("level must be 'nominal', 'ordinal' or 'interval'")
    item_idx = _as_int("items", items)
    rater_idx = _as_int("raters", raters)
    vals = np.asarray(values)
    if vals.ndim != 1:
        raise ValueError("values must be one-dimensional")
    _check_same_length(item_idx, rater_idx, vals)
    if np.issubdtype(vals.dtype, np.floating):
        keep = ~np.isnan(vals)
        item_idx, rater_idx, vals = item_idx[keep], rater_idx[keep], vals[keep]
    if item_idx.size == 0:
        return float("nan")
    n_r = int(rater_idx.max()) + 1
    pair_keys = item_idx * n_r + rater_idx
    if _has_duplicates(pair_keys):
        raise ValueError("a rater answered the same item more than once")

    m = np.bincount(item_idx)
    pairable = m[item_idx] >= 2
    item_idx, vals = item_idx[pairable], vals[pairable]
    if item_idx.size == 0:
        return float("nan")
    n = item_idx.size
    w = np.zeros(m.size)
    np.divide(1.0, m - 1, out=w, where=m >= 2)

    if level == "nominal":
        _, codes = np.unique(vals, return_inverse=True)
        n_c = np.bincount(codes).astype(np.float64)
        if n_c.size < 2:
            return float("nan")
        it, _, cnt = _item_value_counts(item_idx, codes, m.size, n_c.size)
        observed = float(np.sum(w * m.astype(np.float64) ** 2) - np.sum(w[it] * cnt**2.0))
        expected = (n * n - float(np.sum(n_c**2))) / (n - 1)
        return 1.0 - observed / expected

    if level == "ordinal":
        uniq, codes = np.unique(vals, return_inverse=True)
        if uniq.size < 2:
            return float("nan")
        n_c = np.bincount(codes).astype(np.float64)
        midrank = np.cumsum(n_c) - n_c / 2.0
        x = midrank[codes]
    else:
        x = vals.astype(np.float64)

    x = x - x.mean()
    ss_total = float(np.sum(x * x))
    if ss_total == 0.0:
        return float("nan")
    item_mean = np.bincount(item_idx, weights=x, minlength=m.size) / np.maximum(m, 1)
    dev = x - item_mean[item_idx]
    ss_item = np.bincount(item_idx, weights=dev * dev, minlength=m.size)
    # sum over ordered pairs in a unit of (x_i - x_j)^2 = 2 m_u SS_u; the coincidence weight
    # is 1 / (m_u - 1); expected: 2 n SS_total / (n - 1).
    observed = float(np.sum(w * m * ss_item))
    expected = n * ss_total / (n - 1)
    return 1.0 - observed / expected


# --------------------------------------------------------------------------- Fleiss


def fleiss_kappa(
    items: np.ndarray | Sequence[int],
    values: np.ndarray | Sequence[int],
) -> float:
    """Fleiss' kappa, generalised to items with different numbers of answers.

    Classic Fleiss (1971) assumes every item has the same number n of ratings. We use the
    usual generalisation: per-item agreement ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))``
    averaged over items, and chance agreement from the pooled category shares
    ``p_j = sum_i n_ij / sum_i n_i``. With equal counts this is exactly Fleiss' formula.
    Items with fewer than two answers carry no agreement information and are dropped.
    Returns ``nan`` when undefined (no item with two answers, or a single category used).
    """
    item_idx = _as_int("items", items)
    value_idx = _as_int("values", values)
    _check_same_length(item_idx, value_idx)
    if item_idx.size == 0:
        return float("nan")
    m = np.bincount(item_idx)
    keep = m[item_idx] >= 2
    item_idx, value_idx = item_idx[keep], value_idx[keep]
    if item_idx.size == 0:
        return float("nan")
    n_values = int(value_idx.max()) + 1
    it, _, cnt = _item_value_counts(item_idx, value_idx, m.size, n_values)
    rated = m >= 2
    denom = np.where(rated, m * (m - 1.0), 1.0)
    agree = np.bincount(it, weights=cnt * (cnt - 1.0), minlength=m.size) / denom
    p_bar = float(agree[rated].mean())
    p_j = np.bincount(value_idx, minlength=n_values) / value_idx.size
    p_e = float(np.sum(p_j**2))
    if p_e >= 1.0:
        return float("nan")
    return (p_bar - p_e) / (1.0 - p_e)


# --------------------------------------------------------------------------- Cohen


def cohen_kappa_pairwise(
    items: np.ndarray | Sequence[int],
    raters: np.ndarray | Sequence[int],
    values: np.ndarray | Sequence[int],
    min_shared: int = 2,
) -> dict[tuple[int, int], float]:
    """Cohen's kappa for every pair of raters on the items both answered.

    Keys are ``(rater_a, rater_b)`` with ``rater_a < rater_b``; pairs sharing fewer than
    ``min_shared`` items are skipped. Matches ``sklearn.metrics.cohen_kappa_score`` on the
    shared items, including ``nan`` when both raters used one and the same label throughout.
    Built from one self-join of answers on item, so the cost is the number of co-answered
    pairs, not raters squared times items.
    """
    items = _as_int("items", items)
    raters = _as_int("raters", raters)
    values = _as_int("values", values)
    _check_same_length(items, raters, values)
    if items.size == 0:
        return {}
    n_r = int(raters.max()) + 1
    keys = items * n_r + raters
    order = np.argsort(keys, kind="stable")  # by item, then rater (faster than lexsort)
    sorted_keys = keys[order]
    if np.any(sorted_keys[1:] == sorted_keys[:-1]):
        raise ValueError("a rater answered the same item more than once")
    items, raters, values = items[order], raters[order], values[order]
    # Group boundaries per item; each answer pairs with every later answer of the same item.
    counts = np.bincount(items)
    counts = counts[counts > 0]
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    ends = starts + np.repeat(counts, counts)
    pos = np.arange(items.size)
    n_later = ends - pos - 1
    left = np.repeat(pos, n_later)
    if left.size == 0:
        return {}
    # offset of the partner within the run of "later" answers
    run_start = np.repeat(np.cumsum(n_later) - n_later, n_later)
    right = left + 1 + (np.arange(left.size) - run_start)

    ra, rb = raters[left], raters[right]  # ra < rb because of the sort
    va, vb = values[left], values[right]
    pair_key = ra * n_r + rb
    n_pair_slots = n_r * n_r
    if n_pair_slots <= _DENSE_CELLS:  # few raters: index pairs directly, no sort
        present = np.zeros(n_pair_slots, dtype=bool)
        present[pair_key] = True
        uniq_pairs = np.flatnonzero(present)
        pair_id = (np.cumsum(present) - 1)[pair_key]
    else:
        uniq_pairs, pair_id = np.unique(pair_key, return_inverse=True)
    n_pairs = uniq_pairs.size
    n_values = int(values.max()) + 1
    shared = np.bincount(pair_id, minlength=n_pairs).astype(np.float64)
    agree = np.bincount(pair_id, weights=(va == vb).astype(np.float64), minlength=n_pairs)
    size = n_pairs * n_values
    if size <= _DENSE_CELLS:
        marg_a = np.bincount(pair_id * n_values + va, minlength=size).reshape(n_pairs, n_values)
        marg_b = np.bincount(pair_id * n_values + vb, minlength=size).reshape(n_pairs, n_values)
        chance_mass = np.sum(marg_a.astype(np.float64) * marg_b, axis=1)
    else:  # many pairs x many values: join the two sparse marginals instead
        ka, ca = _unique_counts(pair_id * n_values + va)
        kb, cb = _unique_counts(pair_id * n_values + vb)
        common, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
        chance_mass = np.bincount(
            common // n_values, weights=ca[ia] * cb[ib].astype(np.float64), minlength=n_pairs
        )
    p_o = agree / shared
    p_e = chance_mass / shared**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = (p_o - p_e) / (1.0 - p_e)
    kappa[p_e >= 1.0] = np.nan
    ok = shared >= min_shared
    return {
        (int(k // n_r), int(k % n_r)): float(v)
        for k, v in zip(uniq_pairs[ok], kappa[ok], strict=True)
    }


# --------------------------------------------------------------------------- position bias


@dataclass(frozen=True)
class PositionBias:
    """How often the response shown first was chosen, with uncertainty.

    ``p_value`` is the exact two-sided binomial test against 0.5 (no position effect);
    ``ci_low``/``ci_high`` is the 95% Wilson score interval, which behaves at small n and at
    rates near 0 or 1 where the normal interval does not.
    """

    rate: float
    n: int
    n_first: int
    ci_low: float
    ci_high: float
    p_value: float


def _binom_two_sided_half(k: int, n: int) -> float:
    """Exact two-sided binomial p-value for H0: p = 0.5 (symmetric, so double the tail)."""
    if n == 0:
        return 1.0
    tail_k = min(k, n - k)
    if 2 * tail_k == n:
        return 1.0
    # log C(n, i) for i = 0..tail_k by a cumulative sum, so large n costs no Python loop.
    j = np.arange(1, tail_k + 1, dtype=np.float64)
    log_comb = np.concatenate(([0.0], np.cumsum(np.log(n - j + 1.0) - np.log(j))))
    log_pmf = log_comb - n * math.log(2.0)
    top = float(log_pmf.max())
    log_tail = top + math.log(float(np.sum(np.exp(log_pmf - top))))
    return min(1.0, 2.0 * math.exp(log_tail))


def position_bias(chose_first: np.ndarray | Sequence[bool]) -> PositionBias:
    """Rate at which reviewers picked whichever response was displayed first.

    A pairwise-preference project randomises the display order; a rate far from 0.5 means
    reviewers (or the UI) favour a position, and preferences should be corrected or the
    reviewers briefed. Pure ``math``/numpy so it needs no scipy at runtime.
    """
    arr = np.asarray(chose_first, dtype=bool).ravel()
    n = int(arr.size)
    k = int(arr.sum())
    if n == 0:
        return PositionBias(float("nan"), 0, 0, float("nan"), float("nan"), 1.0)
    p = k / n
    z2 = _Z95 * _Z95
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = _Z95 / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return PositionBias(
        rate=p,
        n=n,
        n_first=k,
        ci_low=max(0.0, centre - half),
        ci_high=min(1.0, centre + half),
        p_value=_binom_two_sided_half(k, n),
    )
