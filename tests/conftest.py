"""Session fixtures, built lazily (only tests that ask pay for them):
- `small_province` / `trained`: a small simulated province, ingested and trained once (training and service tests);
- `bundled` / `explainer`: a hand-built province with planted patterns, its snapshot and a real exported
  bundle (explanation and report tests, see tests/serving_setup.py)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

SMALL_SCALE = "80"  # facilities; inspection capacity scales to 10 per round, 8 rounds
SMALL_SEED = 11


@dataclass
class Province:
    root: Path
    workspace: Path
    truth: Path
    meta: dict


@pytest.fixture(scope="session")
def small_province(tmp_path_factory: pytest.TempPathFactory) -> Province:
    import json

    from features.ingest import ensure_demo_key
    from feijian.demo import ingest_province
    from simulator.cli_support import run_simulate

    root = tmp_path_factory.mktemp("province")
    quiet = Console(file=io.StringIO(), width=120)
    run_simulate(out=root / "province", seed=SMALL_SEED, scale=SMALL_SCALE, console=quiet)
    ws = root / "workspace"
    ensure_demo_key(ws)
    ingest_province(root / "province" / "input", ws, quiet)
    meta = json.loads((root / "province" / "meta.json").read_text(encoding="utf-8"))
    return Province(root, ws, root / "province" / "truth", meta)


@dataclass
class Trained:
    province: Province
    mlruns: Path
    models: Path
    result: object  # training.train.TrainResult


@pytest.fixture(scope="session")
def trained(small_province: Province, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    from training.train import train_workspace

    base = tmp_path_factory.mktemp("trained")
    mlruns, models = base / "mlruns", base / "models"
    result = train_workspace(small_province.workspace, mlruns, models, n_trials=0, seed=0)
    return Trained(small_province, mlruns, models, result)


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A small hand-built province, its snapshot and a real exported bundle (tests/serving_setup.py)."""
    from tests import serving_setup

    os.environ.setdefault("MPLBACKEND", "Agg")
    return serving_setup.build(tmp_path_factory.mktemp("bundled"))


@pytest.fixture(scope="session")
def explainer(bundled: object) -> object:
    from serving.explain import Explainer

    return Explainer.build(bundled.workspace, bundled.bundle)  # type: ignore[attr-defined]


# The service fixtures (a token per role, an in-process client, one live `bentoml serve`), shared by
# every module of the session: defined once there, registered here.
from tests.service_fixtures import client, live, served  # noqa: E402, F401
