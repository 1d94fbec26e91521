"""Rule changes as versioned data (features.rules.changes): checked like the library, appended, applied in
order, named in the version a snapshot records, and run by the next build."""

from __future__ import annotations

import getpass
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.rules import load_rules, rules_version
from features.rules.changes import (
    changes_path,
    effective_rules,
    effective_version,
    parse_assignments,
    read_changes,
    record_change,
    summary_zh,
)
from feijian.cli import app
from feijian.errors import InputError

BASE = rules_version()


def test_a_change_is_checked_like_the_library_and_nothing_is_written_when_refused(tmp_path: Path) -> None:
    for rule_id, params, enabled, reason, match in (
        ("R-NOPE", {"tolerance": 1}, None, "x", "unknown rule"),
        ("R-SL-01", {"tolerance_days": 1}, None, "x", "has no parameter tolerance_days"),
        ("R-SL-01", {"tolerance": "many"}, None, "x", "R-SL-01"),
        ("R-SL-01", {"tolerance": 1}, None, "  ", "reason"),
        ("R-SL-01", {}, None, "x", "nothing to change"),
    ):
        with pytest.raises(InputError, match=match):
            record_change(tmp_path, rule_id, params, enabled, reason, "analyst")
    assert read_changes(tmp_path) == [] and effective_version(tmp_path) == BASE
    assert not changes_path(tmp_path).exists() or changes_path(tmp_path).read_text() == ""


def test_changes_are_appended_versioned_and_applied_in_order(tmp_path: Path) -> None:
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    first = record_change(tmp_path, "R-SL-01", parse_assignments(["tolerance=2"]), None, "属实比例 17%，放宽容差",
                          "王分析", now=at)  # fmt: skip
    second = record_change(tmp_path, "R-SL-01", {"tolerance": 3}, False, "仍多为不属实，停用", "王分析", now=at)
    assert (first["seq"], first["version"], first["before"], first["params"]) == (1, f"{BASE}+ws.1", {"tolerance": 0},
                                                                                  {"tolerance": 2})
    assert second["before"] == {"tolerance": 2} and second["version"] == f"{BASE}+ws.2"  # from the changed rule
    assert summary_zh(second) == "tolerance：2 → 3；停用"
    lines = changes_path(tmp_path).read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2]  # one JSON line each, in order
    rules = {r.id: r for r in effective_rules(tmp_path)}
    assert rules["R-SL-01"].params == {"tolerance": 3} and not rules["R-SL-01"].enabled
    library = {r.id: r for r in load_rules()}
    assert library["R-SL-01"].params == {"tolerance": 0} and library["R-SL-01"].enabled  # the library is unchanged
    assert all(rules[k] == library[k] for k in library if k != "R-SL-01")
    assert effective_version(tmp_path) == f"{BASE}+ws.2" and effective_version(None) == BASE


def test_the_commands_set_list_and_show_the_history(tmp_path: Path) -> None:
    run = CliRunner()
    ws = str(tmp_path)
    done = run.invoke(app, ["rules", "set", "R-JG-01", "tolerance_ratio=0.1", "--reason", "核查多为不属实",
                            "--by", "李分析", "--workspace", ws])
    assert done.exit_code == 0, done.output
    assert f"{BASE}+ws.1" in done.output and "0.0 → 0.1" in done.output
    bad = run.invoke(app, ["rules", "set", "R-JG-01", "tolerance_ratio", "--reason", "x", "--workspace", ws])
    assert bad.exit_code != 0 and "name=value" in bad.output
    off = run.invoke(app, ["rules", "set", "R-JG-01", "--disable", "--reason", "暂停", "--workspace", ws])
    assert off.exit_code == 0 and "停用" in off.output
    listed = run.invoke(app, ["rules", "list", "--workspace", ws], terminal_width=200)
    assert listed.exit_code == 0 and f"{BASE}+ws.2" in listed.output
    jg = next(r for r in effective_rules(tmp_path) if r.id == "R-JG-01")
    assert jg.params == {"tolerance_ratio": 0.1} and not jg.enabled
    history = run.invoke(app, ["rules", "history", "--workspace", ws], terminal_width=200)
    assert history.exit_code == 0 and f"{BASE}+ws.1" in history.output and "R-JG-01" in history.output
    by = [(c["by"], c["reason"]) for c in read_changes(tmp_path)]
    assert by == [("李分析", "核查多为不属实"), (getpass.getuser(), "暂停")]  # --by defaults to the user


@pytest.mark.slow
def test_the_next_build_runs_the_changed_rule_base_and_names_its_version(small_province, tmp_path: Path) -> None:
    from features.snapshot import build_snapshot

    ws = tmp_path / "ws"
    shutil.copytree(small_province.workspace, ws, ignore=shutil.ignore_patterns("features", "explanations"))
    as_of = date.fromisoformat(small_province.meta["next_round_date"])
    before = build_snapshot(ws, as_of)
    hits = pd.read_parquet(before.path / "evidence.parquet")["rule_id"].value_counts()
    busiest = str(hits.index[0])
    record_change(ws, busiest, {}, False, "测试：停用命中最多的规则", "测试")
    after = build_snapshot(ws, as_of)
    meta = json.loads((after.path / "meta.json").read_text(encoding="utf-8"))
    assert after.path != before.path and meta["rules_version"] == f"{BASE}+ws.1"
    ev = pd.read_parquet(after.path / "evidence.parquet")
    assert busiest not in set(ev["rule_id"]) and len(ev) == int(hits.sum() - hits.iloc[0])
