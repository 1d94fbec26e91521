"""Paths, URIs and environment names in one place: every `FEIJIAN_*` variable, its default, and the
workspace layout. Nothing here reads the environment on import; each value is read by a function, when
the command or the service asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_WORKSPACE = "FEIJIAN_WORKSPACE"
# Secret for the keyed pseudonym of psn_no / certno: read by name, never stored in the repository.
ENV_PSEUDONYM_KEY = "FEIJIAN_PSEUDONYM_KEY"
ENV_PSEUDONYM_KEY_FILE = "FEIJIAN_PSEUDONYM_KEY_FILE"

DEFAULT_WORKSPACE = Path("workspace")
ENV_MLRUNS = "FEIJIAN_MLRUNS"
ENV_MODELS = "FEIJIAN_MODELS"
DEFAULT_MLRUNS = Path("mlruns")
# Where the service writes (audit log, its key, the default SQLite database): the workspace unless set.
# A Bento carries read-only data, so serving one needs this set to a writable folder outside it.
ENV_STATE_DIR = "FEIJIAN_STATE_DIR"
BENTO_DATA = "bento"  # the staged workspace and models inside a Bento's src/ (serving.bento)
# The service's database: a SQLAlchemy URL; unset, SQLite in the state folder (`db_url`).
ENV_DB_URL = "FEIJIAN_DB_URL"
# One bundle folder to serve instead of models/champion.json's.
ENV_BUNDLE = "FEIJIAN_BUNDLE"
# Set to 1 to let `feijian serve` bind an address other than loopback.
ENV_ALLOW_PUBLIC = "FEIJIAN_ALLOW_PUBLIC"
# BentoML worker processes, and whether to keep its request spans (see `service_options`).
ENV_WORKERS = "FEIJIAN_WORKERS"
DEFAULT_WORKERS = 2
ENV_TRACING = "FEIJIAN_TRACING"
# Set to 0 to serve with BentoML's HTTP stack as released, without serving.bentoml_fixes (to measure them).
ENV_BENTOML_FIXES = "FEIJIAN_BENTOML_FIXES"
# The Spark engine (`feijian features --engine spark`).
ENV_SPARK_MASTER = "FEIJIAN_SPARK_MASTER"
DEFAULT_SPARK_MASTER = "local[*]"
ENV_SPARK_SHUFFLE_PARTITIONS = "FEIJIAN_SPARK_SHUFFLE_PARTITIONS"
ENV_SPARK_DRIVER_MEMORY = "FEIJIAN_SPARK_DRIVER_MEMORY"
DEFAULT_SPARK_DRIVER_MEMORY = "4g"
ENV_SPARK_TRACE = "FEIJIAN_SPARK_TRACE"  # set to print each Spark statement's seconds to stderr


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


def db_url_env() -> str | None:
    """$FEIJIAN_DB_URL, or None (then records.db uses SQLite in the state folder)."""
    return os.environ.get(ENV_DB_URL) or None


def bundle_override() -> Path | None:
    """$FEIJIAN_BUNDLE: one bundle folder to serve instead of the champion."""
    env = os.environ.get(ENV_BUNDLE)
    return Path(env) if env else None


def allow_public() -> bool:
    return bool(os.environ.get(ENV_ALLOW_PUBLIC))


@dataclass(frozen=True)
class ServiceOptions:
    workers: int
    tracing: bool


def service_options() -> ServiceOptions:
    """$FEIJIAN_WORKERS (default 2) and $FEIJIAN_TRACING=1. BentoML takes both as arguments of the
    `@bentoml.service` decorator, so serving/service.py calls this once, when its class is defined."""
    return ServiceOptions(
        workers=int(os.environ.get(ENV_WORKERS) or DEFAULT_WORKERS), tracing=os.environ.get(ENV_TRACING) == "1"
    )


def bentoml_fixes_enabled() -> bool:
    """$FEIJIAN_BENTOML_FIXES: serving.bentoml_fixes is applied at service start unless it is 0."""
    return os.environ.get(ENV_BENTOML_FIXES, "1").strip() != "0"


def spark_master(cli_value: str | None = None) -> str:
    """The master URL: the CLI flag, else $FEIJIAN_SPARK_MASTER, else local[*]."""
    return cli_value or os.environ.get(ENV_SPARK_MASTER) or DEFAULT_SPARK_MASTER


def spark_shuffle_partitions_env() -> int | None:
    env = os.environ.get(ENV_SPARK_SHUFFLE_PARTITIONS)
    return int(env) if env else None


def spark_driver_memory() -> str:
    return os.environ.get(ENV_SPARK_DRIVER_MEMORY, DEFAULT_SPARK_DRIVER_MEMORY)


def spark_trace() -> bool:
    return bool(os.environ.get(ENV_SPARK_TRACE))


# The workspace layout every stage agrees on: entry -> (path inside the workspace, what it holds).
# `Workspace` builds these paths; help texts quote them from here (`layout_path`).
LAYOUT: dict[str, tuple[str, str]] = {
    "raw_events": ("raw/<table>/month=YYYY-MM/part-*.parquet", "time-partitioned tables (visits, settlements, "
                   "fee lines)"),
    "raw_reference": ("raw/<table>/part-0.parquet", "reference tables (facilities, physicians, catalogue, findings)"),
    "quarantine": ("quarantine/<run_id>/<table>.parquet", "one ingest run's rejected rows with file, row, field, "
                   "value, reason (and a .csv copy)"),
    "manifest": ("manifest.json", "the last ingest: counts, reconciliation, fingerprints"),
    "features": ("features/<snapshot_id>/", "feature snapshots and rule evidence; features/LATEST names one"),
    "explanations": ("explanations/<snapshot_id>__v<version>/", "scores and SHAP contributions of one snapshot by "
                     "one bundle"),
    "reports": ("reports/", "evaluation, plans and reports"),
    "rule_changes": ("rules/changes.jsonl", "the workspace's rule parameter changes, append-only, each versioned "
                     "(`feijian rules set`)"),
    "database": ("feijian.db", "the service's SQLite database (findings, tokens) by default"),
    "audit": ("audit/audit.log, .secrets/audit.key", "the service's chained audit log and its key (`state_dir`)"),
    "secrets": (".secrets/", "demo-generated secrets (pseudonym key, audit key)"),
    "bentoml_home": (".bentoml/", "BentoML's home for `feijian serve`"),
}


def layout_path(entry: str) -> str:
    """Where an entry of the workspace layout lives, as help texts show it: `quarantine/<run_id>/<table>.parquet`."""
    return LAYOUT[entry][0]


@dataclass(frozen=True)
class Workspace:
    """The on-disk layout every stage agrees on (`LAYOUT` says what each path holds)."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def table(self, name: str) -> Path:
        return self.raw / name

    @property
    def quarantine(self) -> Path:
        """Holds one folder per ingest run: quarantine/<run_id>/."""
        return self.root / "quarantine"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def rule_changes(self) -> Path:
        return self.root / layout_path("rule_changes")

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def explanations(self) -> Path:
        return self.root / "explanations"

    def explanation(self, snapshot_id: str, model_version: str) -> Path:
        return self.explanations / f"{snapshot_id}__v{model_version}"

    @property
    def bentoml_home(self) -> Path:
        return self.root / ".bentoml"

    @property
    def secrets(self) -> Path:
        """Demo-generated secrets live here, inside the git-ignored workspace, never in the repo."""
        return self.root / ".secrets"


def database_file(workspace: str | Path) -> Path:
    """The default SQLite database: feijian.db in the state folder."""
    return state_dir(workspace) / "feijian.db"


def audit_log_path(workspace: str | Path) -> Path:
    return state_dir(workspace) / "audit" / "audit.log"


def audit_key_path(workspace: str | Path) -> Path:
    return state_dir(workspace) / ".secrets" / "audit.key"
