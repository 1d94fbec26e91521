"""The point-in-time window over a workspace, and measuring rules against truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from rich.console import Console

from features.rules.base import evaluate_rules, load_rules
from features.rules.cli import list_rules, measure_rules
from features.snapshot.engine import open_window
from feijian.errors import InputError, NotReadyError
from simulator.codes import PATTERNS
from tests.rule_cases import RuleCase, at

TIME_COLUMN = {"mdtrt_d": "begntime", "setl_d": "setl_time", "fee_list_d": "fee_ocur_time"}


def write_workspace(case: RuleCase, root: Path) -> Path:
    """The ingest layout: raw/<table>/month=YYYY-MM/*.parquet for events, raw/<table>/part-0.parquet else."""
    con = case.connect()
    for table in ("fixmedins", "dr_info", "catalog", "mdtrt_d", "setl_d", "fee_list_d"):
        out = root / "raw" / table
        out.mkdir(parents=True)
        if table in TIME_COLUMN:
            con.execute(f"COPY (SELECT *, strftime({TIME_COLUMN[table]}, '%Y-%m') AS month FROM {table}) "
                        f"TO '{out}' (FORMAT parquet, PARTITION_BY (month), OVERWRITE_OR_IGNORE)")
        else:
            con.execute(f"COPY {table} TO '{out / 'part-0.parquet'}' (FORMAT parquet)")
    return root


def _province(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    c = RuleCase()
    ids = {}
    c.visit("V1", gend="2", begin=at(0))
    ids["psa_woman"] = c.line("V1", "PSA")
    c.visit("V2", gend="1", psn="P2", begin=at(10))
    ids["gyn_man"] = c.line("V2", "GYN")  # a violation the truth did not record
    c.visit("V3", gend="2", psn="P3", begin=at(60))  # after as_of: must not be read
    ids["late"] = c.line("V3", "PSA")
    c.visit("V4", psn="P4", begin=at(5))
    ids["over_cap"] = c.line("V4", "CT", pric=150.0)
    ws = write_workspace(c, tmp_path / "ws")
    truth = tmp_path / "truth"
    truth.mkdir()
    duckdb.sql(f"""COPY (SELECT * FROM (VALUES
        ('{ids['psa_woman']}', 'V1', 'F3', 'sex_restricted', 80.0),
        ('{ids['late']}', 'V3', 'F3', 'sex_restricted', 80.0),
        ('{ids['over_cap']}', 'V4', 'F3', 'over_price', 50.0)
        ) AS t(feedetl_sn, mdtrt_id, fixmedins_code, pattern, amount))
        TO '{truth / 'fraud_lines.parquet'}' (FORMAT parquet)""")
    return ws, ids


def test_window_reads_nothing_on_or_after_as_of(tmp_path: Path) -> None:
    ws, ids = _province(tmp_path)
    con = open_window(ws, "2024-04-01", 6)
    assert con.execute("SELECT MAX(fee_ocur_time) FROM fee_list_d").fetchone()[0] < dt.datetime(2024, 4, 1)
    assert con.execute("SELECT COUNT(*) FROM mdtrt_d WHERE mdtrt_id = 'V3'").fetchone()[0] == 0
    assert "month" not in con.sql("SELECT * FROM fee_list_d").columns
    hits = {r["feedetl_sn"] for r in evaluate_rules(con, load_rules()).to_pylist()}
    assert ids["psa_woman"] in hits and ids["late"] not in hits
    # the default as_of is the day after the last fee line: then the late line is in
    con = open_window(ws, None, 6)
    assert ids["late"] in {r["feedetl_sn"] for r in evaluate_rules(con, load_rules()).to_pylist()}


def test_window_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NotReadyError, match="feijian ingest"):
        open_window(tmp_path, "2024-04-01", 6)
    ws, _ = _province(tmp_path)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        open_window(ws, "April", 6)


def test_measure_reports_precision_and_recall(tmp_path: Path) -> None:
    ws, _ = _province(tmp_path)
    console = Console(record=True, width=160)
    df = measure_rules(ws, tmp_path / "truth", "2024-04-01", 6, console, patterns=PATTERNS).set_index("rule_id")
    xb = df.loc["R-XB-01"]
    assert (xb.hits, xb.true_hits, xb.target_units, xb.found) == (2, 1, 1, 1)  # V3 is outside the window
    assert xb.precision == pytest.approx(0.5) and xb.recall == pytest.approx(1.0)
    jg = df.loc["R-JG-01"]
    assert (jg.hits, jg.precision, jg.recall) == (1, 1.0, 1.0)
    assert jg.hit_amount == pytest.approx(50.0)
    assert df.loc["R-ZY-01"].hits == 0 and pd.isna(df.loc["R-ZY-01"].precision)
    assert "精确率" in console.export_text()


def test_list_rules_prints_every_rule() -> None:
    console = Console(record=True, width=200)
    list_rules(console)
    text = console.export_text()
    assert all(r.id in text for r in load_rules())


def test_measure_accepts_pattern_ids(tmp_path: Path) -> None:
    from simulator.codes import PATTERN_ID

    ws, ids = _province(tmp_path)
    truth = tmp_path / "truth_ids"
    truth.mkdir()
    duckdb.sql(f"""COPY (SELECT '{ids['psa_woman']}' AS feedetl_sn, 'V1' AS mdtrt_id, 'F3' AS fixmedins_code,
        CAST({PATTERN_ID['sex_restricted']} AS BIGINT) AS pattern, 80.0 AS amount)
        TO '{truth / 'fraud_lines.parquet'}' (FORMAT parquet)""")
    df = measure_rules(ws, truth, "2024-04-01", 6, Console(record=True), patterns=PATTERNS).set_index("rule_id")
    assert df.loc["R-XB-01"].recall == pytest.approx(1.0)
