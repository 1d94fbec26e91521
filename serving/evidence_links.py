"""Link a reason to its claim-level evidence: the rule hits of the reason's rule kinds.

Every key listed (mdtrt_id, feedetl_sn) is read from the snapshot's evidence table itself, so a
linked row always exists there; the on-site list is `Explainer.evidence(code, rule_id)`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.rules import SEVERITY_ZH, Rule

MAX_KEYS = 50  # evidence keys listed per rule in an explanation; the full list is the 疑点清单 export
MAX_PHYSICIANS = 5


def link_evidence(evidence: pd.DataFrame, kinds: tuple[str, ...], rules: dict[str, Rule]) -> list[dict[str, Any]]:
    """Per rule of the given kinds ("*" = all) that has hits: counts, amounts, physicians, keys."""
    ev = evidence if "*" in kinds else evidence[evidence["kind"].isin(kinds)]
    out = []
    for rule_id, hits in ev.groupby("rule_id", sort=True):
        rule = rules.get(str(rule_id))
        hits = hits.sort_values("amount_at_risk", ascending=False, kind="mergesort")
        docs = (
            hits.groupby("dr_code", dropna=True)["amount_at_risk"]
            .agg(["size", "sum"])
            .sort_values("sum", ascending=False)
            .head(MAX_PHYSICIANS)
        )
        keys = hits[["mdtrt_id", "feedetl_sn"]].head(MAX_KEYS)
        out.append(
            {
                "rule_id": str(rule_id),
                "kind": str(hits["kind"].iloc[0]),
                "name_zh": rule.name_zh if rule else str(rule_id),
                "article": rule.article if rule else "",
                "severity_zh": SEVERITY_ZH.get(rule.severity, "") if rule else "",
                "n_hits": len(hits),
                "amount_at_risk": float(hits["amount_at_risk"].sum()),
                "physicians": [
                    {"dr_code": str(dr), "n_hits": int(r["size"]), "amount_at_risk": float(r["sum"])}
                    for dr, r in docs.iterrows()
                ],
                "example_reason": str(hits["reason"].iloc[0]),
                "rows": [
                    {"mdtrt_id": m, "feedetl_sn": None if pd.isna(f) else f}
                    for m, f in zip(keys["mdtrt_id"], keys["feedetl_sn"], strict=True)
                ],
            }
        )
    return sorted(out, key=lambda r: -r["amount_at_risk"])
