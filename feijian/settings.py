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
# Where the service writes (audit log, its key, the default SQLite database): the workspace unless set.
# A Bento carries read-only data, so serving one needs this set to a writable folder outside it.
ENV_STATE_DIR = "FEIJIAN_STATE_DIR"
BENTO_DATA = "bento"  # the staged workspace and models inside a Bento's src/ (serving.bento)


def bento_data() -> Path | None:
    """The staged data when serving a Bento: BentoML runs the service in the Bento's src/ folder, which
    holds bento/ and sits beside the Bento's bento.yaml (whichever copy of this code is imported)."""
    src = Path.cwd()
    return src / BENTO_DATA if (src.parent / "bento.yaml").is_file() and (src / BENTO_DATA).is_dir() else None
DEFAULT_MODELS = Path("models")


def workspace_dir(cli_value: str | Path | None = None) -> Path:
    """The workspace: the CLI flag, else $FEIJIAN_WORKSPACE, else ./workspace."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get(ENV_WORKSPACE)
    if env:
        return Path(env)
    bento = bento_data()
    return bento / "workspace" if bento else DEFAULT_WORKSPACE


def mlruns_dir(cli_value: str | Path | None = None) -> Path:
    """The MLflow store folder: the flag, else $FEIJIAN_MLRUNS, else ./mlruns (sqlite:///mlruns/mlflow.db)."""
    return Path(cli_value) if cli_value else Path(os.environ.get(ENV_MLRUNS) or DEFAULT_MLRUNS)


def models_dir(cli_value: str | Path | None = None) -> Path:
    """Exported bundles: the flag, else $FEIJIAN_MODELS, else a Bento's own, else ./models."""
    if cli_value or os.environ.get(ENV_MODELS):
        return Path(cli_value or os.environ[ENV_MODELS])
    bento = bento_data()
    return bento / "models" if bento else DEFAULT_MODELS


def state_dir(workspace: str | Path) -> Path:
    """Where the service writes: $FEIJIAN_STATE_DIR, else the workspace (never a Bento's own files)."""
    from feijian.errors import ConfigError

    env = os.environ.get(ENV_STATE_DIR)
    if env:
        return Path(env)
    if bento_data() is not None:
        raise ConfigError(
            f"a Bento carries read-only data: set ${ENV_STATE_DIR} to a writable folder for the audit log, its key "
            "and the default SQLite database (or $FEIJIAN_DB_URL for PostgreSQL)"
        )
    return Path(workspace)


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
