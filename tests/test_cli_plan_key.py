"""`feijian key new` and `feijian plan`: the two commands a bureau's first day needs."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feijian.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_key_new_writes_a_private_256_bit_key_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pseudonym.key"
    first = runner.invoke(app, ["key", "new", "--file", str(path)])
    assert first.exit_code == 0, first.output
    key = path.read_text().strip()
    assert len(bytes.fromhex(key)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "FEIJIAN_PSEUDONYM_KEY_FILE" in first.output
    again = runner.invoke(app, ["key", "new", "--file", str(path)])
    assert again.exit_code != 0 and "already holds a key" in again.output
    assert path.read_text().strip() == key


def test_key_new_default_is_the_key_ingest_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from features.ingest.pseudonym import load_key

    for var in ("FEIJIAN_PSEUDONYM_KEY", "FEIJIAN_PSEUDONYM_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    ws = tmp_path / "ws"
    with pytest.raises(Exception, match="feijian key new"):
        load_key(ws)
    assert runner.invoke(app, ["key", "new", "--workspace", str(ws)]).exit_code == 0
    assert len(load_key(ws)) == 64  # hex of 32 bytes


def _plan(trained: object, *args: str) -> tuple[int, str]:
    ws, models = trained.province.workspace, trained.models  # type: ignore[attr-defined]
    result = runner.invoke(app, ["plan", "--workspace", str(ws), "--models", str(models), *args])
    return result.exit_code, result.stdout


def test_plan_json_matches_the_api_planner_and_csv_is_one_line_per_target(trained: object) -> None:
    from serving.explain import Explainer
    from serving.plan import plan_round
    from training.bundle import Bundle, champion_path

    code, out = _plan(trained, "--capacity", "6", "--exploration-share", "0", "--format", "json")
    assert code == 0, out
    got = json.loads(out)
    bundle = Bundle.load(champion_path(trained.models))  # type: ignore[attr-defined]
    ex = Explainer.build(trained.province.workspace, bundle)  # type: ignore[attr-defined]
    want = plan_round(ex.scored(), ex.inspections(), ex.as_of, 6, exploration_share=0.0)
    assert [t["fixmedins_code"] for t in got["targets"]] == want.targets["fixmedins_code"].tolist()
    assert got["meta"]["capacity"] == 6 and got["meta"]["exclude_days"] == 180  # the request model's defaults

    code, out = _plan(trained, "--capacity", "6", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 6 and {"rank", "fixmedins_code", "top_reason"} <= set(rows[0])


def test_plan_table_shows_the_round_in_chinese(trained: object) -> None:
    code, out = _plan(trained, "--capacity", "3")
    assert code == 0, out
    assert "检查计划" in out and "预计追回" in out and "主要原因" in out


def test_plan_rejects_bad_values_with_the_flag_named(trained: object) -> None:
    code, _ = _plan(trained, "--capacity", "0")
    assert code != 0
    result = runner.invoke(app, ["plan", "--capacity", "0", "--workspace", os.devnull])
    assert "--capacity" in result.output
    result = runner.invoke(app, ["plan", "--format", "xml", "--workspace", str(trained.province.workspace),  # type: ignore[attr-defined]
                                 "--models", str(trained.models)])  # type: ignore[attr-defined]  # fmt: skip
    assert result.exit_code != 0 and "--format" in result.output


def test_plan_save_keeps_the_round_and_rounds_show_reads_it_back(trained: object, tmp_path: Path) -> None:
    """`feijian plan --save` stores the round it printed (in a database of its own here), audits the
    save, and `feijian rounds list|show` read it back; --supersedes replaces it, never edits it."""
    from feijian.settings import audit_log_path

    db = f"sqlite:///{tmp_path / 'rounds.db'}"
    code, out = _plan(trained, "--capacity", "5", "--exploration-share", "0.4", "--format", "json", "--save",
                      "--note", "第一批", "--db", db)  # fmt: skip
    assert code == 0, out
    got = json.loads(out)
    round_id = got["meta"]["round_id"]
    ws = str(trained.province.workspace)  # type: ignore[attr-defined]
    shown = runner.invoke(app, ["rounds", "show", round_id, "--format", "json", "--workspace", ws, "--db", db])
    assert shown.exit_code == 0, shown.output
    saved = json.loads(shown.stdout)
    assert [p["fixmedins_code"] for p in saved["picks"]] == [t["fixmedins_code"] for t in got["targets"]]
    assert [p["pick"] for p in saved["picks"]] == ["model"] * 3 + ["exploration"] * 2
    assert saved["note"] == "第一批" and saved["status"] == "in_force"
    assert f"round {round_id}" in audit_log_path(trained.province.workspace).read_text(encoding="utf-8")  # type: ignore[attr-defined]

    code, out = _plan(trained, "--capacity", "4", "--save", "--supersedes", round_id, "--db", db)
    assert code == 0 and "已保存为检查批次" in out, out
    listed = runner.invoke(app, ["rounds", "list", "--workspace", ws, "--db", db])
    assert listed.exit_code == 0 and "已被替代" in listed.stdout and "第一批" in listed.stdout, listed.stdout
    code, _ = _plan(trained, "--capacity", "4", "--save", "--supersedes", round_id, "--db", db)
    assert code != 0  # superseded once already
