"""Every statement the feature build runs transpiles to Spark SQL (no Java needed for this check)."""

from __future__ import annotations

from datetime import date

import pytest

from features.snapshot.build import Window, fac_tier_sql, read_sql
from features.snapshot.registry import FAMILIES
from features.snapshot.spark import default_shuffle_partitions, spark_master, to_spark
from features.sql_text import inline, statements

PARAMS = Window(date(2024, 1, 1), 12).params()


@pytest.mark.parametrize("name", ["staging", "physician", *FAMILIES])
def test_feature_sql_transpiles_to_spark(name: str) -> None:
    for stmt in statements(read_sql(name)):
        spark = to_spark(inline(stmt, PARAMS))
        assert "SELECT" in spark.upper()


def test_ring_sql_transpiles_to_spark() -> None:
    from features.rings.detect import _SQL, ring_params

    for stmt in statements((_SQL / "edges.sql").read_text(encoding="utf-8")):
        assert "SELECT" in to_spark(inline(stmt, {**PARAMS, **ring_params()})).upper()


def test_decimal_literals_become_doubles() -> None:
    assert to_spark("SELECT AVG(CASE WHEN x THEN 1.0 ELSE 0.0 END) FROM t") == (
        "SELECT AVG(CASE WHEN x THEN CAST(1.0 AS DOUBLE) ELSE CAST(0.0 AS DOUBLE) END) FROM t"
    )
    assert "CAST(3 AS DOUBLE)" not in to_spark("SELECT 3 FROM t")


def test_every_division_is_in_double_on_spark() -> None:
    """DuckDB divides DECIMAL sums in DOUBLE; Spark would keep 6 decimal places. Nested ones too."""
    out = to_spark("SELECT (a / b) / c AS r, x / NULLIF(y / z, 0) AS q, CAST(u AS DOUBLE) / 2 AS w FROM t")
    assert "CAST(a AS DOUBLE) / b" in out
    assert "CAST(x AS DOUBLE) / NULLIF(CAST(y AS DOUBLE) / z, 0)" in out
    assert "CAST(u AS DOUBLE) / 2" in out and "CAST(CAST(u" not in out


def test_fac_tier_and_dates_transpile() -> None:
    sql = to_spark(inline(fac_tier_sql(), PARAMS))
    assert "VALUES" in sql and "2024-01-01" in sql
    assert "DATEDIFF" in to_spark("SELECT DATE_DIFF('day', a, b) FROM t").upper()


def test_master_from_flag_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEIJIAN_SPARK_MASTER", raising=False)
    assert spark_master() == "local[*]"
    monkeypatch.setenv("FEIJIAN_SPARK_MASTER", "spark://head:7077")
    assert spark_master() == "spark://head:7077"
    assert spark_master("local[2]") == "local[2]"
    assert default_shuffle_partitions("local[2]") == 8
    assert default_shuffle_partitions("spark://head:7077") is None
