"""Agreement metrics against the reference packages (krippendorff, sklearn, scipy)."""

from __future__ import annotations

import importlib
import math
from fractions import Fraction

import numpy as np
import pytest

from bot.quality import agreement
from bot.quality.agreement import (
    cohen_kappa_pairwise,
    encode_labels,
    fleiss_kappa,
    krippendorff_alpha,
    majority_share,
    position_bias,
)


def _random_matrix(seed: int, raters: int = 6, units: int = 40, values: int = 5, missing=0.4):
    """Reliability matrix (raters x units) with NaN for missing answers, and its answer arrays."""
    rng = np.random.default_rng(seed)
    mat = rng.integers(1, values + 1, size=(raters, units)).astype(float)
    mat[rng.random((raters, units)) < missing] = np.nan
    r, i = np.nonzero(~np.isnan(mat))
    return mat, i, r, mat[r, i]


# --------------------------------------------------------------------------- encode_labels


def test_encode_labels_first_appearance_and_fixed_order() -> None:
    codes, classes = encode_labels(["bug", "billing", "bug", "other"])
    assert classes == ["bug", "billing", "other"]
    assert codes.tolist() == [0, 1, 0, 2]
    codes, classes = encode_labels(["low", "high", "mid"], classes=["low", "mid", "high"])
    assert codes.tolist() == [0, 2, 1]


def test_encode_labels_rejects_unknown_label() -> None:
    with pytest.raises(ValueError, match="not one of the classes"):
        encode_labels(["a", "z"], classes=["a", "b"])


# --------------------------------------------------------------------------- majority_share


def test_majority_share_reports_ties_and_unanswered() -> None:
    items = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    values = [1, 1, 2, 0, 1, 3, 3, 3, 0]
    res = majority_share(items, values, n_items=4)
    assert res.value.tolist() == [1, -1, 3, -1]
    assert res.tied.tolist() == [False, True, False, False]
    assert res.top_count.tolist() == [2, 1, 3, 0]
    assert res.n_answers.tolist() == [3, 2, 4, 0]
    np.testing.assert_allclose(res.share[:3], [2 / 3, 0.5, 0.75])
    assert math.isnan(res.share[3])


@pytest.mark.parametrize("dense", [True, False])
def test_majority_share_matches_loop(monkeypatch: pytest.MonkeyPatch, dense: bool) -> None:
    if not dense:
        monkeypatch.setattr(agreement, "_DENSE_CELLS", 0)
    rng = np.random.default_rng(3)
    items = rng.integers(0, 300, 2000)
    values = rng.integers(0, 4, 2000)
    res = majority_share(items, values, n_items=310)
    for i in range(310):
        v = values[items == i]
        if v.size == 0:
            assert res.value[i] == -1 and res.n_answers[i] == 0
            continue
        counts = np.bincount(v, minlength=4)
        top = counts.max()
        tied = (counts == top).sum() > 1
        assert res.tied[i] == tied
        assert res.value[i] == (-1 if tied else counts.argmax())
        assert res.share[i] == pytest.approx(top / v.size, abs=1e-12)


def test_majority_share_agrees_with_crowdkit_majority_vote() -> None:
    pd = importlib.import_module("pandas")
    mv = importlib.import_module("crowdkit.aggregation").MajorityVote
    rng = np.random.default_rng(11)
    items = np.repeat(np.arange(500), 5)
    raters = rng.integers(0, 30, items.size)
    values = rng.integers(0, 3, items.size)
    df = pd.DataFrame({"task": items, "worker": raters, "label": values})
    ck = mv().fit_predict(df).sort_index().to_numpy()
    res = majority_share(items, values)
    clear = ~res.tied
    assert clear.sum() > 300
    np.testing.assert_array_equal(res.value[clear], ck[clear])


# --------------------------------------------------------------------------- Krippendorff


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
@pytest.mark.parametrize("seed", range(6))
def test_alpha_matches_krippendorff_package(level: str, seed: int) -> None:
    kd = importlib.import_module("krippendorff")
    mat, items, raters, values = _random_matrix(seed, raters=3 + seed, units=30 + 7 * seed)
    expected = kd.alpha(reliability_data=mat, level_of_measurement=level)
    assert krippendorff_alpha(items, raters, values, level) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_package_on_skewed_float_values(level: str) -> None:
    kd = importlib.import_module("krippendorff")
    rng = np.random.default_rng(42)
    mat = rng.choice([0.5, 1.0, 2.5, 7.0, 100.0], size=(5, 60), p=[0.5, 0.2, 0.15, 0.1, 0.05])
    mat[rng.random(mat.shape) < 0.3] = np.nan
    r, i = np.nonzero(~np.isnan(mat))
    expected = kd.alpha(reliability_data=mat, level_of_measurement=level)
    assert krippendorff_alpha(i, r, mat[r, i], level) == pytest.approx(expected, abs=1e-9)


def test_alpha_textbook_values() -> None:
    """The krippendorff package's documented examples (Krippendorff 2011)."""
    nan = np.nan
    data = np.array(
        [
            [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
        ]
    )
    r, i = np.nonzero(~np.isnan(data))
    assert krippendorff_alpha(i, r, data[r, i], "nominal") == pytest.approx(0.691358, abs=1e-6)
    assert krippendorff_alpha(i, r, data[r, i], "interval") == pytest.approx(0.810845, abs=1e-6)
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    r, i = np.nonzero(~np.isnan(data))
    assert krippendorff_alpha(i, r, data[r, i], "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_alpha_one_rater_is_nan_where_package_raises() -> None:
    kd = importlib.import_module("krippendorff")
    mat = np.array([[1.0, 2.0, 3.0, 1.0]])
    with pytest.raises(ValueError):
        kd.alpha(reliability_data=mat, level_of_measurement="nominal")
    assert math.isnan(krippendorff_alpha([0, 1, 2, 3], [0, 0, 0, 0], [1, 2, 3, 1]))


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_all_identical_is_nan(level: str) -> None:
    kd = importlib.import_module("krippendorff")
    mat = np.full((3, 5), 2.0)
    with pytest.raises(ValueError):  # the package refuses a one-value domain
        kd.alpha(reliability_data=mat, level_of_measurement=level)
    r, i = np.nonzero(~np.isnan(mat))
    assert math.isnan(krippendorff_alpha(i, r, mat[r, i], level))
    # a second value only on an unpairable item: the package gives nan (with a warning)
    mat = np.array([[1.0, 1.0, 1.0, 2.0], [1.0, 1.0, 1.0, np.nan]])
    with np.errstate(invalid="ignore"):
        assert math.isnan(kd.alpha(reliability_data=mat, level_of_measurement=level))
    r, i = np.nonzero(~np.isnan(mat))
    assert math.isnan(krippendorff_alpha(i, r, mat[r, i], level))


def test_alpha_drops_single_answer_items() -> None:
    kd = importlib.import_module("krippendorff")
    mat, items, raters, values = _random_matrix(7)
    # add 10 items answered once, with values the rest never uses
    extra = np.arange(10) + items.max() + 1
    items2 = np.concatenate([items, extra])
    raters2 = np.concatenate([raters, np.zeros(10, dtype=int)])
    values2 = np.concatenate([values, np.full(10, 99.0)])
    full = np.full((mat.shape[0], mat.shape[1] + 10), np.nan)
    full[:, : mat.shape[1]] = mat
    full[0, mat.shape[1] :] = 99.0
    for level in ("nominal", "ordinal", "interval"):
        ours = krippendorff_alpha(items2, raters2, values2, level)
        assert ours == pytest.approx(krippendorff_alpha(items, raters, values, level), abs=1e-12)
        assert ours == pytest.approx(kd.alpha(full, level_of_measurement=level), abs=1e-9)


def test_alpha_treats_nan_as_missing_and_rejects_duplicates() -> None:
    mat, items, raters, values = _random_matrix(2)
    with_nan = krippendorff_alpha(
        np.append(items, 0), np.append(raters, 99), np.append(values, np.nan)
    )
    assert with_nan == pytest.approx(krippendorff_alpha(items, raters, values), abs=1e-15)
    with pytest.raises(ValueError, match="more than once"):
        krippendorff_alpha([0, 0, 1, 1], [0, 0, 0, 1], [1, 2, 1, 1])
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha([0, 0], [0, 1], [1, 1], level="ratio")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Fleiss

# Worked example of the Wikipedia article "Fleiss' kappa": 10 subjects, 14 raters,
# 5 categories; kappa = 0.210 (rounded).
_WIKI_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _table_to_answers(table: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    items, values = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            items += [i] * count
            values += [j] * count
    return np.array(items), np.array(values)


def _fleiss_exact(table: list[list[int]]) -> Fraction:
    """Fleiss (1971) by hand, in exact arithmetic (generalised P_i for unequal n_i)."""
    total = sum(sum(r) for r in table)
    p_i = [Fraction(sum(c * (c - 1) for c in r), sum(r) * (sum(r) - 1)) for r in table]
    p_bar = sum(p_i) / len(p_i)
    p_j = [Fraction(sum(r[j] for r in table), total) for j in range(len(table[0]))]
    p_e = sum(p * p for p in p_j)
    return (p_bar - p_e) / (1 - p_e)


def test_fleiss_textbook_example() -> None:
    items, values = _table_to_answers(_WIKI_TABLE)
    exact = _fleiss_exact(_WIKI_TABLE)
    assert float(exact) == pytest.approx(0.20993, abs=1e-5)
    assert fleiss_kappa(items, values) == pytest.approx(float(exact), abs=1e-12)


def test_fleiss_unequal_counts_uses_generalisation() -> None:
    rng = np.random.default_rng(5)
    table = [list(rng.multinomial(int(rng.integers(2, 9)), [0.5, 0.3, 0.2])) for _ in range(50)]
    items, values = _table_to_answers(table)
    # one more item with a single answer: dropped
    items = np.append(items, 50)
    values = np.append(values, 2)
    assert fleiss_kappa(items, values) == pytest.approx(float(_fleiss_exact(table)), abs=1e-12)


def test_fleiss_against_statsmodels_if_installed() -> None:
    sm = importlib.import_module("statsmodels.stats.inter_rater")
    assert fleiss_kappa(*_table_to_answers(_WIKI_TABLE)) == pytest.approx(
        sm.fleiss_kappa(np.array(_WIKI_TABLE)), abs=1e-9
    )


def test_fleiss_undefined_cases() -> None:
    assert math.isnan(fleiss_kappa([0, 0, 1, 1], [2, 2, 2, 2]))  # one category
    assert math.isnan(fleiss_kappa([0, 1, 2], [0, 1, 0]))  # nothing pairable
    assert math.isnan(fleiss_kappa([], []))


# --------------------------------------------------------------------------- Cohen


@pytest.mark.parametrize("seed", range(4))
def test_cohen_pairwise_matches_sklearn(seed: int) -> None:
    metrics = importlib.import_module("sklearn.metrics")
    mat, items, raters, values = _random_matrix(seed, raters=5, units=60, missing=0.3)
    got = cohen_kappa_pairwise(items, raters, values.astype(int))
    n_checked = 0
    for a in range(mat.shape[0]):
        for b in range(a + 1, mat.shape[0]):
            shared = ~np.isnan(mat[a]) & ~np.isnan(mat[b])
            if shared.sum() < 2:
                assert (a, b) not in got
                continue
            expected = metrics.cohen_kappa_score(mat[a, shared], mat[b, shared])
            assert got[(a, b)] == pytest.approx(expected, abs=1e-9)
            n_checked += 1
    assert n_checked == len(got) > 0


def test_cohen_pairwise_skips_and_nan() -> None:
    # raters 0/1 share two items with one label each -> nan (sklearn gives nan too);
    # rater 2 shares one item with each -> skipped.
    items = [0, 0, 1, 1, 2, 2]
    raters = [0, 1, 0, 1, 0, 2]
    values = [1, 1, 1, 1, 0, 1]
    got = cohen_kappa_pairwise(items, raters, values)
    assert list(got) == [(0, 1)]
    assert math.isnan(got[(0, 1)])
    assert cohen_kappa_pairwise([0, 1], [0, 0], [1, 1]) == {}
    with pytest.raises(ValueError, match="more than once"):
        cohen_kappa_pairwise([0, 0], [1, 1], [0, 1])


def test_cohen_pairwise_sparse_path_same(monkeypatch: pytest.MonkeyPatch) -> None:
    _, items, raters, values = _random_matrix(9, raters=6, units=80, missing=0.2)
    dense = cohen_kappa_pairwise(items, raters, values.astype(int))
    monkeypatch.setattr(agreement, "_DENSE_CELLS", 0)
    sparse = cohen_kappa_pairwise(items, raters, values.astype(int))
    assert dense.keys() == sparse.keys()
    for key, value in dense.items():
        assert sparse[key] == pytest.approx(value, abs=1e-15)


# --------------------------------------------------------------------------- position bias


@pytest.mark.parametrize(("n", "k"), [(1000, 573), (20, 15), (7, 0), (50, 25), (3, 3), (1, 1)])
def test_position_bias_matches_scipy(n: int, k: int) -> None:
    stats = importlib.import_module("scipy.stats")
    res = position_bias(np.arange(n) < k)
    test = stats.binomtest(k, n, 0.5)
    ci = test.proportion_ci(confidence_level=0.95, method="wilson")
    assert res.rate == pytest.approx(k / n)
    assert (res.n, res.n_first) == (n, k)
    assert res.p_value == pytest.approx(test.pvalue, rel=1e-9, abs=1e-15)
    assert res.ci_low == pytest.approx(ci.low, abs=1e-12)
    assert res.ci_high == pytest.approx(ci.high, abs=1e-12)


def test_position_bias_large_n_and_empty() -> None:
    res = position_bias(np.arange(2_000_000) % 2 == 0)
    assert res.rate == 0.5 and res.p_value == 1.0
    empty = position_bias([])
    assert empty.n == 0 and math.isnan(empty.rate) and empty.p_value == 1.0
