"""How much of a simulated province's true taken amount the rule base sees, per pattern (for
tests/test_evasion.py and benchmarks/bench_evasion.py).

Every rule of features/rules/rules.yaml is evaluated over the whole 36 months and its hits joined
with truth/: a true fee line is seen when a fee-line rule hits it or a visit-level rule hits its
visit; an up-coded stay (no fee line carries its amount) when a visit-level rule hits the stay,
the pattern's amount prorated by stays.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from features.ingest import ensure_demo_key
from features.rules.base import evaluate_rules
from features.snapshot import open_window
from feijian.demo import ingest_province

AS_OF, WINDOW_MONTHS = "2025-01-01", 36


def rule_seen(root: Path, ws: Path) -> dict[str, dict[str, float]]:
    """pattern → {taken, seen}: the true amount (yuan) and the part of it on claims some rule hits.

    `root` is the simulator's output folder, `ws` a workspace it was ingested into."""
    con = open_window(ws, AS_OF, WINDOW_MONTHS)
    con.execute("SET enable_progress_bar = false")
    evaluate_rules(con, return_table=False)
    truth = root / "truth"
    rows = con.execute(f"""
        WITH line_hit AS (SELECT DISTINCT feedetl_sn FROM evidence WHERE hit_level = 'fee_line'),
        visit_hit AS (SELECT DISTINCT mdtrt_id FROM evidence WHERE hit_level = 'visit'),
        lines AS (
            SELECT l.pattern, l.amount,
                   l.feedetl_sn IN (SELECT feedetl_sn FROM line_hit)
                   OR l.mdtrt_id IN (SELECT mdtrt_id FROM visit_hit) AS seen
            FROM read_parquet('{truth / "fraud_lines.parquet"}') AS l),
        upc AS (
            SELECT AVG(CASE WHEN v.mdtrt_id IN (SELECT mdtrt_id FROM visit_hit) THEN 1.0 ELSE 0.0 END) AS share
            FROM read_parquet('{truth / "fraud_visits.parquet"}') AS v
            WHERE v.pattern = 'upcoding'),
        taken AS (
            SELECT pattern, SUM(amount_taken) AS taken
            FROM read_parquet('{truth / "facility_month.parquet"}') GROUP BY 1)
        SELECT t.pattern, t.taken,
               CASE WHEN t.pattern = 'upcoding' THEN t.taken * COALESCE((SELECT share FROM upc), 0)
                    ELSE COALESCE((SELECT SUM(amount) FROM lines WHERE lines.pattern = t.pattern AND seen), 0) END
        FROM taken AS t ORDER BY t.taken DESC""").fetchall()
    return {p: {"taken": float(t), "seen": float(s)} for p, t, s in rows}


def invisible_share(per: dict[str, dict[str, float]]) -> float:
    """The share of the whole true taken amount that no rule sees."""
    taken = sum(v["taken"] for v in per.values())
    return 1 - sum(v["seen"] for v in per.values()) / taken if taken else 0.0


def measure(root: Path, ws: Path) -> dict[str, dict[str, float]]:
    """Ingest the province in `root` into a fresh workspace `ws`, then `rule_seen`."""
    ensure_demo_key(ws)
    ingest_province(root / "input", ws, Console(file=io.StringIO()))
    return rule_seen(root, ws)
