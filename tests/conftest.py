"""Session fixtures shared by the serving tests (built lazily: only tests that ask pay for them)."""

from __future__ import annotations

import os

import pytest

from serving.explain import Explainer
from tests import serving_setup


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> serving_setup.Setup:
    """A small province, its snapshot and a real exported bundle (see tests/serving_setup.py)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    return serving_setup.build(tmp_path_factory.mktemp("trained"))


@pytest.fixture(scope="session")
def explainer(trained: serving_setup.Setup) -> Explainer:
    return Explainer.build(trained.workspace, trained.bundle)
