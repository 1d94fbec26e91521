"""Turn a rule (YAML data) into SQL safely.

Parameters never reach SQL as raw strings: each is validated against its declared type and bound as
a DuckDB parameter (a number, a boolean, a code list); an ICD-10 list, which is structure rather
than a value, becomes a predicate whose codes features.sql_text quotes. The reason sentence and the
detail JSON are compiled into SQL expressions too, so the evidence table comes out of one query per
rule on DuckDB and, transpiled, on Spark — no per-row Python.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping

from features.facts import MILD_DIAGNOSES
from features.rules.kinds import STANDARD_FIELDS, FieldType, Kind, ParamType
from features.sql_text import literal
from feijian.errors import ConfigError

_CODE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_ICD3_RE = re.compile(r"^([A-Z][0-9]{2})(?:-([A-Z][0-9]{2}))?$")


def param_value(rule_id: str, name: str, ptype: ParamType, value: object) -> object:
    """One parameter as it reaches SQL: the value to bind ($name), or for `icd3` the predicate over
    `diag3` that fills the kind's ${name} slot; ConfigError names the rule, the value and the fix."""

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"rules.yaml {rule_id}: parameter {name} = {value!r} is not {expected}")

    if ptype == "bool":
        if not isinstance(value, bool):
            raise bad("true/false")
        return value
    if ptype in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad("a number")
        if ptype == "int":
            if not float(value).is_integer() or value < 0:
                raise bad("a whole number ≥ 0")
            return int(value)
        return float(value)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad("a non-empty list of strings")
    if ptype == "codes":
        for v in value:
            if not _CODE_RE.match(v):
                raise bad(f"a list of codes (letters, digits, _ . -); {v!r} is not")
        return tuple(value)
    # icd3: a predicate over `diag3` (the first three characters of the diagnosis, upper case)
    terms = []
    for v in value:
        m = _ICD3_RE.match(v)
        if not m:
            raise bad(f"a list of ICD-10 3-character codes or ranges like 'N70-N98'; {v!r} is not")
        lo, hi = m.group(1), m.group(2)
        terms.append(f"diag3 BETWEEN {literal(lo)} AND {literal(hi)}" if hi else f"diag3 = {literal(lo)}")
    return "(" + " OR ".join(terms) + ")"


def param_text(value: object) -> str:
    """How a parameter reads inside a Chinese reason sentence."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


def declared_values() -> dict[str, object]:
    """Values the kinds read that are declared in code, not in rules.yaml (one list for features and rules)."""
    return {"mild_diagnoses": MILD_DIAGNOSES}


def _field_text(column: str, ftype: FieldType) -> str:
    """A SQL expression printing `h.<column>` as text (NULL stays NULL)."""
    col = f"h.{column}"
    if ftype == "int":
        return f"CAST(CAST({col} AS BIGINT) AS VARCHAR)"
    if ftype == "num":  # 2 decimals at most, none when whole: "2个单位", "13.33元"
        x = f"ROUND(CAST({col} AS DOUBLE), 2)"
        return f"CASE WHEN {x} = ROUND({x}, 0) THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END"
    if ftype == "date":
        return f"CAST(CAST({col} AS DATE) AS VARCHAR)"
    if ftype == "pseudonym":  # readable in a report; the evidence row keeps the whole pseudonym
        return f"CASE WHEN LENGTH({col}) > 12 THEN CONCAT(SUBSTRING({col}, 1, 8), '…') ELSE CAST({col} AS VARCHAR) END"
    return f"CAST({col} AS VARCHAR)"


def template_names(template: str) -> list[str]:
    """The {placeholders} of a reason template, in order."""
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


def compile_reason(template: str, kind: Kind, params: Mapping[str, object], rule_id: str) -> str:
    """The reason template as one SQL CONCAT over the hit's columns and the rule's parameters."""
    parts: list[str] = []
    for text, name, spec, conv in string.Formatter().parse(template):
        if text:
            parts.append(literal(text))
        if name is None:
            continue
        if spec or conv:
            raise ConfigError(f"rules.yaml {rule_id}: placeholder {{{name}}} takes no format spec")
        if name in kind.fields:
            parts.append(f"COALESCE({_field_text(name, kind.fields[name])}, '—')")
        elif name in STANDARD_FIELDS:
            col, ftype = STANDARD_FIELDS[name]
            parts.append(f"COALESCE({_field_text(col, ftype)}, '—')")
        elif name in params:
            parts.append(literal(param_text(params[name])))
        else:
            allowed = sorted([*kind.fields, *STANDARD_FIELDS, *params])
            raise ConfigError(
                f"rules.yaml {rule_id}: reason placeholder {{{name}}} is not a field of kind {kind.name}; "
                f"use one of {', '.join(allowed)}"
            )
    return "CONCAT(" + ", ".join(parts or [literal("")]) + ")"


def compile_detail(kind: Kind) -> str:
    """The kind's detail fields as a JSON object text, built with CONCAT (portable to Spark)."""
    parts: list[str] = []
    for i, (name, ftype) in enumerate(kind.fields.items()):
        text = _field_text(name, ftype)
        key = ("{" if i == 0 else ",") + f'"{name}":'
        if ftype in ("int", "num"):
            value = f"COALESCE({text}, 'null')"
        else:
            escaped = f"REPLACE(REPLACE({text}, '\\', '\\\\'), '\"', '\\\"')"
            # CONCAT skips NULLs, so a NULL is caught before quoting.
            value = f"CASE WHEN h.{name} IS NULL THEN 'null' ELSE CONCAT('\"', {escaped}, '\"') END"
        parts += [literal(key), value]
    parts.append(literal("}" if kind.fields else "{}"))
    return "CONCAT(" + ", ".join(parts) + ")"
