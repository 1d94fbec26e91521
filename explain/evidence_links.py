"""Link a reason to its claim-level evidence: the rule hits of the reason's rule kinds.

Every key listed (mdtrt_id, feedetl_sn) is read from the snapshot's evidence table itself, so a
linked row always exists there; the on-site list is `Explainer.evidence(code, rule_id)`.

`summarise_evidence` walks one target's rule hits once (plain Python over its columns: a facility
has tens to a few thousand hits, where pandas' per-group overhead would dominate) and gives one
summary per rule; `pick_kinds` picks the summaries of some rule kinds from it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from features.rules import SEVERITY_ZH, Rule

MAX_KEYS = 50  # evidence keys listed per rule in an explanation; the full list is the 疑点清单 export
MAX_PHYSICIANS = 5


def _is_missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def summarise_evidence(evidence: pd.DataFrame, rules: dict[str, Rule]) -> list[dict[str, Any]]:
    """Per rule with hits: counts, amounts, top physicians, example reason and keys; largest amount first.

    Within a rule, hits are taken in descending amount (ties in table order, missing amounts last).
    """
    if evidence.empty:
        return []
    amount = evidence["amount_at_risk"].to_numpy(dtype=float, na_value=np.nan)
    order = np.argsort(np.where(np.isnan(amount), np.inf, -amount), kind="stable")
    cols = {c: evidence[c].to_numpy(dtype=object) for c in ("rule_id", "kind", "dr_code", "mdtrt_id", "reason")}
    feedetl = evidence["feedetl_sn"].to_numpy(dtype=object)
    covered = evidence[COVERED].notna().to_numpy() if COVERED in evidence.columns else np.zeros(len(evidence), bool)
    by_rule: dict[str, list[int]] = defaultdict(list)
    for i in order.tolist():
        by_rule[str(cols["rule_id"][i])].append(i)
    out = []
    for rule_id in sorted(by_rule):
        rows = by_rule[rule_id]
        per_doc: dict[str, list[float]] = defaultdict(list)
        for i in rows:
            dr = cols["dr_code"][i]
            if not _is_missing(dr):
                per_doc[str(dr)].append(0.0 if math.isnan(amount[i]) else float(amount[i]))
        docs = {dr: (len(a), math.fsum(a)) for dr, a in per_doc.items()}
        top_docs = sorted(docs.items(), key=lambda kv: (-kv[1][1], kv[0]))[:MAX_PHYSICIANS]
        rule = rules.get(rule_id)
        first = rows[0]
        out.append(
            {
                "rule_id": rule_id,
                "kind": str(cols["kind"][first]),
                "name_zh": rule.name_zh if rule else rule_id,
                "article": rule.article if rule else "",
                "severity_zh": SEVERITY_ZH.get(rule.severity, "") if rule else "",
                "n_hits": len(rows),
                "amount_at_risk": float(np.nansum(amount[rows])),
                "n_covered": int(sum(covered[i] for i in rows)),
                "amount_uncovered": float(np.nansum([amount[i] for i in rows if not covered[i]])),
                "physicians": [
                    {"dr_code": dr, "n_hits": int(n), "amount_at_risk": float(s)} for dr, (n, s) in top_docs
                ],
                "example_reason": str(cols["reason"][first]),
                "rows": [
                    {"mdtrt_id": cols["mdtrt_id"][i], "feedetl_sn": None if _is_missing(feedetl[i]) else feedetl[i]}
                    for i in rows[:MAX_KEYS]
                ],
            }
        )
    return sorted(out, key=lambda r: -r["amount_at_risk"])


COVERED = "covered_by"


def mark_covered(evidence: pd.DataFrame, inspections: pd.DataFrame) -> pd.DataFrame:
    """`evidence` with `covered_by`: for a hit whose claim falls in the period a past inspection of the
    facility already checked (period_begn..period_end), "已于 DATE 检查覆盖（INSP_ID）" of the latest such
    inspection; None otherwise. Those claims were open to that inspection: not new money to recover."""
    out = evidence.copy()
    out[COVERED] = None
    need = {"period_begn", "period_end", "insp_date", "insp_id"}
    if out.empty or inspections is None or inspections.empty or not need <= set(inspections.columns):
        return out
    when = pd.to_datetime(out["event_time"]).dt.normalize()
    past = inspections.dropna(subset=["period_begn", "period_end"]).sort_values("insp_date", kind="mergesort")
    for row in past.itertuples(index=False):  # oldest first: a later inspection's mark wins
        inside = (when >= pd.Timestamp(row.period_begn)) & (when <= pd.Timestamp(row.period_end))
        out.loc[inside.to_numpy(), COVERED] = f"已于 {row.insp_date} 检查覆盖（{row.insp_id}）"
    return out


def evidence_totals(evidence: pd.DataFrame) -> dict[str, float | int]:
    """Amounts at risk in all, in claims a past inspection already covered, and not yet covered."""
    amount = evidence["amount_at_risk"].fillna(0.0).to_numpy(dtype=float) if len(evidence) else np.zeros(0)
    covered = evidence[COVERED].notna().to_numpy() if COVERED in evidence.columns else np.zeros(len(amount), bool)
    return {
        "n_hits": len(amount),
        "n_covered": int(covered.sum()),
        "amount_at_risk": float(amount.sum()),
        "amount_covered": float(amount[covered].sum()),
        "amount_uncovered": float(amount[~covered].sum()),
    }


def pick_kinds(summary: list[dict[str, Any]], kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """The summaries of the given rule kinds ("*" = all), in the summary's order."""
    return list(summary) if "*" in kinds else [s for s in summary if s["kind"] in kinds]
