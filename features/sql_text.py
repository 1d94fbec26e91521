"""SQL text, built one way: values bound as DuckDB parameters, quoted here where none can go.

The SQL of features/ names its values as DuckDB parameters (`$as_of`, `$med_types`), and `run` and
`query` hand them to DuckDB with the statement, so no value is pasted into SQL text. Where DuckDB
takes no parameter the values are written as literals by `literal` (identifiers by `ident`), the one
quoting rule of the package:
- statements DuckDB stores instead of preparing: a view's body (`run` inlines the values of a
  `CREATE VIEW`), such as read_parquet's path and the window's bounds in a view over the workspace;
- generated SQL with constants in it (ingest's checks and their messages, the rules' reason text);
- Spark SQL, which has no DuckDB parameters: `inline` writes each `$name` of a statement as its
  literal, and features.snapshot.spark transpiles the result.
Scripts are split into statements by DuckDB's own parser (`statements`), never on ';'.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

Params = Mapping[str, object]


class Connection(Protocol):
    """What `run` needs of a connection: DuckDB's, or features.snapshot.spark.SparkConnection."""

    def execute(self, query: str, parameters: Any = ..., /) -> Any: ...


def literal(value: object) -> str:
    """`value` as a SQL literal. A sequence becomes a parenthesised list, what `x IN $codes` reads as."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"SQL has no literal for {value!r}")
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str | Path):
        return "'" + str(value).replace("'", "''") + "'"
    if isinstance(value, Sequence):
        return "(" + (", ".join(literal(v) for v in value) or "NULL") + ")"
    raise TypeError(f"SQL has no literal for {type(value).__name__} {value!r}")


def list_literal(values: Iterable[object]) -> str:
    """A DuckDB LIST value: ['a', 'b']."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def values(rows: Iterable[Sequence[object]]) -> str:
    """VALUES (…), (…) of literal rows: a small constant table, e.g. a code list with its attributes."""
    return "VALUES " + ", ".join(literal(tuple(r)) for r in rows)


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def statements(script: str) -> list[str]:
    """The statements of a script, as DuckDB's parser splits it (comments and ';' in strings kept apart)."""
    return [_text(s) for s in duckdb.extract_statements(script)]


def _text(stmt: duckdb.Statement) -> str:
    """A statement's own text: DuckDB's ends with its ';' and the comments that open the next one."""
    tokens = DuckDB().tokenize(stmt.query)
    if tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        return stmt.query[: tokens[-1].start].rstrip()
    return stmt.query.strip()


def parameters(sql: str) -> set[str]:
    """The `$name` parameters a statement (or script) names."""
    return set().union(*(s.named_parameters for s in duckdb.extract_statements(sql)))


def bind(sql: str, params: Params) -> dict[str, object]:
    """The values of the parameters `sql` names; one without a value is an error, not a NULL."""
    names = parameters(sql)
    missing = sorted(names - set(params))
    if missing:
        raise KeyError(f"SQL parameter(s) {', '.join('$' + n for n in missing)} have no value")
    return {n: params[n] for n in names}


def inline(sql: str, params: Params) -> str:
    """`sql` with each `$name` parameter written as its literal; the rest of the text is kept as is."""
    tokens = DuckDB().tokenize(sql)
    out: list[str] = []
    pos = 0
    for dollar, name in itertools.pairwise(tokens):
        if dollar.token_type != TokenType.PARAMETER or name.start != dollar.end + 1 or name.token_type != TokenType.VAR:
            continue
        if name.text not in params:
            raise KeyError(f"SQL parameter ${name.text} has no value")
        out += [sql[pos : dollar.start], literal(params[name.text])]
        pos = name.end + 1
    return "".join(out) + sql[pos:]


def fill(sql: str, fragments: Mapping[str, str]) -> str:
    """`sql` with each `${name}` slot replaced by SQL that code generates: the parts of a statement that
    are structure, not values (an ICD-10 range predicate, a VALUES list). A slot without one is an error."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in fragments:
            raise KeyError(f"SQL slot ${{{m.group(1)}}} has no fragment")
        return fragments[m.group(1)]

    return re.sub(r"\$\{([a-z_]+)\}", sub, sql)


def _creates_view(statement: str) -> bool:
    head: list[str] = []
    for tok in DuckDB().tokenize(statement):
        if tok.token_type in (TokenType.ALIAS, TokenType.SELECT, TokenType.L_PAREN):
            break
        head.append(tok.text.upper())
    return head[:1] == ["CREATE"] and "VIEW" in head


def run(con: Connection, script: str, params: Params | None = None) -> None:
    """Run a script statement by statement, each with the parameters it names.

    DuckDB cannot prepare a CREATE VIEW (it stores the view's text), so a view's values are inlined.
    """
    params = params or {}
    for stmt in duckdb.extract_statements(script):
        text = _text(stmt)
        values_ = bind(text, params) if stmt.named_parameters else {}
        if values_ and _creates_view(text):
            con.execute(inline(text, values_))
        else:
            con.execute(text, values_)


def query(con: Any, sql: str, params: Params | None = None) -> Any:
    """The relation of one query (`.df()`, `.fetchall()`), its parameters bound."""
    return con.sql(sql, params=bind(sql, params or {}))
