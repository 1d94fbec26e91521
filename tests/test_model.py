"""Code tier for the risk model and the ranking metrics: the estimator contract, calibration, errors,
and metrics on hand-checkable examples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone

from feijian.errors import InputError, NotReadyError
from training import metrics
from training.model import AmountModel, ModelNotFittedError, RiskModel, TooFewLabelsError, expected_recovery


def make_problem(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two informative features, two noise features, 10 % missing values, ~20 % positives."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.8, size=n) > 1.0).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def test_fit_returns_self_and_learned_state_ends_in_underscore() -> None:
    X, y = make_problem()
    model = RiskModel(seed=1)
    assert model.fit(X, y) is model
    assert model.booster_.num_trees() == model.n_rounds_ <= 300
    assert model.n_features_in_ == 4
    unfitted = clone(model)
    assert not [k for k in vars(unfitted) if k.endswith("_")]
    assert unfitted.get_params()["seed"] == 1


def test_unfitted_model_raises_a_clear_error() -> None:
    X, _ = make_problem(50)
    for call in (RiskModel().predict_proba, RiskModel().raw_score, AmountModel().predict):
        with pytest.raises(ModelNotFittedError, match="not fitted") as info:
            call(X)
        assert isinstance(info.value, NotReadyError)


def test_same_seed_same_predictions_and_higher_score_is_more_suspicious() -> None:
    X, y = make_problem()
    a = RiskModel(seed=3).fit(X, y).predict_proba(X)
    b = RiskModel(seed=3).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)
    assert ((a >= 0) & (a <= 1)).all()
    assert metrics.auc(y, a) > 0.85


def test_isotonic_steps_do_not_tie_the_ranking() -> None:
    X, y = make_problem()
    model = RiskModel().fit(X, y)
    p, raw = model.predict_proba(X), model.raw_score(X)
    assert np.array_equal(np.argsort(-p, kind="stable"), np.argsort(-raw, kind="stable"))


@pytest.mark.parametrize("calibration", ["platt", "beta", "isotonic"])
def test_calibration_reduces_brier_on_held_out_rows(calibration: str) -> None:
    # scale_pos_weight inflates the raw probabilities, as reweighting does; calibration must undo it.
    X, y = make_problem(2000, seed=5)
    model = RiskModel(params={"scale_pos_weight": 6.0}, calibration=calibration).fit(X[:1200], y[:1200])
    raw_brier = metrics.brier(y[1200:], expit(model.raw_score(X[1200:])))
    assert metrics.brier(y[1200:], model.predict_proba(X[1200:])) < raw_brier - 0.01


def test_sample_weight_is_used() -> None:
    X, y = make_problem()
    w = np.where(y == 1, 5.0, 1.0)
    plain = RiskModel().fit(X, y)
    weighted = RiskModel().fit(X, y, sample_weight=w)
    assert not np.array_equal(plain.raw_score(X), weighted.raw_score(X))


def test_too_few_labels_and_a_single_class_say_what_was_found() -> None:
    X, y = make_problem()
    with pytest.raises(TooFewLabelsError, match=r"found 10 labelled rows: \d+ positive"):
        RiskModel().fit(X[:10], y[:10])
    with pytest.raises(TooFewLabelsError, match="both classes; found 600 labelled rows: 0 positive, 600 negative"):
        RiskModel().fit(X, np.zeros(600))
    y_few = np.zeros(600)
    y_few[:3] = 1
    with pytest.raises(TooFewLabelsError, match="3 positive"):
        RiskModel().fit(X, y_few)
    with pytest.raises(InputError, match="calibration must be"):
        RiskModel(calibration="sigmoid").fit(X, y)  # type: ignore[arg-type]


def test_amount_model_and_expected_recovery() -> None:
    X, y = make_problem()
    amount = y * (1000 + 500 * np.nan_to_num(X[:, 0]).clip(0))
    model = AmountModel().fit(X, amount)
    pred = model.predict(X)
    assert (pred >= 0).all()
    assert pred[y == 1].mean() > 3 * pred[y == 0].mean()
    assert expected_recovery([0.5, 0.1], [1000.0, 200.0]).tolist() == [500.0, 20.0]
    with pytest.raises(InputError, match="probabilities"):
        expected_recovery([1.5], [1.0])
    with pytest.raises(InputError, match="≥ 0"):
        AmountModel().fit(X, -amount)


def test_precision_and_recovered_at_k_by_hand() -> None:
    y = [1, 0, 1, 0, 0]
    score = [0.9, 0.8, 0.7, 0.1, 0.2]
    amount = [100.0, 0.0, 50.0, 0.0, 7.0]
    assert metrics.precision_at_k(y, score, 1) == 1.0
    assert metrics.precision_at_k(y, score, 2) == 0.5
    assert metrics.precision_at_k(y, score, 3) == pytest.approx(2 / 3)
    assert metrics.precision_at_k(y, score, 99) == 0.4  # k capped at the number of rows
    assert metrics.recovered_at_k(amount, score, 3) == 150.0
    assert metrics.recovered_at_k(amount, score, 4) == 157.0


def test_ties_break_by_input_order_and_nan_ranks_last() -> None:
    score = [0.5, 0.5, 0.5, np.nan, 0.9]
    assert metrics.top_k_index(score, 3).tolist() == [4, 0, 1]
    assert metrics.top_k_index(score, 5).tolist() == [4, 0, 1, 2, 3]
    assert metrics.precision_at_k([0, 1, 1, 1, 0], score, 2) == 0.0
    assert metrics.recovered_at_k([1.0, 2.0, 4.0, 8.0, 16.0], score, 3) == 19.0


def test_auc_ap_brier_and_reliability_by_hand() -> None:
    y = [0, 0, 1, 1]
    assert metrics.auc(y, [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert metrics.average_precision(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(metrics.auc([1, 1], [0.2, 0.3]))
    assert metrics.brier([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    curve = metrics.reliability_curve([0, 0, 1, 1], [0.05, 0.15, 0.15, 0.95], bins=10)
    assert curve == [(0.05, 0.0, 1), (0.15, 0.5, 2), (0.95, 1.0, 1)]
    with pytest.raises(InputError, match="k must be at least 1"):
        metrics.precision_at_k(y, y, 0)
    with pytest.raises(InputError, match="0/1"):
        metrics.auc([0, 2], [0.1, 0.2])


def test_amount_half_learns_from_a_few_dozen_serious_findings() -> None:
    """~35 serious rows: the amount half must still split (it used to come out one constant)."""
    import pandas as pd

    from training.target_model import TargetModel

    rng = np.random.default_rng(0)
    n = 160
    size = rng.uniform(1, 10, n)
    serious = (rng.uniform(0, 1, n) < 0.22).astype(float)
    frame = pd.DataFrame(
        {
            "size": size,
            "noise": rng.normal(size=n),
            "serious": serious,
            "amount_recovered": serious * 1_000 * size * rng.uniform(0.8, 1.2, n),
        }
    )
    model = TargetModel(["size", "noise"], seed=0, monotone=False).fit(frame)
    assert model.amount_basis_ == "serious" and 20 <= serious.sum() <= 50
    amount = model.predict_amount(frame)
    assert amount.std() > 0 and np.corrcoef(amount, size)[0, 1] > 0.5
