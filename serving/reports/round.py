"""The round report: the planned list under capacity and constraints, exploration picks marked,
totals by region and type, the expected total; HTML, A4 PDF and an Excel workbook of the plan."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from explain.charts import amount_bars
from features.schema import AGREEMENT_ACTION, FIXMEDINS_TYPE, HOSP_LV, OWNERSHIP
from feijian.tabular import write_xlsx
from serving.reports import render
from training.physician_rank import EXPOSURE, EXPOSURE_ZH

if TYPE_CHECKING:
    from serving.explain import Explainer
    from serving.plan import Plan

PICK_ZH = {"model": "模型推荐", "exploration": "随机探索"}
PLAN_HEADERS = {
    "rank": "序号",
    "fixmedins_code": "机构编号",
    "name": "机构名称",
    "region_zh": "医保区划",
    "admdvs": "区划代码",
    "type_zh": "机构类型",
    "hosp_lv_zh": "医院等级",
    "ownership_zh": "所有制",
    "p_serious": "严重问题概率",
    "expected_recovery": "预计追回金额（元）",
    "pick_zh": "入选方式",
    "flag": "协议处理标注",
    "ring_id": "联合检查团伙",
    "reasons": "主要理由",
}
PHYSICIAN_HEADERS = {
    "rank": "序号",
    "dr_code": "医师编号",
    "fixmedins_code": "机构编号",
    "name": "机构名称",
    "dept": "科室",
    "region_zh": "医保区划",
    "admdvs": "区划代码",
    EXPOSURE: f"{EXPOSURE_ZH}（元）",
    "p_risk": "医师记分概率",
    "pick_zh": "入选方式",
    "flag": "协议处理标注",
    "reasons": "主要理由",
}
# What each level's list is of, and the amount its totals add up.
LEVEL_VIEW = {
    "facility": {"headers": PLAN_HEADERS, "amount": "expected_recovery", "amount_zh": "预计追回金额（元）",
                 "unit_zh": "机构数", "title_zh": "飞行检查计划"},
    "physician": {"headers": PHYSICIAN_HEADERS, "amount": EXPOSURE, "amount_zh": f"{EXPOSURE_ZH}（元）",
                  "unit_zh": "医师数", "title_zh": "医师检查名单"},
}  # fmt: skip


def _readable(targets: pd.DataFrame, facilities: pd.DataFrame, regions: dict[str, str] | None = None) -> pd.DataFrame:
    """The plan's rows with Chinese labels; a physician list takes its facilities' type, level, ownership;
    the region by its name (the admdvs table), its code where the table names none."""
    t = targets.copy()
    names = regions or {}
    t["region_zh"] = t["admdvs"].map(lambda v: names.get(str(v), v))
    info = facilities.drop_duplicates("fixmedins_code").set_index("fixmedins_code")
    for col in ("fixmedins_type", "hosp_lv", "ownership"):
        if col not in t:
            t[col] = t["fixmedins_code"].map(info[col]) if col in info else None
    t["type_zh"] = t["fixmedins_type"].map(lambda v: FIXMEDINS_TYPE.get(str(v), v))
    t["hosp_lv_zh"] = t["hosp_lv"].map(lambda v: HOSP_LV.get(str(v), v))
    t["ownership_zh"] = t["ownership"].map(lambda v: OWNERSHIP.get(str(v), v))
    t["pick_zh"] = t["pick"].map(PICK_ZH)
    for col in ("flag", "ring_id"):  # a facility without a sanction or a ring: empty, never "nan"
        if col in t:
            t[col] = t[col].map(lambda v: v if isinstance(v, str) else "")
    t["reasons"] = t["top_reasons"].map(lambda r: "；".join(list(r)) if r is not None and len(r) else "—")
    return t


def totals(t: pd.DataFrame, by: str, label: str, level: str = "facility") -> pd.DataFrame:
    view = LEVEL_VIEW[level]
    g = t.groupby(by, dropna=False).agg(n=("rank", "size"), amount=(view["amount"], "sum")).reset_index()
    g = g.sort_values("amount", ascending=False, kind="mergesort")
    return g.rename(columns={by: label, "n": view["unit_zh"], "amount": view["amount_zh"]})


def constraints(meta: dict[str, Any], regions: dict[str, str] | None = None) -> list[tuple[str, str]]:
    f = meta["filters"]
    names = regions or {}
    show = lambda v: "、".join(map(str, v)) if v else "不限"  # noqa: E731
    caps = meta["region_caps"]
    sanctions = meta.get("sanctions") or {}
    return [
        ("检查名额", str(meta["capacity"])),
        ("地区", show([names.get(str(v), v) for v in f.get("regions") or []])),
        ("机构类型", show([FIXMEDINS_TYPE.get(v, v) for v in f.get("types") or []])),
        ("医院等级", show([HOSP_LV.get(v, v) for v in f.get("levels") or []])),
        ("所有制", show([OWNERSHIP.get(v, v) for v in f.get("ownership") or []])),
        ("排除近期已检查", f"{meta['exclude_days']} 天内"),
        ("检查未发现问题的冷却期", f"{meta['clean_cooldown_days']} 天"),
        ("地区名额上限", "、".join(f"{names.get(str(k), k)}：{v}" for k, v in caps.items()) if caps else "无"),
        ("随机探索比例", f"{100 * meta['exploration']['share']:.0f}%（随机种子 {meta['exploration']['seed']}）"),
        ("协议处理", "；".join(f"已{AGREEMENT_ACTION[k]}：{ACTION_ZH[v]}" for k, v in sanctions.items()) or "—"),
        ("排序规则", meta.get("ranking_zh") or "—"),
    ]


ACTION_ZH = {"exclude": "排除", "flag": "标注后照常计划"}


def ring_rows(plan: Plan, explainer: Explainer) -> list[dict[str, Any]]:
    """The rings with a member in the plan: planned and other members by name, whether jointly planned,
    the ring's score, the planned members' value with their ring, and the reason."""
    if not plan.meta.get("rings"):
        return []
    table = explainer.rings.table.set_index("ring_id")
    names = explainer.rings.names
    out = []
    for r in plan.meta["rings"]:
        row = table.loc[r["ring_id"]]
        out.append({"ring_id": r["ring_id"], "members": "、".join(names.get(c, c) for c in r["facilities"]),
                    "others": "、".join(names.get(c, c) for c in r["not_planned"]) or "—",
                    "joint": "联合检查" if r["joint"] else "仅标注", "n": len(r["facilities"]),
                    "score": float(row["score"]),
                    "expected_recovery": r["expected_recovery"], "reason": row["reason_zh"]})
    return out


RING_HEADERS = {"ring_id": "团伙编号", "joint": "计划方式", "members": "已入选成员", "n": "已入选成员数",
                "others": "未入选成员", "score": "团伙得分", "expected_recovery": "已入选成员预计追回金额（元）",
                "reason": "关联理由"}


def write_round_report(plan: Plan, explainer: Explainer, out_dir: Path,
                       formats: Collection[str] = ("html", "pdf", "xlsx")) -> dict[str, Path]:
    """Write round_<as_of>.html/.pdf/.xlsx (those in `formats`; the PDF is laid out from the HTML) into
    out_dir; return their paths, and the region chart's ("png") with the HTML."""
    out_dir = Path(out_dir)
    meta = {**explainer.provenance(), **{k: v for k, v in plan.meta.items() if v is not None}}
    level = plan.level
    view = LEVEL_VIEW[level]
    t = _readable(plan.targets, explainer.scored(), explainer.regions)
    stem = f"round_{meta['as_of']}" if level == "facility" else f"round_{meta['as_of']}_physicians"
    by_region = totals(t, "region_zh", "医保区划", level)
    by_type = totals(t, "type_zh", "机构类型", level)
    rings = ring_rows(plan, explainer)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "xlsx" in formats:
        written["xlsx"] = _round_workbook(plan, explainer, t, meta, view, by_region, by_type, rings,
                                          out_dir / f"{stem}.xlsx")
    if not {"html", "pdf"} & set(formats):
        return written  # a workbook alone: no chart, no layout (the page's 检查计划.xlsx)
    chart = amount_bars(
        [str(v) for v in by_region["医保区划"]], by_region[view["amount_zh"]].astype(float).tolist(),
        by_region[view["unit_zh"]].astype(int).tolist(), out_dir / f"{stem}_regions.png",
        title=f"按地区：{view['amount_zh'].removesuffix('（元）')}", unit="家" if level == "facility" else "人",
    )  # fmt: skip
    context = {
        "region_chart": chart.name,
        "meta": meta,
        "level": level,
        "view": view,
        "rows": t.to_dict("records"),
        "constraints": constraints(plan.meta, explainer.regions),
        "by_region": by_region.to_dict("records"),
        "by_type": by_type.to_dict("records"),
        "rings": rings,
        "amount_total": float(t[view["amount"]].sum()),
        "n_model": int((t["pick"] == "model").sum()),
        "n_explore": int((t["pick"] == "exploration").sum()),
    }
    written["html"] = render.write_html("round.html", context, out_dir / f"{stem}.html")
    written["png"] = chart
    if "pdf" in formats:
        written["pdf"] = render.write_pdf(written["html"], out_dir / f"{stem}.pdf")
    return written


def _round_workbook(plan: Plan, explainer: Explainer, t: pd.DataFrame, meta: dict[str, Any], view: dict[str, Any],
                    by_region: pd.DataFrame, by_type: pd.DataFrame, rings: list[dict[str, Any]], out: Path) -> Path:
    """The round's workbook: the list, the constraints and exclusions, the totals by region and type."""
    sheet = t[list(view["headers"])].rename(columns=view["headers"])
    settings = [
        *constraints(plan.meta, explainer.regions),
        (f"{view['amount_zh'].removesuffix('（元）')}合计（元）", f"{t[view['amount']].sum():,.0f}"),
        ("模型版本", str(meta["model_version"])),
        ("特征快照", str(meta["snapshot_id"])),
        *((f"排除：{k}", str(v)) for k, v in plan.meta["exclusions_zh"].items()),
    ]
    sheets = {
        "检查名单": sheet,
        "约束与排除": pd.DataFrame(settings, columns=["项目", "取值"]),
        "按地区汇总": by_region,
        "按类型汇总": by_type,
    }
    if rings:
        sheets["疑似团伙"] = pd.DataFrame(rings)[list(RING_HEADERS)].rename(columns=RING_HEADERS)
    return write_xlsx(sheets, out)
