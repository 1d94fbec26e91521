"""`feijian plan`: the next round on the terminal (a Rich table) or as CSV / JSON for scripts.

The request is the service's own `PlanRequest` (same defaults, same limits), planned by the same
`plan_round` over the champion's scores of the newest snapshot, so the terminal, the API and the page
give one round for one request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from feijian.errors import InputError
from feijian.tabular import csv_text
from serving.schemas import PlanRequest
from training.bundle import Bundle, champion_path

FORMATS = ("table", "csv", "json")
COLUMNS_ZH = ("序号", "机构", "类型", "统筹区", "风险", "预计追回(元)", "选取", "主要原因")
RIGHT = {"序号", "风险", "预计追回(元)"}
TYPE_ZH = {"hospital": "医院", "primary": "基层", "pharmacy": "药店"}


def plan_request(values: dict[str, Any]) -> PlanRequest:
    """A validated request from command-line values (None = the request's default)."""
    try:
        return PlanRequest(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InputError(f"--{field.replace('_', '-')}: {first['msg']} (got {first.get('input')!r})") from None


def _reason(cell: Any) -> str:
    """The first reason of a target's `top_reasons` (a list of dicts or strings), as one line."""
    if isinstance(cell, list | tuple) and cell:
        first = cell[0]
        if isinstance(first, dict):
            return str(first.get("text") or first.get("label_zh") or first.get("feature") or "")
        return str(first)
    return "" if cell is None else str(cell)


def _table(targets: pd.DataFrame, meta: dict[str, Any]) -> Table:
    table = Table(
        title=f"检查计划 · as_of {meta['as_of']} · 模型 v{meta.get('model_version')} · "
        f"{meta['n_targets']}/{meta['capacity']} 家 · 预计追回 {meta['expected_total'] or 0:,.0f} 元",
        title_justify="left",
    )
    for name in COLUMNS_ZH:
        table.add_column(name, justify="right" if name in RIGHT else "left", overflow="fold")
    for row in targets.itertuples(index=False):
        table.add_row(
            str(row.rank),
            f"{row.name or ''}\n{row.fixmedins_code}",
            TYPE_ZH.get(str(row.fixmedins_type), str(row.fixmedins_type)),
            str(row.admdvs),
            f"{row.p_serious:.2f}" if pd.notna(row.p_serious) else "",
            f"{row.expected_recovery:,.0f}" if pd.notna(row.expected_recovery) else "",
            "模型" if row.pick == "model" else "随机探索",
            _reason(row.top_reasons),
        )
    return table


def flat_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """One line per target for CSV: the top reason as text instead of the nested list."""
    out = targets.copy()
    out["top_reason"] = [_reason(c) for c in out["top_reasons"]]
    return out.drop(columns=["top_reasons"])


def run_plan(workspace: Path, models: Path, req: PlanRequest, fmt: str, console: Console) -> Any:
    from serving.explain import Explainer
    from serving.plan import plan_round

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if req.level != "facility":
        raise InputError("`feijian plan` plans facilities; physicians are planned on the page or the API")
    bundle = Bundle.load(champion_path(models))
    err = Console(stderr=True)
    with err.status("scoring the snapshot (cached after the first run)"):
        explainer = Explainer.build(Path(workspace), bundle)
    plan = plan_round(explainer.scored(), explainer.inspections(), explainer.as_of, req.capacity, **req.plan_kwargs())
    if fmt == "json":
        records = json.loads(plan.targets.to_json(orient="records", force_ascii=False, double_precision=15))
        sys.stdout.write(json.dumps({"targets": records, "meta": plan.meta}, ensure_ascii=False, default=str) + "\n")
    elif fmt == "csv":
        sys.stdout.write(csv_text(flat_targets(plan.targets), bom=False))
    else:
        console.print(_table(plan.targets, plan.meta))
        ex = plan.meta["exclusions_zh"]
        console.print("排除：" + "，".join(f"{k} {v}" for k, v in ex.items()), highlight=False)
    return plan
