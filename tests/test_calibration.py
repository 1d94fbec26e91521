"""The calibrators planners read: smooth, bounded by what the findings support, with honest intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from training.calibration import Calibrator, fit_calibrator, supported_bounds, wilson_centre, wilson_upper
from training.calibration_check import _ratio_interval, interval_for


def _scores(n: int, seed: int, sharp: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 2, n)
    y = (rng.random(n) < expit(sharp * raw - 1)).astype(float)  # an over-confident margin: all-positive top
    return raw, y


@pytest.mark.parametrize("kind", ["platt", "beta"])
def test_smooth_calibration_never_ties_distinct_scores_and_never_exceeds_the_supported_rate(kind: str) -> None:
    raw, y = _scores(240, seed=1)
    cal = fit_calibrator(kind, raw, y)
    lo, hi = supported_bounds(raw, y)
    grid = np.linspace(raw.min() - 5, raw.max() + 5, 2001)
    p = cal.predict(grid)
    assert np.all(np.diff(p) > 0), "strictly increasing: two facilities with different scores never share a risk"
    assert p.max() < hi < 0.99 and p.min() > lo > 0.001
    # the top of the ranking is all positive, yet 100 % is not what 240 findings support
    top = np.argsort(-raw)[:20]
    assert y[top].mean() == 1.0 and cal.predict(raw[top]).max() < 0.99


def test_the_supported_bounds_are_wilson_centres_of_the_most_extreme_prefixes() -> None:
    raw = np.arange(100, dtype=float)
    y = (raw >= 76).astype(float)  # the top 24 all positive, the bottom 76 all negative
    lo, hi = supported_bounds(raw, y)
    assert hi == pytest.approx(float(wilson_centre(24, 24)))  # (24 + 1.92) / (24 + 3.84) ≈ 0.93
    assert lo == pytest.approx(float(wilson_centre(0, 76)))
    assert 0.92 < hi < 0.94 and float(wilson_upper(24, 24)) == pytest.approx(1.0)


@given(st.integers(0, 10_000), st.floats(0.3, 6.0))
@settings(max_examples=25, deadline=None)
def test_the_probability_band_contains_its_point_and_narrows_with_more_findings(seed: int, sharp: float) -> None:
    raw, y = _scores(400, seed, sharp)
    if y.sum() < 5 or (1 - y).sum() < 5:
        return
    few = fit_calibrator("platt", raw[:60], y[:60])
    many = fit_calibrator("platt", raw, y)
    grid = np.linspace(-4, 4, 41)
    for cal in (few, many):
        lo, hi = cal.band(grid)
        p = cal.predict(grid)
        assert np.all(lo <= p + 1e-12) and np.all(p <= hi + 1e-12)
    width = lambda c: np.mean(np.subtract(*c.band(grid)[::-1]))  # noqa: E731
    assert width(many) < width(few)


def test_stored_calibrators_read_back_the_same_and_old_bundles_still_load() -> None:
    raw, y = _scores(300, seed=3)
    for kind in ("platt", "beta", "isotonic"):
        cal = fit_calibrator(kind, raw, y)
        again = Calibrator.from_json(cal.to_json())
        assert np.allclose(again.predict(raw), cal.predict(raw))
    old = Calibrator.from_json({"kind": "sigmoid", "coef": 1.5, "intercept": -0.5})
    assert old.predict(np.array([0.0]))[0] == pytest.approx(float(expit(-0.5)))


@given(st.lists(st.floats(0, 50), min_size=20, max_size=300), st.sampled_from([0.8, 0.9]))
@settings(max_examples=50, deadline=None)
def test_recovery_ratio_interval_contains_the_point_and_covers_at_least_its_level(ratios: list, level: float) -> None:
    r = np.asarray(ratios)
    low, high = _ratio_interval(r, level)
    assert low <= 1.0 <= high
    assert np.mean((r >= low) & (r <= high)) >= level - 1e-9
    spec = {"level": level, "bands": [{"p_from": 0.0, "low_ratio": low, "high_ratio": high}]}
    expected = np.array([0.0, 10.0, 2_000.0])
    lo, hi = interval_for(spec, np.array([0.1, 0.5, 0.9]), expected)
    assert np.all(lo <= expected) and np.all(expected <= hi)


def test_recovery_interval_from_one_round_has_no_out_of_sample_coverage_and_does_not_fail() -> None:
    """A campaign's first training has one backtest fold: the interval is still made, its coverage unknown."""
    from datetime import date

    import pandas as pd

    from training.backtest import Fold
    from training.calibration_check import recovery_interval

    rng = np.random.default_rng(0)
    lab = pd.DataFrame({"amount_recovered": rng.gamma(1.0, 5_000, 40) * (rng.random(40) < 0.7),
                        "model": rng.uniform(500, 5_000, 40), "p_serious": rng.uniform(0.02, 0.8, 40)})  # fmt: skip
    spec = recovery_interval([Fold("2024Q1", date(2024, 1, 1), 40, 100, 20, pd.DataFrame(), lab)])
    assert spec["coverage_leave_one_round_out"] is None and spec["coverage_in_sample"] >= 0.9
    assert all(b["low_ratio"] <= 1.0 <= b["high_ratio"] for b in spec["bands"])
