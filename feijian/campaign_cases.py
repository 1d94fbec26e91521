"""The campaign's inspection teams: each pick of a feijian round becomes a case, walked as a bureau would.

A planner assigns the team and the visit window; the inspectors go on site, keep the case's 疑点清单
as a worklist and check its largest `check_lines` lines, each answered by the simulator from its truth
with an inspector's error (`Province.answer`); they draft the findings, notify the facility, and the
supervisor decides with the simulator's finding as the decision (its violations, amounts, action,
physicians' points), which records the finding training reads — through the service's own step
function (serving.cases.take_step), with the rights of the role taking each step.

`rule_quality_against_truth` then compares the rule quality those verdicts give (records.worklist)
with each rule's true precision over every hit in the rounds' windows (the truth read only here, to
score)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PLANNER = ("campaign-planner", "planner")
INSPECTOR = ("campaign-inspector", "supervisor")
TEAM = ["医学专家", "财务人员", "审计人员"]  # the source documents' joint team
LINE_COLUMNS = ["rule_id", "hit_level", "feedetl_sn", "mdtrt_id"]


@dataclass(frozen=True)
class Inspectors:
    check_lines: int = 60  # lines checked per case, largest amount first
    error: float = 0.1  # chance a verdict is the wrong one


def walk_case(db: Any, prov: Any, explainer: Any, case_id: str, code: str, row: dict[str, Any],
              points: list[dict[str, Any]], team: Inspectors, seed: tuple[int, ...]) -> None:
    """One case from planned to closed, the simulator's finding `row` its decision."""
    import pandas as pd

    from records import keep_lines, lines, mark
    from serving.cases import take_step
    from serving.schemas import CaseDecision

    day = date.fromisoformat(str(row["insp_date"])[:10])
    take_step(db, case_id, "assigned", *PLANNER, team=TEAM, window_begin=day, window_end=day + timedelta(days=4))
    take_step(db, case_id, "on_site", *INSPECTOR)
    keep_lines(db, case_id, explainer.evidence(code))
    todo = pd.DataFrame(lines(db, case_id)[: team.check_lines])
    if not todo.empty:
        verdicts = prov.answer(todo, team.error, seed)
        mark(db, case_id, [{"line_key": k, "verdict": "confirmed" if v else "rejected"}
                           for k, v in zip(todo["line_key"], verdicts, strict=True)], INSPECTOR[0])
    for target in ("findings_drafted", "notified"):
        take_step(db, case_id, target, *INSPECTOR)
    decision = CaseDecision(
        violation_types=row.get("violation_types"), amount_involved=row["amount_involved"],
        amount_recovered=row["amount_recovered"], fine_amount=row["fine_amount"],
        agreement_action=row["agreement_action"], referral=bool(row["referral"]), insp_type=row["insp_type"],
        insp_date=day, points=[{"dr_code": p["dr_code"], "points": int(p["points"])} for p in points],
    )  # fmt: skip
    take_step(db, case_id, "decided", *INSPECTOR, decision=decision)
    take_step(db, case_id, "closed", *INSPECTOR)


def hits(explainer: Any) -> pd.DataFrame:
    """Every rule hit of the explainer's snapshot (the lines a rule's true precision is measured over)."""
    return explainer.all_evidence()[LINE_COLUMNS].astype(str)


def rule_quality_against_truth(db: Any, prov: Any, windows: list[pd.DataFrame], min_checked: int) -> dict[str, Any]:
    """Rule quality from the cases' verdicts beside each rule's true precision over the hits of `windows`
    (each round's snapshot, a line counted once); Spearman over the rules with ≥ `min_checked` checked
    hits, and the share of those rules' pairs in the true order among pairs whose true precisions
    differ by more than 0.05 (what a finite sample can tell apart)."""
    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr

    from records import checked_lines, rule_quality

    quality = rule_quality(checked_lines(db))
    every = pd.concat(windows, ignore_index=True).drop_duplicates()
    every["fraud"] = prov.answer(every, 0.0)
    true = every.groupby("rule_id").agg(hits=("fraud", "size"), precision=("fraud", "mean")).reset_index()
    both = quality.merge(true, on="rule_id", how="left")
    judged = both[(both["checked"] >= min_checked) & both["precision"].notna()]
    rho = float(spearmanr(judged["confirmed_share"], judged["precision"]).statistic) if len(judged) >= 3 else None
    p, q = judged["precision"].to_numpy(), judged["confirmed_share"].to_numpy()
    i, j = np.triu_indices(len(judged), 1)
    apart = np.abs(p[i] - p[j]) > 0.05
    agree = np.sign(p[i] - p[j])[apart] == np.sign(q[i] - q[j])[apart]
    return {
        "spearman": None if rho is None or rho != rho else round(rho, 4), "n_rules": len(judged),
        "pairs_apart": int(apart.sum()), "pairs_in_order": round(float(agree.mean()), 4) if apart.any() else None,
        "lines_checked": int(quality["checked"].sum()) if not quality.empty else 0,
        "rules": both[["rule_id", "checked", "confirmed_share", "precision", "hits", "review"]]
        .sort_values("precision", ascending=False).round(4).to_dict("records"),
    }  # fmt: skip
