"""Rule quality as the service and the CLI show it: records.worklist.rule_quality with each rule's name
and the facility type in Chinese, JSON-ready."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from features.schema import FIXMEDINS_TYPE
from feijian.jsonsafe import jsonable
from records import Database, checked_lines, rule_quality


def quality_frame(db: Database, facilities: pd.DataFrame, rules: dict[str, Any], by_type: bool = False,
                  by_quarter: bool = False) -> pd.DataFrame:
    """Per rule (and facility type, and quarter of the visit): checked, confirmed, share, amounts,
    review flag, names in Chinese."""
    checked = checked_lines(db)
    if by_type:
        types = dict(zip(facilities["fixmedins_code"], facilities["fixmedins_type"], strict=False)) \
            if not facilities.empty else {}
        checked = checked.assign(fixmedins_type=checked["fixmedins_code"].map(types))
    q = rule_quality(checked, [*(["fixmedins_type"] if by_type else []), *(["quarter"] if by_quarter else [])])
    q.insert(1, "name_zh", q["rule_id"].map(lambda r: rules[r].name_zh if r in rules else r))
    if by_type:
        q["fixmedins_type_zh"] = q["fixmedins_type"].map(lambda v: FIXMEDINS_TYPE.get(str(v), v))
    return q


def quality_records(db: Database, facilities: pd.DataFrame, rules: dict[str, Any], by_type: bool = False,
                    by_quarter: bool = False) -> list[dict[str, Any]]:
    return jsonable(quality_frame(db, facilities, rules, by_type, by_quarter).to_dict("records"))


def print_quality(workspace: Path, db_url: str | None, by_type: bool, console: Any, by_quarter: bool = False
                  ) -> pd.DataFrame:
    """`feijian rules quality`: the table, the rules flagged for review named below it."""
    from rich.table import Table as RichTable

    from features.rules.changes import effective_rules
    from features.snapshot import source_expr
    from serving.store import open_database

    has = (Path(workspace) / "raw" / "fixmedins").exists()
    facilities = (duckdb.sql(f"SELECT fixmedins_code, fixmedins_type FROM {source_expr(Path(workspace), 'fixmedins')}")
                  .df() if has else pd.DataFrame(columns=["fixmedins_code", "fixmedins_type"]))
    db = open_database(Path(workspace), db_url)
    try:
        q = quality_frame(db, facilities, {r.id: r for r in effective_rules(workspace)}, by_type, by_quarter)
    finally:
        db.dispose()
    if q.empty:
        console.print("no evidence line has been checked yet: mark a case's 疑点清单 on site (/api/case/lines/mark)")
        return q
    t = RichTable(title="rule quality from inspectors' verdicts (lowest confirmed share first)")
    cols = ["rule_id", "name_zh", *(["fixmedins_type_zh"] if by_type else []), *(["quarter"] if by_quarter else []),
            "checked", "confirmed",
            "confirmed_share", "amount_checked", "amount_confirmed", "review"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("rule_id", "name_zh", "fixmedins_type_zh", "quarter") else "right")
    for r in q.to_dict("records"):
        t.add_row(*[f"{r[c]:.0%}" if c == "confirmed_share" else f"{r[c]:,.0f}" if c.startswith("amount")
                    else ("review" if r[c] else "") if c == "review" else str(r[c]) for c in cols])
    console.print(t)
    flagged = q[q["review"]]
    for r in flagged.to_dict("records"):
        console.print(f"[yellow]review[/] {r['rule_id']} {r['name_zh']}: {r['confirmed']} of {r['checked']} checked "
                      "hits confirmed; revise its parameters in features/rules/rules.yaml", highlight=False)
    return q
