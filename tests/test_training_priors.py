"""Code tier for the domain priors: which columns are constrained, and that the fitted model obeys them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.snapshot.registry import PEER_PCT, PEER_Z
from training.anomaly import ANOMALY_COLUMN
from training.dataset import facility_columns
from training.priors import INCREASING_FEATURES, monotone_constraints, risk_direction
from training.target_model import TargetModel


def test_rule_hits_anomaly_and_prior_findings_are_increasing_the_rest_free() -> None:
    for column in ("rule_hit_amount", "rule_hit_amount" + PEER_Z, "n_rules_hit" + PEER_PCT, "hit_drug_share"):
        assert risk_direction(column) == 1, column
    for column in (ANOMALY_COLUMN, "prior_serious_findings", "prior_recovered"):
        assert risk_direction(column) == 1, column
    for column in ("fund_pay", "fund_pay" + PEER_Z, "days_since_inspection", "prior_inspections", "hosp_tier"):
        assert risk_direction(column) == 0, column


def test_every_named_prior_is_a_model_column() -> None:
    columns = facility_columns()
    assert set(INCREASING_FEATURES) <= set(columns)
    directions = monotone_constraints(columns)
    assert len(directions) == len(columns) and set(directions) == {0, 1}


def _bumpy_rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Risk and amount rise with rule_hit_amount, but with a planted dip in the middle a free tree would learn."""
    rng = np.random.default_rng(seed)
    hit = rng.uniform(0, 10, n)
    size = rng.uniform(0, 1, n)
    dip = (hit > 4) & (hit < 7)
    serious = (rng.uniform(0, 1, n) < np.where(dip, 0.05, 0.1 + 0.08 * hit)).astype(float)
    amount = serious * np.where(dip, 500.0, 1_000.0 * (1 + hit)) * rng.uniform(0.5, 1.5, n)
    return pd.DataFrame({"rule_hit_amount": hit, "fund_pay": size, "serious": serious, "amount_recovered": amount})


@pytest.mark.parametrize("monotone", [True, False])
def test_fitted_scores_never_fall_as_rule_hit_amount_rises(monotone: bool) -> None:
    rows = _bumpy_rows()
    params = {"min_data_in_leaf": 10}
    model = TargetModel(["rule_hit_amount", "fund_pay"], params=params, seed=0, monotone=monotone).fit(rows)
    grid = pd.DataFrame({"rule_hit_amount": np.linspace(0, 10, 101), "fund_pay": 0.5})
    raw = model.risk_.raw_score(grid[model.columns])
    amount = model.predict_amount(grid)
    rises = bool((np.diff(raw) >= -1e-12).all() and (np.diff(amount) >= -1e-9).all())
    assert rises == monotone, "the constraint, and only the constraint, keeps the score non-decreasing"
