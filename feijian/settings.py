"""Paths, URIs and environment names in one place. Nothing here runs on import."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_WORKSPACE = "FEIJIAN_WORKSPACE"
# Secret for the keyed pseudonym of psn_no / certno: read by name, never stored in the repository.
ENV_PSEUDONYM_KEY = "FEIJIAN_PSEUDONYM_KEY"
ENV_PSEUDONYM_KEY_FILE = "FEIJIAN_PSEUDONYM_KEY_FILE"

DEFAULT_WORKSPACE = Path("workspace")
MLFLOW_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
ENV_MLRUNS = "FEIJIAN_MLRUNS"
ENV_MODELS = "FEIJIAN_MODELS"
DEFAULT_MLRUNS = Path("mlruns")
DEFAULT_MODELS = Path("models")


def workspace_dir(cli_value: str | Path | None = None) -> Path:
    """The workspace: the CLI flag, else $FEIJIAN_WORKSPACE, else ./workspace."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get(ENV_WORKSPACE)
    return Path(env) if env else DEFAULT_WORKSPACE


def mlruns_dir(cli_value: str | Path | None = None) -> Path:
    """The MLflow store folder: the flag, else $FEIJIAN_MLRUNS, else ./mlruns (sqlite:///mlruns/mlflow.db)."""
    return Path(cli_value) if cli_value else Path(os.environ.get(ENV_MLRUNS) or DEFAULT_MLRUNS)


def models_dir(cli_value: str | Path | None = None) -> Path:
    """Exported bundles: the flag, else $FEIJIAN_MODELS, else ./models."""
    return Path(cli_value) if cli_value else Path(os.environ.get(ENV_MODELS) or DEFAULT_MODELS)


@dataclass(frozen=True)
class Workspace:
    """The on-disk layout every stage agrees on.

    raw/<table>/month=YYYY-MM/part-*.parquet   time-partitioned tables (visits, settlements, fee lines)
    raw/<table>/part-0.parquet                  reference tables (facilities, physicians, catalogue, findings)
    quarantine/<table>.parquet                  rejected rows with file, row, field, value, reason
    manifest.json                               the last ingest: counts, reconciliation, fingerprints
    features/<snapshot_id>/...                  feature snapshots and rule evidence
    reports/                                    evaluation, plans and reports
    """

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def table(self, name: str) -> Path:
        return self.raw / name

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def secrets(self) -> Path:
        """Demo-generated secrets live here, inside the git-ignored workspace, never in the repo."""
        return self.root / ".secrets"
