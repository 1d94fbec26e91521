"""The common test over the rule library and the kinds: declarations, SQL files, Spark portability."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from features.rules.base import (
    EVIDENCE_COLUMNS,
    create_rule_views,
    kind_sql_text,
    load_rules,
    rule_sql,
    rule_statement,
    rules_version,
)
from features.rules.kinds import KINDS
from features.rules.render import declared_values, template_names
from features.schema import VIOLATION
from feijian.errors import ConfigError
from tests.rule_cases import RuleCase

RULES = load_rules()
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_library_size_and_version() -> None:
    assert rules_version()
    assert len(RULES) >= 15
    assert len({r.kind for r in RULES}) >= 10


def test_ids_unique_and_readable() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"R-[A-Z]{2,4}-\d{2}", i) for i in ids), ids


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_declaration_is_complete(rule) -> None:
    assert CJK.search(rule.name_zh) and CJK.search(rule.reason_template)
    assert "条例" in rule.article or "《" in rule.article
    assert set(rule.params) == set(KINDS[rule.kind].params)
    assert rule.targets and set(rule.targets) <= set(VIOLATION), rule.targets
    assert rule.severity in ("high", "medium", "low")
    assert "骗保" not in rule.reason_template and "欺诈" not in rule.reason_template
    assert "{amount}" in rule.reason_template  # every reason says how much is at stake
    allowed = {*KINDS[rule.kind].fields, "psn", "fixmedins", "mdtrt", "dr", "date", "amount", *rule.params}
    assert set(template_names(rule.reason_template)) <= allowed


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_sql_with_header_and_declared_placeholders(kind: str) -> None:
    sql = kind_sql_text(kind)
    header = sql.split("WITH", 1)[0]
    assert f"Rule kind: {kind}" in header and "Grain:" in header and "Parameters:" in header
    body = sql.split("WITH", 1)[1]
    named = set(re.findall(r"\$\{?(\w+)", body))  # $value parameters and ${predicate} slots
    assert named - set(declared_values()) == set(KINDS[kind].params)
    assert "QUALIFY" not in sql.upper() and "::" not in sql
    # the CTEs end with `flagged`, what the shared end of a query reads (features.rules.base.HIT_ENDS)
    assert re.findall(r"^(?:WITH )?(\w+) AS \($", sql, re.M)[-1] == "flagged"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_sql_transpiles_to_spark(rule) -> None:
    spark = sqlglot.transpile(rule_sql(rule), read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
    assert len(spark) == 1 and "SELECT" in spark[0]
    assert rule_sql(rule, dialect="spark") == spark[0]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_sql_output_columns_equal_the_declaration(rule) -> None:
    con = RuleCase().connect()
    create_rule_views(con)
    assert tuple(con.sql(rule_sql(rule)).columns) == EVIDENCE_COLUMNS
    sql, params = rule_statement(rule)
    assert tuple(con.sql(sql, params=params).columns) == EVIDENCE_COLUMNS


def test_every_kind_is_used_by_a_rule() -> None:
    assert {r.kind for r in RULES} == set(KINDS)


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "rules.yaml"
    p.write_text('version: "t"\nrules:\n' + body, encoding="utf-8")
    return p


RULE_TMPL = """  - id: R-T-01
    kind: price_cap
    name_zh: 测试
    params: {params}
    reason_template: "{reason}"
    article: "《条例》"
    targets: [over_price]
    severity: low
"""


def test_bad_parameter_is_refused_with_the_value(tmp_path: Path) -> None:
    p = _write(tmp_path, RULE_TMPL.format(params="{tolerance_ratio: '0; DROP TABLE x'}", reason="{amount}元"))
    with pytest.raises(ConfigError, match="tolerance_ratio"):
        load_rules(p)


def test_missing_parameter_and_unknown_placeholder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs parameters"):
        load_rules(_write(tmp_path, RULE_TMPL.format(params="{}", reason="{amount}元")))
    with pytest.raises(ConfigError, match="placeholder"):
        load_rules(_write(tmp_path, RULE_TMPL.format(params="{tolerance_ratio: 0}", reason="{nope}")))


def test_code_lists_are_bound_quoted_and_validated() -> None:
    rule = next(r for r in RULES if r.kind == "readmission")
    sql, params = rule_statement(rule)
    assert "IN $med_types" in sql and params["med_types"] == ("21",)
    assert "IN ('21')" in rule_sql(rule)
    with pytest.raises(ConfigError, match="med_types"):
        rule_sql(replace(rule, params={**rule.params, "med_types": ["21') OR (1=1"]}))


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (("severity: low", "severity: urgent"), "severity", "'high', 'medium' or 'low' (got 'urgent')"),
        (("kind: price_cap", "kind: price_capp"), "kind", "'price_capp' is not a rule kind; kinds: "),
        (('    article: "《条例》"\n', ""), "article", "is missing"),
        (("severity: low", "severity: low\n    enable: false"), "enable", "is not a known field"),
        (("targets: [over_price]", "targets: over_price"), "targets", "valid tuple (got 'over_price')"),
    ],
)
def test_a_wrong_rule_is_refused_naming_file_rule_and_field(
    tmp_path: Path, change: tuple[str, str], field: str, says: str
) -> None:
    body = RULE_TMPL.format(params="{tolerance_ratio: 0}", reason="{amount}元").replace(*change)
    p = _write(tmp_path, body)
    with pytest.raises(ConfigError) as exc:
        load_rules(p)
    assert f"{p}: rule R-T-01: {field}: " in str(exc.value) and says in str(exc.value)


def test_duplicate_ids_and_a_missing_version_are_refused(tmp_path: Path) -> None:
    rule = RULE_TMPL.format(params="{tolerance_ratio: 0}", reason="{amount}元")
    with pytest.raises(ConfigError, match="rule id R-T-01 appears twice"):
        load_rules(_write(tmp_path, rule + rule))
    p = tmp_path / "no_version.yaml"
    p.write_text("rules:\n" + rule, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{re.escape(str(p))}: version: is missing"):
        load_rules(p)
