"""The CLI: help that teaches, exit codes and one-line reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from feijian.cli import app
from tests.builders import Province

runner = CliRunner(env={"COLUMNS": "250"})


def test_help_lists_every_stage() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for verb in ("simulate", "ingest", "features", "rules", "demo"):
        assert verb in result.output


def test_ingest_help_names_the_quarantine_layout_of_settings() -> None:
    from feijian.settings import layout_path

    result = runner.invoke(app, ["ingest", "--help"])
    assert result.exit_code == 0
    assert layout_path("quarantine") == "quarantine/<run_id>/<table>.parquet"
    assert f"workspace/{layout_path('quarantine')}" in result.output


def test_features_list_prints_chinese_labels() -> None:
    result = runner.invoke(app, ["features", "list"])
    assert result.exit_code == 0
    assert "7日内再入院率" in result.output


def test_rules_list_prints_national_names() -> None:
    result = runner.invoke(app, ["rules", "list"])
    assert result.exit_code == 0
    assert "R-XB-01" in result.output and "限性别" in result.output


def test_features_needs_as_of(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "--as-of" in result.output


def test_features_bad_date_names_the_flag(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "--as-of", "2024-13-01", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "--as-of must be a date" in result.output


def test_features_on_empty_workspace_says_run_ingest(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "--as-of", "2024-01-01", "--workspace", str(tmp_path)])
    assert result.exit_code != 0
    assert "feijian ingest" in result.output


def test_features_builds_a_snapshot(tmp_path: Path) -> None:
    p = Province()
    from datetime import datetime

    p.facility("H1")
    p.physician("D1", "H1")
    p.stay("P1", "H1", "D1", datetime(2023, 5, 1), days=3)
    ws = p.write(tmp_path)
    result = runner.invoke(app, ["features", "--as-of", "2024-01-01", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    assert "snapshot" in result.output and (ws / "features" / "LATEST").exists()


def test_train_without_table_says_what_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a developer's ./workspace (after `feijian demo`) must not start a real training
    monkeypatch.delenv("FEIJIAN_WORKSPACE", raising=False)
    result = runner.invoke(app, ["train"])
    # no findings in the workspace yet: NotReadyError (exit 4) naming the table to ingest
    assert result.exit_code == 4, result.output
    assert "inspections" in result.output


def test_train_table_missing_label_column_is_named(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("id,x,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)), encoding="utf-8")
    result = runner.invoke(app, ["train", "--table", str(f), "--id", "id", "--label", "fraud"])
    assert result.exit_code != 0
    assert "fraud" in result.output
