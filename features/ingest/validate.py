"""Row-level validation as SQL: coerce each column to its contract type and say why a value fails.

One view per table (`checked_<table>`) reads the source relation and yields, per row, the typed
contract columns plus `_err` (every reason, '; '-joined), `_err_field` and `_err_value` (the first
failing field and its original text). Everything is generated from schema.py, so a column added to
the contract is validated without touching this file.

Coercion is deliberate and narrow: trimmed text, thousands separators, int-valued floats,
'2024/01/05'-style dates (plus the adapter's formats). Anything else is rejected, never guessed.
Expressions depend on the source type: a native Parquet DOUBLE is used as is (no text round trip),
which keeps 50 M fee lines cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from features.ingest.adapters.config import Adapter, TableAdapter
from features.schema import Column, Table
from features.sql_text import ident, list_literal, literal

DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"]
TIMESTAMP_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
                     "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S"]
TRUE_TEXT = ("1", "true", "t", "y", "yes", "是")
FALSE_TEXT = ("0", "false", "f", "n", "no", "否")
# Amounts that may be negative only on a refund settlement (refd_setl_flag = '1').
REFUND_FLAG = ("setl_d", "refd_setl_flag")
REFUND_AMOUNTS = {
    "setl_d": ("medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay"),
    "fee_list_d": ("cnt", "det_item_fee_sumamt"),  # checked against the settlement's flag (validate_refs)
}
TYPE_WORDS = {"int": "an integer", "float": "a number", "date": "a date (YYYY-MM-DD)",
              "timestamp": "a date-time (YYYY-MM-DD HH:MM:SS)", "bool": "true/false (1/0)"}
TEXT_TYPES = ("VARCHAR",)
AT_MOST_TOLERANCE = 0.01  # yuan: amounts are given to the fen


@dataclass(frozen=True)
class ColumnSql:
    text: str  # the original value as text (NULL when empty)
    typed: str  # the value in its contract type (NULL when empty or not coercible)


def trimmed_sql(ref: str) -> str:
    """NULLIF(trim(ref), '') — trimming only values that could change.

    trim() allocates a new string for every value. It removes Unicode space separators (U+0020,
    U+00A0, U+3000 ideographic space, U+2000–U+200A, ...), and the only ASCII one is U+0020, so a
    value of ASCII characters (bytes = characters) that neither starts nor ends with ' ' is already
    trimmed; anything else goes through trim(). Skipping the allocation for the usual value makes
    this several times cheaper than trim() on every value (docs/benchmarks.md, "Ingest").
    """
    return (f"(CASE WHEN starts_with({ref}, ' ') OR ends_with({ref}, ' ') OR strlen({ref}) <> length({ref}) "
            f"THEN NULLIF(trim({ref}), '') ELSE NULLIF({ref}, '') END)")


def column_sql(col: Column, src_type: str, ta: TableAdapter, adapter: Adapter) -> ColumnSql:
    """Text and typed expressions for one column, given its DuckDB type in the source."""
    ref = f"s.{ident(col.name)}"
    is_text = src_type.upper() in TEXT_TYPES or src_type.upper() == '"NULL"'
    text = trimmed_sql(ref) if is_text else f"CAST({ref} AS VARCHAR)"
    mapping = ta.values.get(col.name)
    if mapping:
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in mapping.items())
        text = f"(CASE {text} {cases} ELSE {text} END)"
        is_text = True
    t = col.type
    if t in ("string", "code"):
        return ColumnSql(text, text)
    if t in ("int", "float"):
        if is_text:
            num = f"TRY_CAST(replace({text}, ',', '') AS DOUBLE)"
        elif t == "int" and src_type.upper() in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT",
                                                 "UINTEGER", "USMALLINT", "UTINYINT", "HUGEINT"):
            return ColumnSql(text, f"CAST({ref} AS BIGINT)")
        else:
            num = f"TRY_CAST({ref} AS DOUBLE)"
        if t == "float":
            return ColumnSql(text, f"(CASE WHEN isfinite({num}) THEN {num} END)")
        return ColumnSql(text, f"(CASE WHEN {num} = round({num}) AND abs({num}) < 9e18 THEN CAST({num} AS BIGINT) END)")
    if t in ("date", "timestamp"):
        if not is_text:
            target = "DATE" if t == "date" else "TIMESTAMP"
            return ColumnSql(text, f"TRY_CAST({ref} AS {target})")
        own = ta.formats.get(col.name, [])
        glob = adapter.date_formats + adapter.timestamp_formats
        fmts = own + glob + (DATE_FORMATS + TIMESTAMP_FORMATS if t == "date" else TIMESTAMP_FORMATS + DATE_FORMATS)
        fmts = list(dict.fromkeys(fmts))
        ts = f"COALESCE(try_strptime({text}, {list_literal(fmts)}), TRY_CAST({text} AS TIMESTAMP))"
        return ColumnSql(text, f"CAST({ts} AS DATE)" if t == "date" else ts)
    if t == "bool":
        if is_text:
            low = f"lower({text})"
            true_in = ", ".join(literal(x) for x in TRUE_TEXT)
            false_in = ", ".join(literal(x) for x in FALSE_TEXT)
            return ColumnSql(text, f"(CASE WHEN {low} IN ({true_in}) THEN true WHEN {low} IN ({false_in}) "
                                   "THEN false END)")
        return ColumnSql(text, f"TRY_CAST({ref} AS BOOLEAN)")
    raise ValueError(f"unknown column type {t!r} for {col.name}")


def _quoted(text_col: str) -> str:
    return f"'''' || left({text_col}, 80) || ''''"


def column_errors(table: Table, col: Column, now: date, derived: str | None = None) -> str:
    """A CASE yielding the first reason this column's value fails, or NULL (reads t_/x_ columns).

    `derived`: the adapter's expression for the column, named in its messages."""
    x, v = f"x_{col.name}", f"t_{col.name}"
    name = f"{col.name} ({col.label}{f', derived as {derived}' if derived else ''})"
    head = literal(col.name + " = ")  # every message starts with the column and its value
    checks: list[tuple[str, str]] = []
    if not col.nullable:
        checks.append((f"{x} IS NULL", literal(f"{name} is empty; a value is required")))
    if col.type not in ("string", "code"):
        checks.append((f"{x} IS NOT NULL AND {v} IS NULL",
                       f"{head} || {_quoted(x)} || {literal(' is not ' + TYPE_WORDS[col.type])}"))
    if col.codes is not None:
        shown = ", ".join(col.codes[:16])
        codes = ", ".join(literal(c) for c in col.codes)
        checks.append((f"{v} IS NOT NULL AND {v} NOT IN ({codes})",
                       f"{head} || {_quoted(x)} || "
                       f"{literal(f' is not a known code; accepted: {shown}; map other codes in an adapter')}"))
    if col.min_value is not None:
        checks.append((f"{v} < {col.min_value}",
                       f"{head} || {x} || {literal(f' is below the minimum {col.min_value:g}')}"))
    if col.max_abs is not None:
        checks.append((f"abs({v}) >= {col.max_abs:.0f}",
                       f"{head} || {x} || {literal(f' is not plausible (limit ±{col.max_abs:,.0f})')}"))
    if col.at_most is not None:
        other = col.at_most
        checks.append((f"{v} > t_{other} + {AT_MOST_TOLERANCE}",
                       f"{head} || {x} || {literal(f' is above {other} = ')} || x_{other} || "
                       f"{literal(f' ({col.label} cannot exceed {table.column(other).label})')}"))
    if col.name in REFUND_AMOUNTS.get(table.name, ()) and table.name == REFUND_FLAG[0]:
        flag = f"t_{REFUND_FLAG[1]}"
        checks.append((f"{v} < 0 AND {flag} IS DISTINCT FROM '1'",
                       f"{head} || {x} || {literal(' is negative but ' + REFUND_FLAG[1] + ' = ')} || "
                       f"coalesce({_quoted('x_' + REFUND_FLAG[1])}, 'empty') || ' (only refunds may be negative)'"))
    if col.no_future:
        bound = literal(now) if col.type == "date" else f"({literal(now)} + 1)::TIMESTAMP"
        op = ">" if col.type == "date" else ">="
        checks.append((f"{v} {op} {bound}",
                       f"{head} || {x} || {literal(f' is in the future (after {now.isoformat()})')}"))
    if not checks:
        return "NULL::VARCHAR"
    return "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, r in checks) + " END"


def checked_sql(table: Table, source_sql: str, source_types: dict[str, str], adapter: Adapter, now: date) -> str:
    """SELECT _fid, _row, _hashed, <typed columns>, x_<col> (text), _err, _err_field, _err_value FROM the source."""
    ta = adapter.table(table.name)
    inner = ["s._fid", "s._row", "s._file_err", "s._file_err_field", "s._hashed"]
    for col in table.columns:
        cs = column_sql(col, source_types.get(col.name, "VARCHAR"), ta, adapter)
        inner += [f"{cs.text} AS {ident('x_' + col.name)}", f"{cs.typed} AS {ident('t_' + col.name)}"]
    errs = [f"{column_errors(table, c, now, ta.derive.get(c.name))} AS {ident('e_' + c.name)}" for c in table.columns]
    e_names = [ident("e_" + c.name) for c in table.columns]
    cols = table.columns
    first_field = " ".join(f"WHEN {ident('e_' + c.name)} IS NOT NULL THEN {literal(c.name)}" for c in cols)
    first_value = " ".join(f"WHEN {ident('e_' + c.name)} IS NOT NULL THEN {ident('x_' + c.name)}" for c in cols)
    file_value = " ".join(f"WHEN _file_err_field = {literal(c.name)} THEN {ident('x_' + c.name)}" for c in cols)
    typed = [f"{ident('t_' + c.name)} AS {ident(c.name)}" for c in table.columns]
    texts = [ident("x_" + c.name) for c in table.columns]
    return f"""
WITH s AS ({source_sql}),
l1 AS (SELECT {', '.join(inner)} FROM s),
l2 AS (SELECT *, {', '.join(errs)} FROM l1)
SELECT _fid, _row, _hashed, {', '.join(typed)}, {', '.join(texts)},
  CASE WHEN _file_err IS NOT NULL THEN _file_err ELSE NULLIF(concat_ws('; ', {', '.join(e_names)}), '') END AS _err,
  CASE WHEN _file_err IS NOT NULL THEN _file_err_field {first_field} END AS _err_field,
  CASE WHEN _file_err IS NOT NULL THEN (CASE {file_value} END) {first_value} END AS _err_value
FROM l2"""
