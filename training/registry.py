"""MLflow: one run per training, the model registered, the alias `champion` moved only when better.

Tracking store `sqlite:///<mlruns>/mlflow.db`, artifacts under `<mlruns>/artifacts` (MLflow 3.13+
refuses a plain folder as the tracking store). The logged model is a pyfunc around the exported bundle,
so what MLflow serves and what `models/` holds are the same files.

Promotion compares procedures, not stale numbers: the champion's parameters are re-run on the
same backtest as the candidate (same rounds, same labels, same folds), and the alias moves only if
the candidate's objective is strictly higher. Both figures are logged on the candidate's run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

MODEL_NAME = "feijian-facility"
EXPERIMENT = "feijian-training"
EVAL_EXPERIMENT = "feijian-evaluation"
ALIAS = "champion"
PACKAGES = ("feijian", "lightgbm", "pandas", "numpy", "scikit-learn", "optuna", "mlflow", "duckdb", "shap")


def tracking_uri(mlruns: Path) -> str:
    return f"sqlite:///{Path(mlruns).resolve() / 'mlflow.db'}"


def setup(mlruns: Path, experiment: str = EXPERIMENT) -> MlflowClient:
    """Point MLflow at the project's store and make sure the experiment exists with local artifacts."""
    mlruns = Path(mlruns)
    mlruns.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri(mlruns))
    mlflow.set_registry_uri(tracking_uri(mlruns))
    client = MlflowClient()
    if client.get_experiment_by_name(experiment) is None:
        client.create_experiment(experiment, artifact_location=(mlruns.resolve() / "artifacts").as_uri())
    mlflow.set_experiment(experiment)
    return client


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def code_version() -> str:
    """The git commit of the code (with '+dirty' when it has uncommitted changes), else the package version."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return f"feijian {package_versions()['feijian']}"


class BundleModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: feature rows in, p_serious / amount_if_serious / expected_recovery out."""

    def load_context(self, context: Any) -> None:
        from training.bundle import Bundle

        self.bundle = Bundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return self.bundle.predict_frame(model_input)


def champion_version(client: MlflowClient, name: str = MODEL_NAME) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def champion_params(client: MlflowClient, name: str = MODEL_NAME) -> tuple[str, dict[str, Any], str] | None:
    """(version, LightGBM params, weighting) the champion was trained with, or None when there is none."""
    mv = champion_version(client, name)
    if mv is None:
        return None
    run = client.get_run(mv.run_id)
    params = json.loads(run.data.params.get("lgbm_params", "{}"))
    return str(mv.version), params, run.data.params.get("weighting", "none")


def champion_fingerprint(client: MlflowClient, name: str = MODEL_NAME) -> str | None:
    """The data fingerprint (run tag) of the findings and inputs the champion was fitted on."""
    mv = champion_version(client, name)
    return None if mv is None else client.get_run(mv.run_id).data.tags.get("data_fingerprint")


def reserve_version(name: str = MODEL_NAME) -> tuple[str, str]:
    """(logged model id, version): the active run's model, registered before its files exist.

    The bundle carries its registry version (its folder v<version>, its meta.json, the report title),
    so the version has to be MLflow's answer before the bundle is written: an empty logged model is
    registered, and `log_model` then logs the bundle into it.
    """
    model = mlflow.initialize_logged_model(name="model")
    return model.model_id, str(mlflow.register_model(f"models:/{model.model_id}", name).version)


def discard_version(client: MlflowClient, model_id: str, version: str, name: str = MODEL_NAME) -> None:
    """Undo `reserve_version` when no bundle was logged: delete the version, mark the logged model failed."""
    client.delete_model_version(name, version)
    mlflow.finalize_logged_model(model_id, "FAILED")


def log_model(bundle_dir: Path, example: pd.DataFrame, output: pd.DataFrame, model_id: str) -> None:
    """Log the bundle as a pyfunc into the reserved logged model `model_id` (its version exists already)."""
    run = mlflow.active_run()
    if run is not None:  # the run's parameters on the model, as log_model gives a model it creates itself
        mlflow.log_model_params(MlflowClient().get_run(run.info.run_id).data.params, model_id=model_id)
    mlflow.pyfunc.log_model(
        name="model",
        python_model=BundleModel(),
        artifacts={"bundle": str(bundle_dir)},
        signature=infer_signature(example, output),
        input_example=example.head(3),
        pip_requirements=[f"{p}=={v}" for p, v in package_versions().items() if p not in ("python", "feijian")],
        model_id=model_id,
    )


def promote(client: MlflowClient, version: str, name: str = MODEL_NAME) -> None:
    client.set_registered_model_alias(name, ALIAS, version)
