"""The prepared-table path on small synthetic files, plus a model-tier floor on the real Kaggle table."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from feijian.errors import InputError, MissingColumnError
from training.table import format_table_result, map_label, train_table
from training.table_run import run_train_table

KAGGLE = Path("/work/shared/data/external/kaggle-provider-fraud/train_final.csv")


def write_table(tmp_path: Path, n: int = 400, seed: int = 0, suffix: str = ".csv") -> Path:
    """A prepared table: id, Yes/No label, a month, numeric, boolean, yes/no and free-text columns."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = x1 + 0.5 * x2 + rng.normal(scale=0.7, size=n) > 0.9
    frame = pd.DataFrame(
        {
            "facility": [f"H{i:04d}" for i in range(n)],
            "x1": np.where(rng.random(n) < 0.05, np.nan, x1),
            "x2": x2,
            "night_share": [f"{v:.3f}" for v in rng.random(n)],  # numbers stored as text
            "is_tertiary": rng.random(n) < 0.3,
            "has_pharmacy": np.where(rng.random(n) < 0.5, "Yes", "No"),
            "remark": [f"note {i}" for i in range(n)],
            "month": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "serious": np.where(y, "Yes", "No"),
        }
    )
    path = tmp_path / f"table{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def test_stratified_split_reports_cv_and_held_out_figures(tmp_path: Path) -> None:
    notes: list[str] = []
    r = train_table(write_table(tmp_path), "facility", "serious", note=notes.append)
    assert (r.n_train, r.n_test) == (320, 80)
    assert r.pos_test == r.k and r.pos_train + r.pos_test > 40
    assert "stratified" in r.split and "seed 0" in r.split
    assert r.test_auc > 0.8 and r.cv_auc_mean > 0.8 and 0 <= r.brier < 0.25
    assert set(r.features) == {"x1", "x2", "night_share", "is_tertiary", "has_pharmacy", "month"} - {"month"}
    assert any("'remark'" in n for n in notes)  # free text dropped, and said so
    d = r.to_dict()
    assert "model" not in d and d["n_test"] == 80
    text = format_table_result(r)
    assert "Held-out: AUC" in text and "remark" in text


def test_time_split_puts_the_latest_rows_in_test(tmp_path: Path) -> None:
    path = write_table(tmp_path, suffix=".parquet")
    r = train_table(path, "facility", "serious", time_col="month", test_size=0.25)
    assert r.n_test == 100 and "time-ordered" in r.split and "2024-10-27" in r.split


def test_same_seed_same_result(tmp_path: Path) -> None:
    path = write_table(tmp_path)
    a = train_table(path, "facility", "serious", seed=2, note=lambda _m: None)
    b = train_table(path, "facility", "serious", seed=2, note=lambda _m: None)
    assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}


def test_missing_column_error_names_it_and_lists_the_columns(tmp_path: Path) -> None:
    path = write_table(tmp_path, n=50)
    with pytest.raises(MissingColumnError, match=r"no label column 'fraud'; columns are: facility, x1"):
        train_table(path, "facility", "fraud")
    with pytest.raises(MissingColumnError, match="no id column 'provider'"):
        train_table(path, "provider", "serious")


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    path = write_table(tmp_path, n=50)
    frame = pd.read_csv(path)
    frame.loc[3, "facility"] = frame.loc[4, "facility"]
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"2 rows share an id in 'facility', e.g. \['H0004'\]"):
        train_table(path, "facility", "serious")


def test_a_column_that_is_the_label_in_disguise_is_dropped(tmp_path: Path) -> None:
    path = write_table(tmp_path)
    frame = pd.read_csv(path)
    frame["recovered_flag"] = (frame["serious"] == "Yes").astype(int) * 3
    frame.to_csv(path, index=False)
    notes: list[str] = []
    r = train_table(path, "facility", "serious", note=notes.append)
    assert "recovered_flag" not in r.features
    assert any("'recovered_flag'" in n and "AUC 1.000" in n for n in notes)


def volume_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Counts that grow with a volume column, a per-unit mean, a share and a signed column."""
    rng = np.random.default_rng(seed)
    claims = rng.integers(1, 500, size=n)
    return pd.DataFrame(
        {
            "mean_amount": rng.gamma(2.0, 300.0, size=n),
            "claims": claims,
            "inpatient": rng.binomial(claims, 0.2),
            "patients": np.maximum(1, rng.binomial(claims, 0.7)),
            "signed": rng.normal(size=n),
        }
    ).astype(float)


def test_label_mapping() -> None:
    assert map_label(pd.Series(["Yes", "no", None])).tolist()[:2] == [1.0, 0.0]
    assert map_label(pd.Series([True, False])).tolist() == [1.0, 0.0]
    assert map_label(pd.Series([1, 0, 1])).tolist() == [1.0, 0.0, 1.0]
    assert map_label(pd.Series(["fraud", "ok"]), positive="fraud").tolist() == [1.0, 0.0]
    with pytest.raises(InputError, match="--positive VALUE"):
        map_label(pd.Series(["fraud", "ok"]))
    assert map_label(pd.Series([1.0, 0.0, None]), positive="1").tolist()[:2] == [1.0, 0.0]  # read as 1.0
    with pytest.raises(InputError, match="no label equals --positive 'Fraud'"):
        map_label(pd.Series(["fraud?", "ok"]), positive="Fraud")


def test_run_train_table_prints_a_summary(tmp_path: Path) -> None:
    out = io.StringIO()
    run_train_table(write_table(tmp_path), "facility", "serious", None, Console(file=out, width=200),
                    workspace=tmp_path / "ws", mlruns=tmp_path / "mlruns", models=tmp_path / "models")
    assert "Held-out: AUC" in out.getvalue() and "dropped column 'remark'" in out.getvalue()
    assert "Baseline (scikit-learn HistGradientBoosting" in out.getvalue()


@pytest.mark.slow
@pytest.mark.skipif(not KAGGLE.is_file(), reason="Kaggle provider-fraud table not present")
def test_kaggle_provider_table_held_out_floor() -> None:
    # Measured: AUC 0.949 / AP 0.774 on this split (seed 0); 5-seed mean 0.954 / 0.764. The floors sit
    # below the worst seed seen (0.946 / 0.714) so the test guards against regressions, not luck.
    r = train_table(KAGGLE, "Provider", "PotentialFraud", seed=0, note=lambda _m: None)
    assert (r.n_train, r.n_test, r.pos_test) == (4328, 1082, 101)
    assert r.test_auc >= 0.94
    assert r.test_ap >= 0.72
    assert r.precision_at_k >= 0.6
