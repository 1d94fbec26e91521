"""Cross-row validation as SQL: duplicate keys, references, refunds and the fee-line reconciliation.

These checks need more than one row, so they run after the per-row view (`checked_<table>`) exists.
Each step materialises only small tables (the duplicates, the settlements that disagree, the
rejected rows, the accepted keys); the big tables are streamed through hash joins, never copied.

Duplicate keys are found by grouping a 64-bit hash of the key first (an 8-byte hash table instead of
50 M strings), then ranking the exact keys of the few candidates: the first row (file order, then
row) is kept, later ones are rejected naming the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from features.ingest.validate import REFUND_AMOUNTS
from features.schema import Table
from features.sql_text import ident, literal

TOLERANCE = 0.01


def _keys(table: Table) -> str:
    return ", ".join(ident(k) for k in table.key)


def find_duplicates(con: duckdb.DuckDBPyConnection, table: Table) -> int:
    """Create `dupl_<table>`: every later row of a repeated key, with the first row's position."""
    keys = _keys(table)
    not_null = " AND ".join(f"{ident(k)} IS NOT NULL" for k in table.key)
    con.sql(f"""
CREATE OR REPLACE TEMP TABLE dupl_cand AS
SELECT hash({keys}) AS h FROM checked_{table.name} WHERE {not_null} GROUP BY h HAVING count(*) > 1""")
    if con.sql("SELECT count(*) FROM dupl_cand").fetchall()[0][0] == 0:  # the usual case: no second scan
        con.sql(f"CREATE OR REPLACE TEMP TABLE dupl_{table.name} "
                "(_fid BIGINT, _row BIGINT, first_fid BIGINT, first_row BIGINT)")
        con.sql("DROP TABLE dupl_cand")
        return 0
    con.sql(f"""
CREATE OR REPLACE TEMP TABLE dupl_{table.name} AS
WITH r AS (SELECT _fid, _row, {keys} FROM checked_{table.name}
      WHERE {not_null} AND hash({keys}) IN (SELECT h FROM dupl_cand)),
w AS (SELECT *, row_number() OVER win AS rn, first_value(_fid) OVER win AS first_fid,
             first_value(_row) OVER win AS first_row
      FROM r WINDOW win AS (PARTITION BY {keys} ORDER BY _fid, _row))
SELECT _fid, _row, first_fid, first_row FROM w WHERE rn > 1""")
    con.sql("DROP TABLE dupl_cand")
    return con.sql(f"SELECT count(*) FROM dupl_{table.name}").fetchall()[0][0]


@dataclass
class Reconciliation:
    settlements_checked: int = 0  # settlements in this export that have fee lines in it
    settlements_ok: int = 0
    settlements_mismatched: int = 0
    settlements_without_fee_lines: int = 0
    fee_lines_without_settlement: int = 0  # their settlement is not in this export (may be in the workspace)
    examples: list[dict[str, object]] | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items()}


def reconcile(con: duckdb.DuckDBPyConnection, tolerance: float = TOLERANCE) -> Reconciliation:
    """Create `recon_bad` (settlements whose fee lines do not add up) and summarise the comparison.

    Both sides use rows whose own values parsed, minus later duplicates, so a fee line rejected for
    an unrelated reason (say an unknown catalogue code) still counts towards its settlement's sum.
    """
    con.sql(f"""
CREATE OR REPLACE TEMP TABLE recon AS
WITH f AS (
  SELECT c.setl_id, sum(c.det_item_fee_sumamt) AS fee_sum, count(*) AS n_lines
  FROM checked_fee_list_d c ANTI JOIN dupl_fee_list_d d ON c._fid = d._fid AND c._row = d._row
  WHERE c.setl_id IS NOT NULL AND c.det_item_fee_sumamt IS NOT NULL GROUP BY c.setl_id),
s AS (
  SELECT c.setl_id, c.medfee_sumamt
  FROM checked_setl_d c ANTI JOIN dupl_setl_d d ON c._fid = d._fid AND c._row = d._row
  WHERE c._err IS NULL)
SELECT coalesce(s.setl_id, f.setl_id) AS setl_id, s.medfee_sumamt, f.fee_sum, f.n_lines,
       s.setl_id IS NOT NULL AND f.setl_id IS NOT NULL
         AND abs(round(f.fee_sum, 2) - s.medfee_sumamt) > {tolerance} + 1e-9 AS bad
FROM s FULL JOIN f ON s.setl_id = f.setl_id""")
    con.sql("CREATE OR REPLACE TEMP TABLE recon_bad AS SELECT setl_id, medfee_sumamt, fee_sum, n_lines "
            "FROM recon WHERE bad")
    row = con.sql("""SELECT count(*) FILTER (WHERE medfee_sumamt IS NOT NULL AND fee_sum IS NOT NULL),
                            count(*) FILTER (WHERE bad),
                            count(*) FILTER (WHERE fee_sum IS NULL),
                            coalesce(sum(n_lines) FILTER (WHERE medfee_sumamt IS NULL), 0)
                     FROM recon""").fetchall()[0]
    examples = con.sql("SELECT setl_id, medfee_sumamt, round(fee_sum, 2) AS fee_sum, n_lines FROM recon_bad "
                       "ORDER BY setl_id LIMIT 20").fetchall()
    con.sql("DROP TABLE recon")  # one row per settlement: memory the rest of the run needs more
    return Reconciliation(
        settlements_checked=row[0], settlements_ok=row[0] - row[1], settlements_mismatched=row[1],
        settlements_without_fee_lines=row[2], fee_lines_without_settlement=int(row[3]),
        examples=[{"setl_id": e[0], "medfee_sumamt": e[1], "fee_sum": e[2], "fee_lines": e[3]} for e in examples],
    )


def empty_reconciliation(con: duckdb.DuckDBPyConnection) -> None:
    con.sql("CREATE OR REPLACE TEMP TABLE recon_bad (setl_id VARCHAR, medfee_sumamt DOUBLE, fee_sum DOUBLE, "
            "n_lines BIGINT)")


def build_rejects(con: duckdb.DuckDBPyConnection, table: Table, key_tables: dict[str, str],
                  unchecked: frozenset[str] = frozenset()) -> int:
    """Create `rej_<table>`: one row per rejected source row with field, value, every reason.

    key_tables maps a referenced table to the temp table of its accepted keys (this export plus the
    workspace); a reference to a table with no key table dangles by definition. References to the
    tables in `unchecked` are not checked (a dry run reads only a sample of them). The reason texts are
    built only for rows where some condition holds (the inner WHERE), not for every row read.
    """
    joins: list[str] = []
    conds: list[str] = ["c._err IS NOT NULL"]  # any of these true: the row may be rejected
    reasons: list[str] = ["c._err"]
    fields: list[str] = ["c._err_field"]
    values: list[str] = ["c._err_value"]
    for i, col in enumerate(c for c in table.columns if c.references):
        assert col.references is not None
        rt, rc = col.references
        if rt in unchecked:
            continue
        x, v = ident("x_" + col.name), f"c.{ident(col.name)}"
        where = "among the accepted rows of this export or the workspace"
        if rt in key_tables:
            joins.append(f"LEFT JOIN {key_tables[rt]} k{i} ON {v} = k{i}.k")
            cond = f"{v} IS NOT NULL AND k{i}.k IS NULL"
        else:
            cond = f"{v} IS NOT NULL"
            where = "(that table is neither in this export nor in the workspace)"
        reason = f"CASE WHEN {cond} THEN {literal(col.name + ' = ')} || '''' || {x} || '''' || " \
                 f"{literal(f' not found in {rt}.{rc} {where}')} END"
        reasons.append(reason)
        conds.append(f"({cond})")
        fields.append(f"CASE WHEN {cond} THEN {literal(col.name)} END")
        values.append(f"CASE WHEN {cond} THEN {x} END")
        if table.name == "fee_list_d" and rt == "setl_d" and rt in key_tables:
            negs = " OR ".join(f"c.{ident(a)} < 0" for a in REFUND_AMOUNTS["fee_list_d"])
            neg_cond = f"({negs}) AND k{i}.k IS NOT NULL AND k{i}.refd IS DISTINCT FROM '1'"
            reasons.append(f"CASE WHEN {neg_cond} THEN 'negative cnt/det_item_fee_sumamt (' || c.x_cnt || ', ' || "
                           f"c.x_det_item_fee_sumamt || ') but settlement ''' || {x} || ''' is not a refund "
                           f"(refd_setl_flag = ''' || coalesce(k{i}.refd, '') || ''')' END")
            conds.append(f"({neg_cond})")
            fields.append(f"CASE WHEN {neg_cond} THEN 'det_item_fee_sumamt' END")
            values.append(f"CASE WHEN {neg_cond} THEN c.x_det_item_fee_sumamt END")
    joins.append(f"LEFT JOIN dupl_{table.name} d ON c._fid = d._fid AND c._row = d._row")
    dup_keys = ", ".join(f"{k} = ''' || c.{ident('x_' + k)} || '''" for k in table.key)
    reasons.append(f"CASE WHEN d._fid IS NOT NULL THEN 'duplicate key ({dup_keys}): first seen in ' || "
                   f"fp.path || ' row ' || d.first_row || '; later rows are not loaded' END")
    joins.append("LEFT JOIN src_files fp ON fp.fid = d.first_fid")
    conds.append("d._fid IS NOT NULL")
    fields.append(f"CASE WHEN d._fid IS NOT NULL THEN {literal(table.key[0])} END")
    values.append(f"CASE WHEN d._fid IS NOT NULL THEN c.{ident('x_' + table.key[0])} END")
    if table.name in ("setl_d", "fee_list_d"):
        joins.append("LEFT JOIN recon_bad rb ON c.setl_id = rb.setl_id")
        what = "its settlement" if table.name == "fee_list_d" else "settlement"
        reasons.append(f"CASE WHEN rb.setl_id IS NOT NULL THEN '{what} ' || rb.setl_id || ' does not reconcile: "
                       f"sum of det_item_fee_sumamt over ' || rb.n_lines || ' fee lines = ' || round(rb.fee_sum, 2) "
                       f"|| ' but medfee_sumamt = ' || rb.medfee_sumamt END")
        conds.append("rb.setl_id IS NOT NULL")
        fields.append("CASE WHEN rb.setl_id IS NOT NULL THEN 'setl_id' END")
        values.append("CASE WHEN rb.setl_id IS NOT NULL THEN c.x_setl_id END")
    texts = ", ".join(f"c.{ident('x_' + c.name)} AS {ident(c.name)}" for c in table.columns)
    con.sql(f"""
CREATE OR REPLACE TEMP TABLE rej_{table.name} AS
SELECT * FROM (
  SELECT c._fid, c._row, c._hashed, coalesce({', '.join(fields)}) AS _field, coalesce({', '.join(values)}) AS _value,
         NULLIF(concat_ws('; ', {', '.join(reasons)}), '') AS _reason, {texts}
  FROM checked_{table.name} c {' '.join(joins)}
  WHERE {' OR '.join(conds)})
WHERE _reason IS NOT NULL""")
    return con.sql(f"SELECT count(*) FROM rej_{table.name}").fetchall()[0][0]


def build_keys(con: duckdb.DuckDBPyConnection, table: Table, old_sql: str | None, in_export: bool) -> str:
    """Create `keys_<table>` (k, refd): accepted keys of this export plus the workspace's (new wins)."""
    key = ident(table.key[0])
    is_setl = table.name == "setl_d"
    new = (f"SELECT c.{key} AS k, {'c.refd_setl_flag' if is_setl else 'NULL::VARCHAR'} AS refd "
           f"FROM checked_{table.name} c ANTI JOIN rej_{table.name} r ON c._fid = r._fid AND c._row = r._row")
    old = f"SELECT {key} AS k, {'refd_setl_flag' if is_setl else 'NULL::VARCHAR'} AS refd FROM ({old_sql})" \
        if old_sql else None
    if in_export and old:
        body = f"WITH n AS ({new}) SELECT * FROM n UNION ALL SELECT o.* FROM ({old}) o ANTI JOIN n ON o.k = n.k"
    elif in_export:
        body = new
    elif old:
        body = old
    else:
        body = "SELECT NULL::VARCHAR AS k, NULL::VARCHAR AS refd WHERE false"
    con.sql(f"CREATE OR REPLACE TEMP TABLE keys_{table.name} AS {body}")
    return f"keys_{table.name}"
