"""features.sql_text: values bound as parameters, literals and identifiers quoted in one place."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from features.sql_text import bind, fill, ident, inline, list_literal, literal, parameters, run, statements, values

ROOT = Path(__file__).resolve().parent.parent


def test_literals_quote_once() -> None:
    assert literal("O'Brien") == "'O''Brien'"
    assert literal(Path("/tmp/it's/x.parquet")) == "'/tmp/it''s/x.parquet'"
    assert literal(None) == "NULL" and literal(True) == "TRUE" and literal(3) == "3" and literal(0.5) == "0.5"
    assert literal(date(2024, 1, 2)) == "DATE '2024-01-02'"
    assert literal(datetime(2024, 1, 2, 3, 4, 5)) == "TIMESTAMP '2024-01-02 03:04:05'"
    assert literal(("21", "52")) == "('21', '52')" and literal(()) == "(NULL)"
    assert list_literal(["a", "b'"]) == "['a', 'b''']"
    assert values([("01", 3), ("02", 2)]) == "VALUES ('01', 3), ('02', 2)"
    assert ident('odd"name') == '"odd""name"'
    with pytest.raises(ValueError):
        literal(math.nan)
    with pytest.raises(TypeError):
        literal(object())


def test_literals_read_back_as_the_values() -> None:
    con = duckdb.connect()
    for v in ("it's", date(2024, 2, 29), datetime(2024, 2, 29, 23, 59, 1), 12, True, None):
        assert con.execute(f"SELECT {literal(v)}").fetchone() == (v,)
    assert float(con.execute(f"SELECT {literal(0.1)}").fetchone()[0]) == 0.1  # a DECIMAL literal, exact


def test_statements_split_by_the_parser_not_on_semicolons() -> None:
    script = "-- a; comment\nSELECT 'x;y' AS a;\n/* ; */ SELECT 2 AS b;"
    got = statements(script)
    assert len(got) == 2 and "'x;y'" in got[0] and "SELECT 2" in got[1]


def test_bind_takes_only_the_named_values_and_refuses_a_missing_one() -> None:
    sql = "SELECT * FROM t WHERE d < $as_of AND c IN $codes"
    assert parameters(sql) == {"as_of", "codes"}
    assert bind(sql, {"as_of": 1, "codes": ("a",), "other": 2}) == {"as_of": 1, "codes": ("a",)}
    with pytest.raises(KeyError, match=r"\$codes"):
        bind(sql, {"as_of": 1})


def test_inline_writes_literals_and_leaves_strings_and_comments() -> None:
    sql = "SELECT '$as_of' AS s -- $as_of\nFROM t WHERE d < $as_of AND c IN $codes"
    out = inline(sql, {"as_of": date(2024, 1, 1), "codes": ("a'b", "c")})
    assert out == "SELECT '$as_of' AS s -- $as_of\nFROM t WHERE d < DATE '2024-01-01' AND c IN ('a''b', 'c')"
    with pytest.raises(KeyError):
        inline("SELECT $nope", {})


def test_run_binds_values_and_inlines_them_into_a_view() -> None:
    con = duckdb.connect()
    run(
        con,
        """CREATE TABLE t AS SELECT range AS i, CAST(range AS VARCHAR) AS s FROM range(10);
        CREATE TEMP VIEW v AS SELECT * FROM t WHERE i < $n AND s IN $codes;
        CREATE TEMP TABLE w AS SELECT * FROM t WHERE i >= $n""",
        {"n": 5, "codes": ("1", "2", "7")},
    )
    assert con.execute("SELECT COUNT(*) FROM v").fetchone() == (2,)
    assert con.execute("SELECT COUNT(*) FROM w").fetchone() == (5,)
    view_sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'v'").fetchone()
    assert view_sql is not None and "IN ('1', '2', '7')" in view_sql[0]


def test_fill_puts_generated_sql_in_slots_only() -> None:
    got = fill("SELECT * FROM t WHERE ${pred} AND x = $x", {"pred": "a = 1"})
    assert got == "SELECT * FROM t WHERE a = 1 AND x = $x"
    with pytest.raises(KeyError, match="slot"):
        fill("SELECT ${missing}", {})


def test_no_other_module_of_features_quotes_sql_itself() -> None:
    own = ROOT / "features" / "sql_text.py"
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "features").rglob("*.py")
        if p != own and ('''"''"''' in p.read_text(encoding="utf-8") or "chr(39)" in p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
