"""`feijian train --table`: a prepared table trained as a first-class run.

Besides the summary printed (training.table), each run keeps:
- under the workspace, `tables/<name>/`: `heldout_scores.csv` (id, label, p, raw score, baseline p),
  `importance.csv` (gain and splits per feature), `reliability.csv` (held-out mean predicted against
  observed, by bin) and `result.json` (the figures, the split, the folds, the notes);
- an MLflow run in the experiment `feijian-table` (parameters, per-fold and held-out metrics, the
  split, those files as artifacts) with the model registered as `feijian-table-<name>`: a pyfunc that
  takes the table's own columns (the encoder travels with it) and returns p and the raw score;
- the fitted model (encoder and RiskModel, pickled) under `<models>/tables/<name>/`.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import AnyType, ColSpec, Schema

from feijian.errors import InputError
from feijian.jsonsafe import jsonable
from feijian.tabular import write_csv
from training import registry
from training.table import TableResult, format_table_result, train_table

EXPERIMENT = "feijian-table"


def table_name(path: Path) -> str:
    """The run's name from the file's: its words (any script) joined by hyphens, e.g. `医保-数据`."""
    return re.sub(r"[\W_]+", "-", Path(path).stem.lower()).strip("-") or "table"


class TableModel(mlflow.pyfunc.PythonModel):
    """pyfunc: rows with the table's feature columns in, `p` (calibrated) and `raw_score` out."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["model"], "rb") as fh:
            self.fitted = pickle.load(fh)  # our own model file, logged with the run

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        encoder, model = self.fitted["encoder"], self.fitted["model"]
        missing = [c for c in model.feature_names_in_ if c not in model_input.columns]
        if missing:  # an absent column is not a row of missing values
            raise InputError(f"rows lack feature column(s) {', '.join(missing[:8])}")
        X = encoder.transform(model_input)[model.feature_names_in_]
        return pd.DataFrame({"p": model.predict_proba(X), "raw_score": model.raw_score(X)})


def signature(result: TableResult) -> ModelSignature:
    """What the logged model takes and gives: the feature columns it uses, each required, categories as
    text, numbers of any numeric type (MLflow refuses int64 for a double: an integer column with a
    missing value arrives as float); the encoder reads each value. No real row is logged as an example."""
    assert result.encoder is not None
    kinds = result.encoder.kinds
    inputs = Schema([ColSpec("string" if kinds[f] == "cat" else AnyType(), f) for f in result.features])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", "p"), ColSpec("double", "raw_score")]))


def importance(result: TableResult) -> pd.DataFrame:
    assert result.model is not None
    booster = result.model.booster_
    return pd.DataFrame({
        "feature": booster.feature_name(),
        "gain": booster.feature_importance("gain"),
        "splits": booster.feature_importance("split"),
        "categorical": [f in result.categorical for f in booster.feature_name()],
    }).sort_values(["gain", "feature"], ascending=[False, True], kind="mergesort")


def keep_files(result: TableResult, out: Path) -> dict[str, Path]:
    """The run's files under `out` (the workspace's tables/<name>/)."""
    assert result.held_out is not None
    out.mkdir(parents=True, exist_ok=True)
    files = {"heldout_scores": out / "heldout_scores.csv", "importance": out / "importance.csv",
             "reliability": out / "reliability.csv", "result": out / "result.json"}
    write_csv(result.held_out, files["heldout_scores"])  # formula-safe: a table's ids open in Excel too
    write_csv(importance(result), files["importance"])
    write_csv(pd.DataFrame(result.reliability), files["reliability"])
    files["result"].write_text(json.dumps(jsonable(result.to_dict()), indent=2, ensure_ascii=False), encoding="utf-8")
    return files


def log_run(result: TableResult, name: str, mlruns: Path, files: dict[str, Path], model_file: Path,
            table: Path, id_col: str, label_col: str, time_col: str | None, positive: str | None) -> tuple[str, str]:
    """(run id, registered version): the run logged to MLflow and its model registered."""
    registry.setup(mlruns, EXPERIMENT)
    with mlflow.start_run(run_name=name) as run:
        mlflow.set_tags({"code_version": registry.code_version(), "table": str(table)})
        mlflow.log_params({"table": table.name, "id": id_col, "label": label_col, "time": time_col or "",
                           "positive": positive or "", "seed": result.seed, "trials": result.trials,
                           "split": result.split, "cv": result.cv, "n_train": result.n_train,
                           "n_test": result.n_test, "features": len(result.features),
                           "categorical": ",".join(result.categorical)[:500],
                           "lgbm_params": json.dumps(result.params, sort_keys=True)})
        for f in result.cv_folds:
            mlflow.log_metrics({"cv_auc": f["auc"], "cv_ap": f["ap"]}, step=int(f["fold"]))
        mlflow.log_metrics({"cv_auc_mean": result.cv_auc_mean, "cv_ap_mean": result.cv_ap_mean,
                            "test_auc": result.test_auc, "test_ap": result.test_ap,
                            "precision_at_k": result.precision_at_k, "brier": result.brier,
                            "baseline_test_auc": result.baseline_auc, "baseline_test_ap": result.baseline_ap})
        for path in files.values():
            mlflow.log_artifact(str(path), artifact_path="table")
        info = mlflow.pyfunc.log_model(
            name="model", python_model=TableModel(), artifacts={"model": str(model_file)},
            signature=signature(result), registered_model_name=f"feijian-table-{name}",
            pip_requirements=[f"{p}=={v}" for p, v in registry.package_versions().items()
                              if p not in ("python", "feijian")],
        )  # fmt: skip
        return run.info.run_id, str(info.registered_model_version)


def run_train_table(file: Path, id_col: str, label_col: str, time_col: str | None, console: Any, *,
                    workspace: Path, mlruns: Path, models: Path, seed: int = 0, trials: int = 0,
                    timeout: float | None = None, positive: str | None = None) -> TableResult:
    """CLI entry: train on a prepared table, keep its files, log and register it, print the summary."""
    name = table_name(file)
    result = train_table(file, id_col, label_col, time_col, seed=seed, positive=positive, trials=trials,
                         timeout=timeout, note=lambda _m: None)  # notes come in the summary
    files = keep_files(result, Path(workspace) / "tables" / name)
    model_dir = Path(models) / "tables" / name
    model_dir.mkdir(parents=True, exist_ok=True)
    model_file = model_dir / "model.pkl"
    with model_file.open("wb") as fh:
        pickle.dump({"encoder": result.encoder, "model": result.model}, fh, protocol=5)
    run_id, version = log_run(result, name, Path(mlruns), files, model_file, Path(file), id_col, label_col,
                              time_col, positive)
    console.print(format_table_result(result), markup=False, highlight=False)
    console.print(f"Kept: {files['result'].parent}/ (held-out scores, importance, reliability) · model "
                  f"{model_file} · MLflow run {run_id}, registered feijian-table-{name} v{version}",
                  markup=False, highlight=False)
    return result
