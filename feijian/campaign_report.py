"""The campaign's page: cumulative true amount at inspected facilities per policy, and the round table."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

POLICY_ZH = {"historical": "历史选取", "rules": "规则命中排序", "random": "随机", "oracle": "全知（上限）"}


def _label(policy: str) -> str:
    if policy.startswith("feijian"):
        return "飞检 " + policy.removeprefix("feijian ").replace("e=", "探索 ")
    return POLICY_ZH.get(policy, policy)


def _chart(report: dict[str, Any]) -> str:
    """A PNG (base64) of each policy's cumulative true amount taken at the facilities it inspected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from explain.charts import setup_fonts

    setup_fonts()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for policy, entry in report["policies"].items():
        ys = [v / 1e4 for v in entry["cumulative_taken"]]
        style = "--" if policy == "oracle" else "-"
        ax.plot(range(1, len(ys) + 1), ys, style, marker="o", label=_label(policy))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("检查轮次")
    ax.set_ylabel("被检机构的真实违规金额累计（万元）")
    ax.set_title(f"闭环检查：各策略累计命中的真实违规金额（{report['scale']}，规避程度 {report['evasion']}）")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _share(r: dict[str, Any]) -> str:
    best = r.get("best_taken")
    return f"{r['taken_true'] / best:.0%}" if best else ""


def write_html(report: dict[str, Any], path: Path) -> Path:
    rows = []
    for policy, e in report["policies"].items():
        share, best = e.get("share_of_oracle"), e.get("share_of_best")
        per = e.get("per_round_share_of_best") or []
        rows.append(
            f"<tr><td>{html.escape(_label(policy))}</td><td class=n>{e['taken_true']:,.0f}</td>"
            f"<td class=n>{e['recovered']:,.0f}</td><td class=n>{'' if share is None else f'{share:.1%}'}</td>"
            f"<td class=n>{'' if best is None else f'{best:.1%}'}</td>"
            f"<td>{' '.join(f'{v:.0%}' for v in per)}</td><td class=n>{e['serious_rate']:.0%}</td>"
            f"<td class=n>{e['no_finding_rate']:.0%}</td></tr>"
        )
    rounds = "".join(
        f"<tr><td>{html.escape(_label(r['policy']))}</td><td class=n>{r['round']}</td><td>{r['as_of']}</td>"
        f"<td class=n>{r['n_inspected']}</td><td class=n>{r['taken_true']:,.0f}</td>"
        f"<td class=n>{r['recovered']:,.0f}</td><td class=n>{_share(r)}</td>"
        f"<td class=n>{r['serious_rate']:.0%}</td><td class=n>{r['no_finding_rate']:.0%}</td>"
        f"<td class=n>{r['seconds']:.1f}</td></tr>"
        for r in report["rounds_table"]
    )
    page = f"""<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>飞检 · 闭环检查基准</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.3em .6em}}
.n{{text-align:right}}th{{background:#f3f3f3}}</style>
<h1>闭环检查基准（campaign）</h1>
<p>省份种子 {report['seed']}，规模 {html.escape(str(report['scale']))}，规避程度 {html.escape(report['evasion'])}；
前 {report['history_rounds']} 轮为历史检查，其后 {report['rounds']} 轮由各策略选取；用时 {report['seconds']:,.0f} 秒。
“真实违规金额”取自模拟器的真值（仅用于评估）：被检机构在检查前 12 个月的违规金额。
“占全知上限”比的是全知策略在它自己那份省份里的结果（它的严重问题震慑的是别的机构，几轮后两省已不同）；
“占同期最优”比的是同一省份、同一时点、同样排除规则下违规金额最大的同样家数：每轮的公平标尺。</p>
<img alt="累计命中的真实违规金额" src="data:image/png;base64,{_chart(report)}">
<h2>各策略合计</h2>
<table><tr><th>策略</th><th>真实违规金额（元）</th><th>追回金额（元）</th><th>占全知上限</th><th>占同期最优</th><th>每轮占同期最优</th>
<th>严重问题率</th><th>未发现问题率</th></tr>{''.join(rows)}</table>
<h2>逐轮</h2>
<table><tr><th>策略</th><th>轮次</th><th>计划日期</th><th>检查家数</th><th>真实违规金额</th><th>追回金额</th><th>占同期最优</th>
<th>严重问题率</th><th>未发现问题率</th><th>用时（秒）</th></tr>{rounds}</table></html>"""
    path.write_text(page, encoding="utf-8")
    return path
