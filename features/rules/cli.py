"""What `feijian rules list` and `feijian rules measure` do; the CLI only parses and calls these.

Measuring a rule against the simulator's truth answers the two questions a rule author has:
does it point at real violations (precision), and does it find the violations it was written for
(recall)? A rule that fires on everything shows up as high recall with low precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.rules.base import SEVERITY_ZH, Rule, evaluate_rules, load_rules
from features.rules.changes import effective_rules
from features.rules.kinds import KINDS
from features.snapshot import open_window
from features.sql_text import literal, values
from feijian.errors import InputError


def _params_text(rule: Rule) -> str:
    return ", ".join(f"{k}={'/'.join(v) if isinstance(v, list) else v}" for k, v in rule.params.items()) or "—"


def list_rules(console: Console, rules: list[Rule] | None = None, version: str | None = None) -> None:
    """Print the rule library as a table."""
    rules = load_rules() if rules is None else rules
    table = Table(title=f"规则库（{len(rules)} 条{f'，版本 {version}' if version else ''}）", show_lines=False)
    for col in ("编号", "名称", "类型", "层级", "参数", "目标模式", "严重度", "启用"):
        table.add_column(col, overflow="fold")
    for r in rules:
        table.add_row(r.id, r.name_zh, f"{r.kind}\n{KINDS[r.kind].label}", KINDS[r.kind].hit_level,
                      _params_text(r), ", ".join(r.targets), SEVERITY_ZH[r.severity], "是" if r.enabled else "否")
    console.print(table)


def _load_truth(con: duckdb.DuckDBPyConnection, truth: Path, patterns: Sequence[str]) -> None:
    """Truth restricted to the window: only fraud the evaluated views can contain counts."""
    if not truth.is_dir():
        raise InputError(f"truth folder {truth} does not exist; pass the simulator's DIR/truth")
    lines, visits = truth / "fraud_lines.parquet", truth / "fraud_visits.parquet"
    if not lines.exists() and not visits.exists():
        raise InputError(f"{truth} has neither fraud_lines.parquet nor fraud_visits.parquet")

    def src(p: Path, cols: str) -> str:
        if not p.exists():
            return f"SELECT {', '.join(f'CAST(NULL AS VARCHAR) AS {c.strip()}' for c in cols.split(','))} WHERE FALSE"
        rel = f"read_parquet({literal(p)})"
        ptype = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {rel})").fetchall())
        if ptype.get("pattern", "VARCHAR") == "VARCHAR":
            return f"SELECT {cols} FROM {rel}"
        # Pattern ids rather than names: the simulator's own list (`patterns`) names them.
        if not patterns:
            raise InputError(f"{p.name} stores pattern ids; pass the simulator's pattern names to read them")
        others = ", ".join(f"t.{c.strip()}" for c in cols.split(",") if c.strip() != "pattern")
        return (f"SELECT {others}, n.name AS pattern FROM {rel} AS t "
                f"INNER JOIN ({values(enumerate(patterns))}) AS n(id, name) ON CAST(t.pattern AS BIGINT) = n.id")

    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE truth_lines AS
        SELECT DISTINCT t.feedetl_sn, t.mdtrt_id, t.pattern
        FROM ({src(lines, "feedetl_sn, mdtrt_id, pattern")}) AS t
        WHERE t.feedetl_sn IN (SELECT feedetl_sn FROM fee_list_d)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE truth_visits AS
        SELECT DISTINCT t.mdtrt_id, t.pattern
        FROM ({src(visits, "mdtrt_id, pattern")}) AS t
        WHERE t.mdtrt_id IN (SELECT mdtrt_id FROM mdtrt_d)""")


def _measure_one(con: duckdb.DuckDBPyConnection, rule: Rule) -> dict[str, object]:
    rid = {"rid": rule.id}
    targets = {"targets": rule.targets}
    hits, amount, true_hits = con.execute("""
        SELECT COUNT(*), COALESCE(SUM(amount_at_risk), 0),
            COUNT(*) FILTER (WHERE CASE WHEN hit_level = 'fee_line'
                THEN feedetl_sn IN (SELECT feedetl_sn FROM truth_lines)
                    OR mdtrt_id IN (SELECT mdtrt_id FROM truth_visits)
                ELSE mdtrt_id IN (SELECT mdtrt_id FROM truth_visits)
                    OR mdtrt_id IN (SELECT mdtrt_id FROM truth_lines) END)
        FROM evidence WHERE rule_id = $rid""", rid).fetchone()  # type: ignore[misc]
    target_lines = "SELECT DISTINCT feedetl_sn FROM truth_lines WHERE pattern IN $targets"
    target_visits = "SELECT DISTINCT mdtrt_id FROM truth_visits WHERE pattern IN $targets"
    n_lines = con.execute(f"SELECT COUNT(*) FROM ({target_lines})", targets).fetchone()[0]  # type: ignore[index]
    n_visits = con.execute(f"SELECT COUNT(*) FROM ({target_visits})", targets).fetchone()[0]  # type: ignore[index]
    if KINDS[rule.kind].hit_level == "fee_line" and n_lines:
        units, found = con.execute(f"""
            SELECT COUNT(*), COUNT(*) FILTER (
                WHERE feedetl_sn IN (SELECT feedetl_sn FROM evidence WHERE rule_id = $rid))
            FROM ({target_lines})""", rid | targets).fetchone()  # type: ignore[misc]
    else:
        # Visits the truth marks with a target pattern; else the visits of the target fee lines.
        visits = target_visits if n_visits else "SELECT DISTINCT mdtrt_id FROM truth_lines WHERE pattern IN $targets"
        units, found = con.execute(f"""
            SELECT COUNT(*), COUNT(*) FILTER (
                WHERE mdtrt_id IN (SELECT mdtrt_id FROM evidence WHERE rule_id = $rid))
            FROM ({visits})""", rid | targets).fetchone()  # type: ignore[misc]
    return {
        "rule_id": rule.id,
        "name_zh": rule.name_zh,
        "kind": rule.kind,
        "targets": ",".join(rule.targets),
        "hits": int(hits),
        "hit_amount": float(amount),
        "true_hits": int(true_hits),
        "precision": true_hits / hits if hits else None,
        "target_units": int(units),
        "found": int(found),
        "recall": found / units if units else None,
    }


def measure_rules(
    workspace: Path,
    truth: Path,
    as_of: str | None,
    window_months: int,
    console: Console,
    rules: list[Rule] | None = None,
    patterns: Sequence[str] = (),
) -> pd.DataFrame:
    """Evaluate the rules on the workspace window and score each against the simulator's truth.

    `patterns` names the pattern ids of a truth folder that stores ids (simulator.codes.PATTERNS: the
    command passes it, so the rule base does not import the simulator)."""
    rules = effective_rules(workspace) if rules is None else rules
    con = open_window(workspace, as_of, window_months)
    with console.status("评估规则…"):
        evaluate_rules(con, rules)
    _load_truth(con, truth, patterns)
    result = pd.DataFrame([_measure_one(con, r) for r in rules if r.enabled])
    start, end = con.execute("SELECT window_start, as_of FROM window_bounds").fetchone()  # type: ignore[misc]
    _print(console, result, f"规则效果（{start} 至 {end}，不含截止日）")
    return result


def _pct(x: object) -> str:
    return "—" if x is None or x != x else f"{100 * float(x):.1f}%"  # type: ignore[arg-type]


def _print(console: Console, df: pd.DataFrame, title: str) -> None:
    table = Table(title=title)
    for col, justify in (("编号", "left"), ("名称", "left"), ("命中", "right"), ("命中金额（元）", "right"),
                         ("精确率", "right"), ("召回率", "right"), ("目标模式", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in df.itertuples():
        table.add_row(row.rule_id, row.name_zh, f"{row.hits:,}", f"{row.hit_amount:,.2f}", _pct(row.precision),
                      f"{_pct(row.recall)} ({row.found}/{row.target_units})", row.targets)
    console.print(table)
