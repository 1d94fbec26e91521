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
            ("模型" if row.pick == "model" else "随机探索") + (f"\n{row.flag}" if isinstance(row.flag, str) else ""),
            _reason(row.top_reasons),
        )
    return table


def flat_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """One line per target for CSV: the top reason as text instead of the nested list."""
    out = targets.copy()
    out["top_reason"] = [_reason(c) for c in out["top_reasons"]]
    return out.drop(columns=["top_reasons"])


def run_plan(workspace: Path, models: Path, req: PlanRequest, fmt: str, console: Console,
             saving: dict[str, Any] | None = None) -> Any:
    """Plan and print; with `saving` ({note, supersedes, db_url}) save the round and say its id (on stderr
    for csv/json, so the output stays one document)."""
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
    plan = plan_round(explainer.scored(), explainer.inspections(), explainer.as_of, req.capacity,
                      **req.plan_kwargs(explainer.rings.units()))
    round_id = None
    if saving is not None:
        from serving.rounds import save_plan
        from serving.store import open_database

        db = open_database(Path(workspace), saving.get("db_url"))
        try:
            round_id = save_plan(db, plan, req, explainer.meta, _operator(), saving.get("note"),
                                 saving.get("supersedes"))  # fmt: skip
        finally:
            db.dispose()
        plan.meta["round_id"] = round_id
        _audit_save(Path(workspace), round_id, req)
    if fmt == "json":
        payload = {"targets": plan.records(), "meta": plan.meta}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, default=str) + "\n")
    elif fmt == "csv":
        sys.stdout.write(csv_text(flat_targets(plan.targets), bom=False))
    else:
        console.print(_table(plan.targets, plan.meta))
        console.print(f"排序规则：{plan.meta['ranking_zh']}", highlight=False)
        ex = plan.meta["exclusions_zh"]
        console.print("排除：" + "，".join(f"{k} {v}" for k, v in ex.items()), highlight=False)
    if round_id is not None:
        (console if fmt == "table" else err).print(
            f"已保存为检查批次 {round_id}（`feijian rounds show {round_id}`）", highlight=False
        )
    return plan


def _audit_save(workspace: Path, round_id: str, req: PlanRequest) -> None:
    """A round saved from the terminal goes into the service's audit log as a save over the API does."""
    from feijian.settings import audit_key_path, audit_log_path
    from serving.audit import AuditLog, digest, load_or_create_key

    log = AuditLog(audit_log_path(workspace), load_or_create_key(audit_key_path(workspace)))
    body = req.model_dump_json()
    log.append(_operator(), "cli", "feijian plan --save", f"round {round_id} body_sha256={digest(body)}", 200,
               digest(round_id))


def _operator() -> str:
    """Who saved a round from the terminal: the login name (the service uses the token's name)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


STATUS_ZH = {"in_force": "有效", "superseded": "已被替代"}


def print_rounds(workspace: Path, db_url: str | None, console: Console) -> None:
    from records import list_rounds
    from serving.store import open_database

    db = open_database(Path(workspace), db_url)
    try:
        rounds = list_rounds(db)
    finally:
        db.dispose()
    if not rounds:
        console.print("还没有保存的检查批次（no saved rounds yet: `feijian plan --save`）")
        return
    table = Table(title="检查批次", title_justify="left")
    for name in ("批次", "计划日期", "模型", "名额", "家数", "预计追回(元)", "状态", "保存人", "说明"):
        table.add_column(name, justify="right" if name in {"名额", "家数", "预计追回(元)"} else "left")
    for r in rounds:
        status = STATUS_ZH[r["status"]] + (f"（{r['superseded_by']}）" if r["superseded_by"] else "")
        table.add_row(r["round_id"], str(r["as_of"]), f"v{r['model_version']}", str(r["capacity"]), str(r["n_picks"]),
                      f"{r['expected_total'] or 0:,.0f}", status, r["saved_by"], r["note"] or "")  # fmt: skip
    console.print(table)


def print_round(workspace: Path, db_url: str | None, round_id: str, fmt: str, console: Console) -> None:
    from records import get_round
    from serving.store import open_database

    if fmt not in ("table", "json"):
        raise InputError(f"--format must be table or json; got {fmt!r}")
    db = open_database(Path(workspace), db_url)
    try:
        r = get_round(db, round_id)
    finally:
        db.dispose()
    if fmt == "json":
        sys.stdout.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        return
    status = STATUS_ZH[r["status"]] + (f"，被 {r['superseded_by']} 替代" if r["superseded_by"] else "")
    table = Table(title=f"检查批次 {r['round_id']} · 计划日期 {r['as_of']} · 模型 v{r['model_version']} · {status}",
                  title_justify="left")  # fmt: skip
    for name in ("序号", "机构", "选取", "被选概率", "风险", "预计追回(元)", "主要原因"):
        table.add_column(name, justify="right" if name in {"序号", "被选概率", "风险", "预计追回(元)"} else "left")
    for p in r["picks"]:
        table.add_row(str(p["rank"]), p["fixmedins_code"], "模型" if p["pick"] == "model" else "随机探索",
                      f"{p['probability']:.3f}", "" if p["p_serious"] is None else f"{p['p_serious']:.2f}",
                      "" if p["expected_recovery"] is None else f"{p['expected_recovery']:,.0f}",
                      _reason(p["reasons"]))  # fmt: skip
    console.print(table)
