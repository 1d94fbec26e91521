"""The served snapshot's rings as targets: each ring's score and expected recovery from its members'
(whose models read the ring's features), its reasons in Chinese, its graph and its evidence.

A ring is inspected jointly: all its member facilities in one round (a plan counts each against the
capacity, serving.plan). Collusion is found together, so a ring's members share its risk: the ring's
score is its riskiest member's probability of a serious finding, and its expected recovery that score
times the sum of its members' amounts if serious. A member's own model reads the ring's features too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from features.rings import RING_FEATURES, RING_FILES
from feijian.errors import NotFoundError

RING_FEATURE_ZH = {f.name: f.label for f in RING_FEATURES}
RANKING_ZH = ("团伙按预计追回金额排序：团伙得分（成员中最高的严重问题概率，团伙成员共谋、一并查实）"
              "× 各成员发现严重问题时的预计追回金额之和")


def ring_reason(r: dict[str, Any]) -> str:
    """One sentence a supervisor reads: what ties the ring together, in its own figures."""
    parts = [f"{int(r['n_facilities'])}家机构在同日或次日共用{int(r['n_persons'])}名参保人的医保卡"]
    if r.get("burst_days"):
        parts.append(f"其中{int(r['burst_days'])}天为多人集中就诊")
    share = 100 * float(r["inside_share"])
    parts.append(f"共用参保人基金支付{float(r['pool_fund']):,.0f}元，占成员总支付的{share:.1f}%")
    if float(r.get("growth") or 0) >= 1.5:
        parts.append(f"近3月月均为窗口月均的{float(r['growth']):.1f}倍")
    if r.get("trace_codes"):
        parts.append(f"{int(r['trace_codes'])}个药品追溯码在成员间重复结算")
    if r.get("n_physicians"):
        parts.append(f"{int(r['n_physicians'])}名医师记账了其中多数就诊")
    return "；".join(parts) + "，提示医患串通、出借医保卡的团伙风险。"


def unknown_ring(ring_id: str) -> NotFoundError:
    """The 404 of a ring id the served snapshot does not have."""
    return NotFoundError(f"ring {ring_id} is not in the served snapshot", zh=f"疑似团伙 {ring_id} 不在当前数据中")


@dataclass
class RingBook:
    """The rings of one snapshot, scored with the served facility table."""

    snapshot: Path
    scored: pd.DataFrame  # serving.explain.Explainer.scored(): one row per facility

    def _read(self, field: str) -> pd.DataFrame:
        name = next(n for n, f in RING_FILES.items() if f == field)
        path = self.snapshot / name
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()

    @cached_property
    def members(self) -> pd.DataFrame:
        return self._read("members")

    @cached_property
    def edges(self) -> pd.DataFrame:
        return self._read("edges")

    @cached_property
    def all_evidence(self) -> pd.DataFrame:
        return self._read("evidence")

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per ring, best first: members, features, score, expected recovery, reason."""
        rings = self._read("rings")
        if rings.empty:
            return pd.DataFrame(columns=["ring_id", "facilities", "score", "expected_recovery", "reason_zh"])
        by_code = self.scored.set_index("fixmedins_code")
        scores, recovery = [], []
        for facs in rings["facilities"]:
            codes = [c for c in facs.split(";") if c in by_code.index]
            p = float(by_code.loc[codes, "p_serious"].max()) if codes else 0.0
            scores.append(p)
            recovery.append(p * float(by_code.loc[codes, "amount_if_serious"].sum()) if codes else 0.0)
        out = rings.assign(score=scores, expected_recovery=recovery)
        out["reason_zh"] = [ring_reason(r) for r in out.to_dict("records")]
        out = out.sort_values(["expected_recovery", "ring_id"], ascending=[False, True], kind="mergesort")
        return out.reset_index(drop=True)

    def units(self) -> list[tuple[str, dict[str, float]]]:
        """(ring id, member facility code → its value inspected with the ring: the ring's score × the
        member's amount if serious) of every ring, for a plan's joint inspections (computed once: every
        plan request asks)."""
        return self._units

    @cached_property
    def _units(self) -> list[tuple[str, dict[str, float]]]:
        amount = dict(zip(self.scored["fixmedins_code"], self.scored["amount_if_serious"].astype(float), strict=True))
        return [(r, {c: p * amount[c] for c in f.split(";") if c in amount})
                for r, f, p in zip(self.table["ring_id"], self.table["facilities"], self.table["score"], strict=True)]

    def of_facility(self, code: str) -> str | None:
        m = self.members
        if m.empty:
            return None
        hit = m[(m["kind"] == "facility") & (m["code"] == code)]
        return None if hit.empty else str(hit["ring_id"].iloc[0])

    @cached_property
    def names(self) -> dict[str, str]:
        return dict(zip(self.scored["fixmedins_code"], self.scored["fixmedins_name"], strict=True))

    def summary_of(self, code: str) -> dict[str, Any] | None:
        """The ring a facility is in, for its explanation: id, the other members, score, reason."""
        ring_id = self.of_facility(code)
        if ring_id is None:
            return None
        row = self.table[self.table["ring_id"] == ring_id].iloc[0]
        facs = row["facilities"].split(";")
        return {"ring_id": ring_id, "facilities": facs, "names": [self.names.get(c, c) for c in facs],
                "score": float(row["score"]), "expected_recovery": float(row["expected_recovery"]),
                "reason_zh": row["reason_zh"]}

    def detail(self, ring_id: str) -> dict[str, Any] | None:
        """One ring: its row, members (facilities with their risk, physicians), and the graph's edges."""
        t = self.table
        row = t[t["ring_id"] == ring_id]
        if row.empty:
            return None
        ring = row.iloc[0].to_dict()
        by_code = self.scored.set_index("fixmedins_code")
        members = []
        for m in self.members[self.members["ring_id"] == ring_id].to_dict("records"):
            fac = m["fixmedins_code"]
            item = {"kind": m["kind"], "code": m["code"], "fixmedins_code": fac,
                    "name": self.names.get(fac, fac) if m["kind"] == "facility" else m["code"],
                    "pool_visits": int(m["pool_visits"]), "pool_fund": float(m["pool_fund"])}
            if m["kind"] == "facility" and fac in by_code.index:
                item.update(fixmedins_type=by_code.at[fac, "fixmedins_type"],
                            p_serious=float(by_code.at[fac, "p_serious"]),
                            expected_recovery=float(by_code.at[fac, "expected_recovery"]))
            members.append(item)
        edges = self.edges[self.edges["ring_id"] == ring_id]
        return {
            "ring_id": ring_id,
            "facilities": ring["facilities"].split(";"),
            "score": ring["score"],
            "expected_recovery": ring["expected_recovery"],
            "reason_zh": ring["reason_zh"],
            "features": [{"name": f.name, "label": f.label, "unit": f.unit, "value": ring[f.name]}
                         for f in RING_FEATURES],
            "members": members,
            "edges": [{"kind": e["kind"], "a": e["fac_a"], "b": e["fac_b"], "persons": int(e["persons"]),
                       "burst_days": int(e["burst_days"]), "codes": int(e["codes"]), "fund_pay": float(e["fund_pay"])}
                      for e in edges.to_dict("records")],
        }

    def evidence(self, ring_id: str) -> pd.DataFrame:
        """The ring's claims to pull: the shared cards' visits at its members (pseudonymised persons),
        the largest payout first."""
        ev = self.all_evidence
        if ev.empty:
            return ev
        ev = ev[ev["ring_id"] == ring_id]
        ev = ev.sort_values(["fund_pay", "mdtrt_id"], ascending=[False, True], kind="mergesort")
        return ev.reset_index(drop=True)


EVIDENCE_HEADERS = {"mdtrt_id": "就诊ID", "psn_no": "参保人（假名）", "fixmedins_code": "机构编号",
                    "name": "机构名称", "atddr_no": "医师编号", "visit_day": "就诊日期", "fund_pay": "基金支付（元）"}


def write_ring_workbook(book: RingBook, ring_id: str, out: Path) -> Path:
    """The ring's workbook (formula-safe, feijian.tabular): the ring and its members, its edges, and every
    shared card's visit at a member (persons pseudonymised)."""
    from feijian.tabular import write_xlsx

    found = book.detail(ring_id)
    if found is None:
        raise unknown_ring(ring_id)
    summary = [("团伙编号", ring_id), ("团伙得分", f"{100 * found['score']:.1f}%"),
               ("预计追回金额（元）", f"{found['expected_recovery']:,.0f}"), ("关联理由", found["reason_zh"]),
               *((f["label"], f["value"]) for f in found["features"])]
    members = pd.DataFrame(found["members"]).rename(columns={
        "kind": "成员类别", "code": "编号", "fixmedins_code": "所在机构", "name": "名称",
        "pool_visits": "共用参保人就诊次数", "pool_fund": "共用参保人基金支付（元）", "fixmedins_type": "机构类型",
        "p_serious": "严重问题概率", "expected_recovery": "预计追回金额（元）"})
    members["成员类别"] = members["成员类别"].map({"facility": "机构", "physician": "医师"})
    edges = pd.DataFrame(found["edges"], columns=["kind", "a", "b", "persons", "burst_days", "codes", "fund_pay"])
    edges["kind"] = edges["kind"].map({"cards": "共用医保卡", "trace": "追溯码重复结算"})
    edges = edges.rename(columns={"kind": "关联类型", "a": "机构甲", "b": "机构乙", "persons": "共用参保人数",
                                  "burst_days": "集中就诊天数", "codes": "重复追溯码数", "fund_pay": "基金支付（元）"})
    ev = book.evidence(ring_id).assign(name=lambda f: f["fixmedins_code"].map(book.names))
    ev = ev[list(EVIDENCE_HEADERS)].rename(columns=EVIDENCE_HEADERS)
    return write_xlsx({"团伙概况": pd.DataFrame(summary, columns=["项目", "取值"]), "成员": members,
                       "关联": edges, "证据就诊清单": ev}, out)
