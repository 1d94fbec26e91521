"""`feijian train --table` as a data scientist uses it: categories kept, text labels, Optuna and seeds
that act, time-ordered folds, the baseline in the same run, an MLflow run with the registered model,
and the files kept under the workspace; every option acts or is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from feijian.cli import app
from feijian.errors import InputError
from training import registry
from training.table import cv_folds, train_table
from training.table_run import table_name

runner = CliRunner()


def categorical_table(path: Path, n: int = 1_200, seed: int = 0) -> Path:
    """Claims that are mostly categories (as the public vehicle-claims table is): the signal is in a
    make × policy interaction, a two-value Korean sex column and a fault category; two numbers are noise."""
    rng = np.random.default_rng(seed)
    make = rng.choice(["Honda", "Toyota", "Mazda", "Ford", "Pontiac", "Acura", "VW"], n)
    policy = rng.choice(["Sedan - All Perils", "Sedan - Collision", "Sport - Liability", "Utility - All Perils"], n)
    sex = rng.choice(["남", "여"], n)
    fault = rng.choice(["Policy Holder", "Third Party"], n, p=[0.7, 0.3])
    area = rng.choice(["Urban", "Rural"], n)
    logit = (-2.4 + 1.6 * ((make == "Pontiac") | (make == "Acura")) * (policy != "Sedan - Collision")
             + 0.9 * (sex == "남") + 1.1 * (fault == "Policy Holder") - 0.5 * (area == "Urban"))
    fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    pd.DataFrame({
        "PolicyNumber": np.arange(1, n + 1), "Make": make, "PolicyType": policy, "SEX": sex, "Fault": fault,
        "AccidentArea": area, "Age": rng.integers(18, 80, n), "Deductible": rng.choice([300, 400, 500], n),
        "Month": pd.date_range("2023-01-01", periods=n, freq="6h").strftime("%Y-%m-%d %H:%M"),
        "FraudFound": np.where(fraud, "Fraud", "Legit"),
    }).to_csv(path, index=False)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("table")
    table = categorical_table(root / "Vehicle Claims.csv")
    args = ["train", "--table", str(table), "--id", "PolicyNumber", "--label", "FraudFound", "--positive", "Fraud",
            "--trials", "3", "--seed", "4", "--workspace", str(root / "ws"), "--mlruns", str(root / "mlruns"),
            "--models", str(root / "models")]
    res = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return {"root": root, "table": table, "output": res.output}


def test_categories_are_kept_and_beat_or_match_the_baseline(run: dict[str, Any]) -> None:
    r = train_table(run["table"], "PolicyNumber", "FraudFound", positive="Fraud", seed=4, note=lambda _m: None)
    assert {"Make", "PolicyType", "SEX", "Fault", "AccidentArea"} <= set(r.categorical)  # 남/여 too
    assert "Month" not in r.features  # one value per row: not a category
    assert r.test_auc >= r.baseline_auc - 0.01 and r.test_auc > 0.7, (r.test_auc, r.baseline_auc)
    numbers_only = train_table(_numbers_only(run["table"]), "PolicyNumber", "FraudFound", positive="Fraud",
                               seed=4, note=lambda _m: None)
    assert r.test_auc > numbers_only.test_auc + 0.1  # what dropping the categories cost


def _numbers_only(table: Path) -> Path:
    out = table.with_name("numbers.csv")
    pd.read_csv(table)[["PolicyNumber", "Age", "Deductible", "FraudFound"]].to_csv(out, index=False)
    return out


def test_the_run_is_logged_registered_and_its_files_kept(run: dict[str, Any]) -> None:
    root, out = run["root"], run["output"]
    assert "Baseline (scikit-learn HistGradientBoosting" in out and "3 Optuna trials" in out and "seed 4" in out
    kept = root / "ws" / "tables" / "vehicle-claims"
    scores = pd.read_csv(kept / "heldout_scores.csv")
    assert list(scores.columns) == ["id", "label", "p", "raw_score", "baseline_p"] and len(scores) == 240
    imp = pd.read_csv(kept / "importance.csv")
    assert imp["categorical"].any() and imp["gain"].is_monotonic_decreasing
    rel = pd.read_csv(kept / "reliability.csv")
    assert rel["n"].sum() == 240
    client = registry.setup(root / "mlruns", "feijian-table")
    mv = client.get_model_version("feijian-table-vehicle-claims", "1")
    got = client.get_run(mv.run_id)
    params = got.data.params
    assert (params["trials"], params["seed"], params["positive"]) == ("3", "4", "Fraud")
    assert {"test_auc", "baseline_test_auc", "cv_auc", "brier"} <= set(got.data.metrics)
    assert len(client.get_metric_history(mv.run_id, "cv_auc")) == 5  # per fold
    assert {a.path for a in client.list_artifacts(mv.run_id, "table")} >= {"table/heldout_scores.csv",
                                                                          "table/reliability.csv"}
    model = mlflow.pyfunc.load_model("models:/feijian-table-vehicle-claims/1")
    rows = pd.read_csv(run["table"]).set_index("PolicyNumber").loc[scores["id"].head(20)]
    pred = model.predict(rows.drop(columns=["FraudFound"]).reset_index(drop=True))
    assert np.allclose(pred["p"].to_numpy(), scores["p"].head(20).to_numpy())  # the raw columns in, same scores
    assert (root / "models" / "tables" / "vehicle-claims" / "model.pkl").is_file()
    gaps = rows.drop(columns=["FraudFound"]).reset_index(drop=True).astype({"Age": float})
    gaps.loc[0, "Age"] = np.nan  # an integer column with a gap arrives as float: scored, the gap as missing
    assert model.predict(gaps)["p"].notna().all()
    with pytest.raises(Exception, match="Make"):  # a column left out is refused, never scored as missing
        model.predict(gaps.drop(columns=["Make"]))


def test_names_keep_their_words_in_any_script() -> None:
    assert [table_name(Path(p)) for p in ("Vehicle Claims.csv", "医保 数据.parquet", "飞检.parquet", "a_b.csv")] == [
        "vehicle-claims", "医保-数据", "飞检", "a-b"]


def test_an_unseen_category_is_scored_as_missing_and_said(tmp_path: Path) -> None:
    table = categorical_table(tmp_path / "t.csv", n=600)
    frame = pd.read_csv(table)
    frame.loc[590:, "Make"] = "Lada"  # only in the latest rows, which a time split holds out
    frame.to_csv(table, index=False)
    notes: list[str] = []
    r = train_table(table, "PolicyNumber", "FraudFound", time_col="Month", positive="Fraud", note=notes.append)
    assert any("'Make': 10 held-out value(s) never seen in training" in n for n in notes), notes
    assert r.held_out is not None and r.held_out["p"].notna().all()


def test_a_time_split_is_cross_validated_in_time_order(tmp_path: Path) -> None:
    table = categorical_table(tmp_path / "t.csv", n=600)
    r = train_table(table, "PolicyNumber", "FraudFound", time_col="Month", positive="Fraud", note=lambda _m: None)
    assert "time-ordered" in r.split and "time-ordered" in r.cv and "stratified" not in r.cv
    times = pd.Series(pd.date_range("2024-01-01", periods=100, freq="D")).sample(frac=1, random_state=0)
    folds, _ = cv_folds(np.zeros(100), times.reset_index(drop=True), seed=0)
    t = times.reset_index(drop=True)
    assert len(folds) == 5 and all(t.iloc[tr].max() < t.iloc[va].min() for tr, va in folds)


def test_an_unreadable_time_column_names_its_lines(tmp_path: Path) -> None:
    table = categorical_table(tmp_path / "t.csv", n=100)
    frame = pd.read_csv(table)
    frame.loc[[3, 7], "Month"] = ["soon", "2024-02-30"]
    frame.to_csv(table, index=False)
    with pytest.raises(InputError, match=r"time column 'Month' has 2 value\(s\) that are not dates or times, "
                                         r"e.g. lines \[5, 9\]: \['soon', '2024-02-30'\]"):
        train_table(table, "PolicyNumber", "FraudFound", time_col="Month", positive="Fraud")


def test_the_same_seed_gives_the_same_run_and_another_seed_another_split(tmp_path: Path) -> None:
    table = categorical_table(tmp_path / "t.csv", n=500)
    a, b, c = (train_table(table, "PolicyNumber", "FraudFound", positive="Fraud", seed=s, trials=2,
                           note=lambda _m: None) for s in (1, 1, 2))
    assert a.to_dict() | {"seconds": 0} == b.to_dict() | {"seconds": 0}
    assert a.held_out is not None and c.held_out is not None
    assert set(a.held_out["id"]) != set(c.held_out["id"]) and a.trials == 2


@pytest.mark.parametrize(
    ("extra", "says"),
    [(["--weighting", "ipw"], "--weighting: for the workspace's findings, not for --table"),
     (["--window-months", "6"], "--window-months: for the workspace's findings"),
     (["--db", "sqlite:///x.db"], "--db: for the workspace's findings")],
)
def test_an_option_the_table_path_cannot_use_is_refused(tmp_path: Path, extra: list[str], says: str) -> None:
    table = categorical_table(tmp_path / "t.csv", n=100)
    res = runner.invoke(app, ["train", "--table", str(table), "--id", "PolicyNumber", "--label", "FraudFound",
                              "--positive", "Fraud", *extra], env={"COLUMNS": "200"})
    assert res.exit_code != 0 and says in res.output, res.output
    assert not (tmp_path / "mlruns").exists()


def test_positive_without_a_table_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["train", "--positive", "Fraud"], env={"COLUMNS": "200"})
    assert res.exit_code != 0 and "--positive: for --table only" in res.output


def test_an_empty_time_is_refused_for_numeric_times_too(tmp_path: Path) -> None:
    table = categorical_table(tmp_path / "t.csv", n=100)
    frame = pd.read_csv(table).assign(t=np.arange(100, dtype=float))
    frame.loc[[10, 20], "t"] = np.nan
    frame.to_csv(table, index=False)
    with pytest.raises(InputError, match=r"time column 't' is empty on 2 row\(s\), e.g. lines \[12, 22\]"):
        train_table(table, "PolicyNumber", "FraudFound", time_col="t", positive="Fraud")
