"""Property tests for ingest: exports with random faults (tests/fault_exports.py) lose no row and leak
no identifier. For every table: the rows its readable files hold = read = accepted + quarantined, the
files it could not read are exactly the damaged ones, the workspace holds the accepted rows, and no raw
psn_no or certno the export contained appears in any byte of any file under the workspace."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.ingest.pipeline import ingest
from tests.fault_exports import FAULTS, Export
from tests.test_ingest_data import NOW

KEY = "test-key-0123456789abcdef"


def leaks(root: Path, raw_ids: list[str]) -> list[str]:
    needles = [r.encode() for r in raw_ids]
    out = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            out += [f"{p.relative_to(root)}: {n.decode()}" for n in needles if n in data]
    return out


def test_the_catalogue_of_faults_is_large_enough() -> None:
    assert len(FAULTS) >= 25


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEIJIAN_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("FEIJIAN_PSEUDONYM_KEY_FILE", raising=False)


# 8 fixed examples (~25 s) by default; FEIJIAN_PROPERTY_EXAMPLES=200 explores new ones (random seed)
EXAMPLES = int(os.environ.get("FEIJIAN_PROPERTY_EXAMPLES", "8"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize="FEIJIAN_PROPERTY_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=6, unique=True),
       seed=st.integers(0, 2**31))
def test_random_faults_lose_no_row_and_leak_no_identifier(faults: list[str], seed: int) -> None:
    export = Export.build(seed)
    for name in faults:
        FAULTS[name][1](export)
    with tempfile.TemporaryDirectory() as tmp:
        src, ws = Path(tmp) / "src", Path(tmp) / "ws"
        written = export.write(src)
        rep = ingest(src, ws, max_reject_share=1.0, allow_unreadable_files=True, now=NOW)
        for name, w in written.items():
            t = rep.tables[name]
            assert t.read == t.accepted + t.quarantined, (name, faults)
            assert t.read == w["rows"], (name, faults)
            assert sorted(str(f["file"]) for f in t.files_not_read) == sorted(w["unread_files"]), (name, faults)
            if (ws / "raw" / name).is_dir():
                stored = duckdb.sql(f"SELECT count(*) FROM read_parquet('{ws}/raw/{name}/**/*.parquet')").fetchall()
                assert stored[0][0] == t.accepted, (name, faults)
        assert leaks(ws, export.raw_ids) == [], faults
