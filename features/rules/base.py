"""The rule base (两库-style): rules as data in `rules.yaml`, evaluated in SQL, with claim-level evidence.

A `Rule` names its kind (the SQL that finds hits), its parameters, the national rule name, the
regulation it rests on and a Chinese sentence template. `evaluate_rules` runs every enabled rule on
a connection holding the point-in-time views (`fee_list_d`, `mdtrt_d`, `setl_d`, `fixmedins`,
`dr_info`, `catalog`; see `features.snapshot.open_window`) and writes one row per hit into the table
`evidence`: the fee line or visit, the physician, the amount at risk and the reason a supervisor
reads on site (疑点清单). Hits are indicators for review, not findings.

A kind's SQL (features/rules/sql/<kind>.sql) is the CTEs that find its hits, ending with `flagged`;
what kinds share is written once: the views they read (`_views.sql`: billed fee lines, visits,
facility tiers), the end of a fee-line or a visit-level query (`_line_hits.sql`: the item's name;
`_visit_hits.sql`: the fund at risk) and the evidence columns (`_evidence_select`).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
import pyarrow as pa
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass

from features.rules.kinds import KINDS, Kind
from features.rules.render import compile_detail, compile_reason, declared_values, param_value
from features.schema import HOSP_LV, HOSP_TIER
from features.sql_text import bind, fill, inline, literal, run, values
from feijian.errors import ConfigError, validation_problems

Severity = Literal["high", "medium", "low"]
SEVERITY_ZH: dict[str, str] = {"high": "高", "medium": "中", "low": "低"}

# The evidence table, declared once: (column, SQL type). Every rule's SQL yields exactly these.
EVIDENCE_SCHEMA: tuple[tuple[str, str], ...] = (
    ("rule_id", "VARCHAR"),
    ("kind", "VARCHAR"),
    ("hit_level", "VARCHAR"),  # 'fee_line' or 'visit'
    ("fixmedins_code", "VARCHAR"),
    ("mdtrt_id", "VARCHAR"),
    ("feedetl_sn", "VARCHAR"),  # null for visit-level hits
    ("psn_no", "VARCHAR"),  # pseudonymised on ingest
    ("dr_code", "VARCHAR"),  # billing physician (fee line) or attending physician (visit)
    ("event_time", "TIMESTAMP"),
    ("med_list_codg", "VARCHAR"),  # null for visit-level hits
    ("amount_at_risk", "DOUBLE"),  # yuan: the line amount or the visit's fund payment at risk
    ("detail", "VARCHAR"),  # JSON object with the values the reason uses
    ("reason", "VARCHAR"),  # the rendered Chinese sentence
)
EVIDENCE_COLUMNS: tuple[str, ...] = tuple(c for c, _ in EVIDENCE_SCHEMA)
_VISIT_NULL = {"feedetl_sn", "med_list_codg"}
_LITERAL = {"rule_id", "kind", "hit_level", "detail", "reason"}

# The SQL (features/rules/sql/) that turns a kind's `flagged` rows into `hits`, by hit level.
HIT_ENDS = {"fee_line": "_line_hits", "visit": "_visit_hits"}

# YAML `key:` with no value is null; these fields read it as empty.
_NoneIsEmptyDict = BeforeValidator(lambda v: {} if v is None else v)
_NoneIsEmptyTuple = BeforeValidator(lambda v: () if v is None else v)


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Rule:
    """One entry of rules.yaml, validated by pydantic on construction: the fields' types, the kind,
    the parameters against the kind's declaration (names and types) and the reason's placeholders."""

    id: str
    kind: str
    name_zh: str
    params: Annotated[dict[str, Any], _NoneIsEmptyDict]
    reason_template: str
    article: str
    targets: Annotated[tuple[str, ...], _NoneIsEmptyTuple]
    severity: Severity
    enabled: bool = True
    description: str = ""
    tags: Annotated[tuple[str, ...], _NoneIsEmptyTuple] = ()

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not a rule kind; kinds: {', '.join(KINDS)}")
        return kind

    @field_validator("params")
    @classmethod
    def _params_of_the_kind(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "kind" not in info.data:  # the kind is wrong; that error says so
            return params
        decl = KINDS[info.data["kind"]]
        if set(params) != set(decl.params):
            raise ValueError(f"{decl.name} needs parameters {sorted(decl.params)}, got {sorted(params)}")
        for name, ptype in decl.params.items():
            # The renderer's own check: a ConfigError naming the rule, the parameter, the value and the type.
            param_value(info.data.get("id", "?"), name, ptype, params[name])
        return params

    @field_validator("reason_template")
    @classmethod
    def _placeholders_exist(cls, template: str, info: ValidationInfo) -> str:
        if "kind" in info.data and "params" in info.data:
            compile_reason(template, KINDS[info.data["kind"]], info.data["params"], info.data.get("id", "?"))
        return template

    @property
    def kind_decl(self) -> Kind:
        return KINDS[self.kind]


def default_rules_path() -> Path:
    return Path(str(resources.files("features.rules").joinpath("rules.yaml")))


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    rules: list[Rule]

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for r in rules:
            if r.id in seen:
                raise ValueError(f"rule id {r.id} appears twice; ids must be unique")
            seen.add(r.id)
        return rules


def load_rules(path: Path | None = None) -> list[Rule]:
    """Read and validate the rule library; every problem names the file, the rule, the field and the value."""
    path = path or default_rules_path()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read rule library {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with 'version' and a list 'rules'")
    try:
        return _RulesFile.model_validate(doc).rules
    except ValidationError as exc:
        raise ConfigError(_rules_file_message(path, doc, exc)) from None


def _rules_file_message(path: Path, doc: dict[str, Any], exc: ValidationError) -> str:
    """One line per problem, each rule named by its id (or its position when it has none)."""
    lines = []
    for e in exc.errors():
        loc = e["loc"]
        if len(loc) > 2 and loc[0] == "rules" and isinstance(loc[1], int):
            entry = doc["rules"][loc[1]]
            rid = entry.get("id") if isinstance(entry, dict) else None
            where = f"rule {rid}" if rid else f"rule #{loc[1] + 1}"
            lines.append(f"{path}: {where}: {validation_problems([e], skip=2)[0]}")
        else:
            lines.append(f"{path}: {validation_problems([e])[0]}")
    if any(e["type"] in ("extra_forbidden", "unexpected_keyword_argument") for e in exc.errors()):
        fields = ", ".join(f.name for f in dataclasses.fields(Rule))
        lines.append(f"(a rule's fields: {fields}; the file's: version, rules)")
    return "\n".join(lines)


def rules_version(path: Path | None = None) -> str:
    doc = yaml.safe_load((path or default_rules_path()).read_text(encoding="utf-8"))
    return str(doc["version"])


def _rules_sql(name: str) -> str:
    return resources.files("features.rules").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def kind_sql_text(kind_name: str) -> str:
    """The raw SQL of one kind: the CTEs that find its hits, naming its parameters as $name."""
    return _rules_sql(kind_name)


def create_rule_views(con: duckdb.DuckDBPyConnection) -> None:
    """The views every kind reads besides the window's tables (features/rules/sql/_views.sql)."""
    levels = values((lv, HOSP_TIER[lv], name) for lv, name in HOSP_LV.items())
    run(con, fill(_rules_sql("_views"), {"hosp_levels": levels}))


def _evidence_select(rule: Rule) -> str:
    decl = rule.kind_decl
    cols = []
    for name, sql_type in EVIDENCE_SCHEMA:
        if name in _LITERAL:
            continue
        src = "NULL" if decl.hit_level == "visit" and name in _VISIT_NULL else f"h.{name}"
        cols.append(f"CAST({src} AS {sql_type}) AS {name}")
    literal_cols = {
        "rule_id": literal(rule.id),
        "kind": literal(rule.kind),
        "hit_level": literal(decl.hit_level),
        "detail": compile_detail(decl),
        "reason": compile_reason(rule.reason_template, decl, rule.params, rule.id),
    }
    by_name = {c.rsplit(" AS ", 1)[1]: c for c in cols}
    ordered = [f"{literal_cols[n]} AS {n}" if n in literal_cols else by_name[n] for n in EVIDENCE_COLUMNS]
    return ",\n    ".join(ordered)


def rule_statement(rule: Rule) -> tuple[str, dict[str, object]]:
    """One rule's complete query in DuckDB's dialect and the values of the $parameters it names."""
    decl = rule.kind_decl
    bound = declared_values()
    slots: dict[str, str] = {}  # icd3 parameters: predicates, written into the kind's ${name} slots
    for name, ptype in decl.params.items():
        value = param_value(rule.id, name, ptype, rule.params[name])
        if ptype == "icd3":
            slots[name] = str(value)
        else:
            bound[name] = value
    try:
        ctes = fill(kind_sql_text(rule.kind), slots).rstrip() + ",\n\n" + _rules_sql(HIT_ENDS[decl.hit_level]).rstrip()
        sql = f"{ctes}\n\nSELECT\n    {_evidence_select(rule)}\nFROM hits AS h"
        return sql, bind(sql, bound)
    except KeyError as exc:
        raise ConfigError(f"{rule.kind}.sql: {exc.args[0]} for rule {rule.id}") from exc


def rule_sql(rule: Rule, dialect: str = "duckdb") -> str:
    """One rule's complete query with its values written as literals (what Spark runs, what a reader
    reads): in DuckDB's dialect, or transpiled by sqlglot for another (spark)."""
    sql = inline(*rule_statement(rule))
    if dialect == "duckdb":
        return sql
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)[0]


def evaluate_rules(
    con: duckdb.DuckDBPyConnection, rules: list[Rule] | None = None, return_table: bool = True
) -> pa.Table | None:
    """Run every enabled rule; (re)create the table `evidence` on `con` and return it ordered.

    The feature build passes return_table=False: it reads `evidence` in SQL and writes it sorted, so
    pulling millions of hits into Arrow here would be wasted work.
    """
    rules = load_rules() if rules is None else rules
    create_rule_views(con)
    cols = ", ".join(f"{c} {t}" for c, t in EVIDENCE_SCHEMA)
    con.execute(f"CREATE OR REPLACE TABLE evidence ({cols})")
    for rule in rules:
        if rule.enabled:
            sql, params = rule_statement(rule)
            con.execute(f"INSERT INTO evidence SELECT * FROM (\n{sql}\n)", params)
    if not return_table:
        return None
    return con.sql(
        "SELECT * FROM evidence ORDER BY rule_id, fixmedins_code, event_time, mdtrt_id, feedetl_sn"
    ).to_arrow_table()
