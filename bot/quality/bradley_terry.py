"""Pairwise preferences: Bradley-Terry strengths and per-pair vote confidence, in numpy.

``bradley_terry`` ranks responses (or models) from many A/B judgements; it is what turns a
preference project into a leaderboard. ``preference_confidence`` answers the per-item
question the sign-off rule asks: given the reviewers' votes on one A/B pair, how sure are we
that the majority-preferred response is really better, and how often does each reviewer side
with the aggregate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PREFER_A",
    "PREFER_B",
    "TIE",
    "BradleyTerryResult",
    "PreferenceConfidence",
    "bradley_terry",
    "preference_confidence",
]

PREFER_A = 0
PREFER_B = 1
TIE = 2


def _as_index(name: str, a: np.ndarray | Sequence[int]) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer ids (see bot.quality.encode_labels)")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    return arr


# --------------------------------------------------------------------------- Bradley-Terry


@dataclass(frozen=True)
class BradleyTerryResult:
    """Log-strengths ``scores`` (P(i beats j) = 1 / (1 + exp(s_j - s_i))).

    With ``prior > 0`` the scale is anchored to a virtual reference item of score 0, so an
    item that was never compared scores exactly 0 ("no evidence either way").
    """

    scores: np.ndarray  # (n_items,) log-strength
    wins: np.ndarray  # (n_items,) wins, ties counted as half a win
    comparisons: np.ndarray  # (n_items,) comparisons the item took part in
    n_iter: int
    converged: bool

    def win_probability(
        self, a: int | np.ndarray | Sequence[int], b: int | np.ndarray | Sequence[int]
    ) -> float | np.ndarray:
        """P(a is preferred to b) under the fitted model; vectorised over arrays of ids."""
        diff = self.scores[np.asarray(b)] - self.scores[np.asarray(a)]
        p = 1.0 / (1.0 + np.exp(diff))
        return float(p) if np.ndim(p) == 0 else p

    def ranking(self) -> np.ndarray:
        """Item ids from strongest to weakest (stable for equal scores)."""
        return np.argsort(-self.scores, kind="stable")


def bradley_terry(
    winners: np.ndarray | Sequence[int],
    losers: np.ndarray | Sequence[int],
    n_items: int | None = None,
    ties: np.ndarray | Sequence[bool] | None = None,
    max_iter: int = 5000,
    tol: float = 1e-9,
    prior: float = 1.0,
) -> BradleyTerryResult:
    """Fit Bradley-Terry strengths with Hunter's (2004) MM algorithm.

    Each comparison is ``(winners[c], losers[c])``; where ``ties[c]`` is true the two items
    tied and each gets half a win. Regularisation: every item plays ``prior`` virtual wins and
    ``prior`` virtual losses against a reference item of strength 1 (a Gamma-type prior on
    the strengths). It keeps an item that always wins, always loses or was never compared
    finite, and makes the problem well posed even when the comparison graph is not strongly
    connected. The prior shrinks scores towards 0: negligible when items meet many times in a
    well-mixed design, strong on sparse chain-like designs where absolute positions are weakly
    determined (lower it for those). ``prior=0`` gives the plain MLE, which needs a strongly
    connected graph; its scores are then centred to mean 0.

    The MM update ``p_i <- W_i / sum_c 1 / (p_i + p_opp(c))`` is one pass of ``np.bincount``
    over the comparisons, so 1e6 comparisons cost milliseconds per iteration; with a prior it
    is accelerated by SQUAREM (safeguarded so the objective never falls). Stops when one MM
    update moves no log-strength by more than ``tol``; ``n_iter`` counts MM updates.
    """
    w = _as_index("winners", winners)
    lo = _as_index("losers", losers)
    if w.shape != lo.shape:
        raise ValueError("winners and losers must have the same length")
    if prior < 0:
        raise ValueError("prior must be >= 0")
    if np.any(w == lo):
        raise ValueError("an item cannot be compared with itself")
    if n_items is None:
        n_items = int(max(w.max(initial=-1), lo.max(initial=-1))) + 1
    if w.size and max(w.max(), lo.max()) >= n_items:
        raise ValueError("an item id is >= n_items")
    tie = np.zeros(w.size, dtype=bool) if ties is None else np.asarray(ties, dtype=bool)
    if tie.shape != w.shape:
        raise ValueError("ties must have one entry per comparison")

    win_weight = np.where(tie, 0.5, 1.0)
    # (bincount of an empty array is integer-typed, hence the casts)
    wins = np.bincount(w, weights=win_weight, minlength=n_items).astype(np.float64)
    wins += np.bincount(lo, weights=1.0 - win_weight, minlength=n_items)
    comparisons = np.bincount(w, minlength=n_items) + np.bincount(lo, minlength=n_items)
    numerator = wins + prior

    scale_step = _PriorShift(_components(w, lo, n_items)) if prior > 0 else None
    # Aggregate repeated comparisons into unordered pairs (a < b): the MM step and the
    # objective then cost O(distinct pairs), often far fewer than comparisons.
    a = np.minimum(w, lo)
    b = np.maximum(w, lo)
    a_share = np.where(w == a, win_weight, 1.0 - win_weight)
    pair_of, n_pairs = _pair_ids(a * n_items + b)
    pa = np.zeros(n_pairs, dtype=np.int64)
    pa[pair_of] = a
    pb = np.zeros(n_pairs, dtype=np.int64)
    pb[pair_of] = b
    n_ab = np.bincount(pair_of, minlength=n_pairs).astype(np.float64)
    wins_a = np.bincount(pair_of, weights=a_share, minlength=n_pairs).astype(np.float64)
    wins_b = n_ab - wins_a
    del a, b, a_share, pair_of

    def mm(log_p: np.ndarray) -> np.ndarray:
        """One MM update in log space (plus the exact per-component scale step)."""
        p = np.exp(log_p)
        inv = n_ab / (p[pa] + p[pb])
        denom = np.bincount(pa, weights=inv, minlength=n_items).astype(np.float64)
        denom += np.bincount(pb, weights=inv, minlength=n_items)
        if prior > 0:
            denom += 2.0 * prior / (p + 1.0)
        new_p = np.divide(numerator, denom, out=p, where=denom > 0)
        with np.errstate(divide="ignore"):
            new_log = np.log(new_p)
        if scale_step is not None:
            # Real comparisons only fix strengths up to a common factor per connected
            # component; the weak prior pins that factor and MM crawls along it. Solve that
            # one-dimensional problem exactly instead (both steps raise the objective).
            new_log = scale_step(new_log)
        else:
            finite = np.isfinite(new_log)
            if finite.any():
                new_log[finite] -= new_log[finite].mean()
        return new_log

    def objective(s: np.ndarray) -> float:
        """Log-posterior: comparisons plus the virtual games against the reference.

        log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)), one exp and one log per pair."""
        d = s[pa] - s[pb]
        soft = np.log1p(np.exp(-np.abs(d)))
        value = np.sum(wins_a * np.minimum(d, 0.0) + wins_b * np.minimum(-d, 0.0) - n_ab * soft)
        ref = np.sum(np.minimum(s, 0.0) + np.minimum(-s, 0.0) - 2.0 * np.log1p(np.exp(-np.abs(s))))
        return float(value + prior * ref)

    log_p = np.zeros(n_items)
    converged = False
    n_iter = 0
    while n_iter < max_iter:
        s1 = mm(log_p)
        n_iter += 1
        change = np.abs(s1 - log_p)
        change = change[np.isfinite(change)]
        if change.size == 0 or change.max() < tol:
            log_p, converged = s1, True
            break
        if n_iter + 2 > max_iter or not np.all(np.isfinite(s1)):
            log_p = s1  # plain MM: the MLE of an item that never won is -inf
            continue
        # SQUAREM (Varadhan & Roland 2008): extrapolate along two MM steps, then stabilise
        # with one more; fall back to the plain double step if that lowers the objective.
        # MM alone needs thousands of steps on sparse, chain-like comparison graphs.
        s2 = mm(s1)
        r = s1 - log_p
        v = s2 - s1 - r
        vv = float(v @ v)
        n_iter += 1
        if vv > 0.0:
            alpha = min(-np.sqrt(float(r @ r) / vv), -1.0)
            jump = mm(log_p - 2.0 * alpha * r + alpha * alpha * v)
            n_iter += 1
            if np.all(np.isfinite(jump)) and objective(jump) >= objective(s2):
                s2 = jump
        log_p = s2
    return BradleyTerryResult(
        scores=log_p, wins=wins, comparisons=comparisons, n_iter=n_iter, converged=converged
    )


def _pair_ids(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids 0..n-1 of the distinct keys (sorted order), by one argsort."""
    if keys.size == 0:
        return keys.copy(), 0
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    new = np.concatenate(([True], sk[1:] != sk[:-1]))
    ids = np.empty(keys.size, dtype=np.int64)
    ids[order] = np.cumsum(new) - 1
    return ids, int(new.sum())


def _components(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Connected-component id of each item in the comparison graph (min-label propagation
    with pointer jumping; vectorised, O(log diameter) passes in practice)."""
    label = np.arange(n)
    if a.size == 0:
        return label
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


class _PriorShift:
    """Per connected component c, the common shift d_c of the log-strengths that maximises
    the prior term sum_i [s_i + d - 2 log(1 + e^(s_i + d))], i.e. solves
    sum_i sigmoid(s_i + d_c) = n_c / 2. Isolated items are solved in closed form (d = -s);
    the rest by guarded Newton steps on all components at once."""

    def __init__(self, component: np.ndarray) -> None:
        _, dense = np.unique(component, return_inverse=True)
        size = np.bincount(dense)
        multi = size[dense] > 1
        self.single = np.flatnonzero(~multi)
        self.multi = np.flatnonzero(multi)
        _, self.comp = np.unique(dense[self.multi], return_inverse=True)
        self.n_comp = int(self.comp.max()) + 1 if self.comp.size else 0
        self.size = np.bincount(self.comp, minlength=self.n_comp).astype(np.float64)

    def __call__(self, log_p: np.ndarray) -> np.ndarray:
        out = log_p.copy()
        out[self.single] = 0.0
        if self.n_comp == 0:
            return out
        s = log_p[self.multi]
        shift = np.zeros(self.n_comp)
        for _ in range(50):
            sig = 1.0 / (1.0 + np.exp(-(s + shift[self.comp])))
            grad = self.size - 2.0 * np.bincount(self.comp, weights=sig, minlength=self.n_comp)
            hess = 2.0 * np.bincount(self.comp, weights=sig * (1.0 - sig), minlength=self.n_comp)
            step = np.clip(np.divide(grad, hess, out=np.zeros_like(grad), where=hess > 0), -5, 5)
            shift += step
            if np.abs(step).max() < 1e-13:
                break
        out[self.multi] = s + shift[self.comp]
        return out


# --------------------------------------------------------------------------- per-pair votes


@dataclass(frozen=True)
class PreferenceConfidence:
    """Per-item vote summary and per-reviewer agreement with the aggregate.

    ``preferred`` is ``PREFER_A`` (0), ``PREFER_B`` (1) or -1 when the votes are tied (or
    absent): ties go to escalation, never to "A wins". ``prob_better`` is the posterior
    probability that the preferred response is the better one, 0.5 for ties.
    """

    preferred: np.ndarray  # (n_items,) int
    votes_a: np.ndarray  # (n_items,) float, ties count 0.5
    votes_b: np.ndarray  # (n_items,) float
    prob_better: np.ndarray  # (n_items,) float
    reviewer_agreement: np.ndarray  # (n_raters,) share of votes agreeing; nan if none counted
    reviewer_items: np.ndarray  # (n_raters,) votes counted for the agreement


def preference_confidence(
    items: np.ndarray | Sequence[int],
    raters: np.ndarray | Sequence[int],
    votes: np.ndarray | Sequence[int],
    n_items: int | None = None,
    n_raters: int | None = None,
    prior: tuple[float, float] = (1.0, 1.0),
    leave_one_out: bool = False,
) -> PreferenceConfidence:
    """How sure the reviewers' votes make us, per A/B item, and how reviewers track them.

    ``votes`` are ``PREFER_A``, ``PREFER_B`` or ``TIE`` (a tie counts half a vote each way).
    Model: each vote independently prefers the truly better response with probability
    ``theta``; with a ``Beta(prior)`` prior, ``prob_better = P(theta > 1/2 | votes)`` =
    ``I_{1/2}(b + minority, a + majority)`` (regularised incomplete beta). With the default
    uniform prior, 3 of 3 votes give 0.9375 and 2 of 3 give 0.6875.

    Reviewer agreement counts, over items whose aggregate is not tied, 1 for a vote on the
    preferred side, 0.5 for a tie vote and 0 otherwise. ``leave_one_out=True`` compares each
    vote with the aggregate of the *other* votes, which removes the bias of a reviewer
    agreeing with themselves (large with 2-3 votes per item).
    """
    it = _as_index("items", items)
    rt = _as_index("raters", raters)
    v = _as_index("votes", votes)
    if not (it.shape == rt.shape == v.shape):
        raise ValueError("items, raters and votes must have the same length")
    if v.size and v.max() > TIE:
        raise ValueError("votes must be PREFER_A (0), PREFER_B (1) or TIE (2)")
    a0, b0 = (float(x) for x in prior)
    if a0 <= 0 or b0 <= 0:
        raise ValueError("prior parameters must be > 0")
    if n_items is None:
        n_items = int(it.max()) + 1 if it.size else 0
    if n_raters is None:
        n_raters = int(rt.max()) + 1 if rt.size else 0

    share_a = np.select([v == PREFER_A, v == PREFER_B], [1.0, 0.0], 0.5)
    votes_a = np.bincount(it, weights=share_a, minlength=n_items).astype(np.float64)
    votes_b = np.bincount(it, weights=1.0 - share_a, minlength=n_items).astype(np.float64)
    preferred = np.where(votes_a > votes_b, PREFER_A, np.where(votes_b > votes_a, PREFER_B, -1))
    major = np.maximum(votes_a, votes_b)
    minor = np.minimum(votes_a, votes_b)
    prob_better = _betainc_half(b0 + minor, a0 + major)
    prob_better[preferred == -1] = 0.5

    if leave_one_out:
        rest_a = votes_a[it] - share_a
        rest_b = votes_b[it] - (1.0 - share_a)
    else:
        rest_a, rest_b = votes_a[it], votes_b[it]
    decided = rest_a != rest_b
    agrees = np.where(rest_a > rest_b, share_a, 1.0 - share_a)
    counted = np.bincount(rt[decided], minlength=n_raters)
    agree_sum = np.bincount(rt[decided], weights=agrees[decided], minlength=n_raters)
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(counted > 0, agree_sum / np.maximum(counted, 1), np.nan)
    return PreferenceConfidence(
        preferred=preferred,
        votes_a=votes_a,
        votes_b=votes_b,
        prob_better=prob_better,
        reviewer_agreement=agreement,
        reviewer_items=counted,
    )


# --------------------------------------------------------------------------- special functions
# Pure numpy so the bot needs no scipy at runtime; tested against scipy.special.

_STIRLING = (
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360360.0,
)


def _gammaln(x: np.ndarray) -> np.ndarray:
    """log Gamma(x) for x > 0: shift to x >= 8 by recurrence, then the Stirling series."""
    x = np.asarray(x, dtype=np.float64)
    shift = np.zeros_like(x)
    z = x.copy()
    for _ in range(8):
        small = z < 8.0
        if not small.any():
            break
        shift = np.where(small, shift + np.log(z), shift)
        z = np.where(small, z + 1.0, z)
    inv = 1.0 / z
    inv2 = inv * inv
    series = np.zeros_like(z)
    for c in reversed(_STIRLING):
        series = series * inv2 + c
    series *= inv
    return (z - 0.5) * np.log(z) - z + 0.5 * math.log(2.0 * math.pi) + series - shift


def _betacf(a: np.ndarray, b: np.ndarray, x: float) -> np.ndarray:
    """Continued fraction of the incomplete beta (modified Lentz), vectorised."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(a)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        h *= delta
        if np.all(np.abs(delta - 1.0) < 1e-15):
            break
    return h


def _betainc_half(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Regularised incomplete beta I_{1/2}(a, b), elementwise for a, b > 0."""
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    a, b = np.broadcast_arrays(a, b)
    if a.size == 0:
        return np.zeros(a.shape)
    log_front = (
        _gammaln(a + b) - _gammaln(a) - _gammaln(b) + (a + b) * math.log(0.5)
    )  # x^a (1-x)^b / B(a, b) at x = 1/2
    front = np.exp(log_front)
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2); otherwise use
    # the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) (x = 1 - x = 1/2 here).
    direct = (a + 1.0) / (a + b + 2.0) > 0.5
    out = np.empty(a.shape)
    if direct.any():
        ad, bd = a[direct], b[direct]
        out[direct] = front[direct] * _betacf(ad, bd, 0.5) / ad
    flip = ~direct
    if flip.any():
        af, bf = a[flip], b[flip]
        out[flip] = 1.0 - front[flip] * _betacf(bf, af, 0.5) / bf
    return out
