"""Does rule quality from inspectors' verdicts rank the rules as their true precision does? (issue #22)

    .venv/bin/python benchmarks/bench_rule_quality.py --workspace ws --models models --truth province/truth \
        [--rounds 2 --capacity 30 --lines 60 --error 0.1 --seed 0]

On a trained workspace (`feijian demo --no-serve`):
1. Rounds of `--capacity` facilities are planned from the champion's ranking; round k takes the next
   facilities in the ranking, so no facility is visited twice. The campaign's advance of time between
   rounds is not simulated: every round reads the same snapshot.
2. Each planned facility becomes a case, through the same records API the service uses: the case is
   opened, assigned, taken on site and its 疑点清单 kept.
3. The inspector checks the `--lines` largest lines of each case, answered from the simulator's truth
   with an inspector's error: a line whose claim is fraudulent in the truth is confirmed, any other line
   is rejected, and each verdict is flipped with probability `--error`.
4. `records.worklist.rule_quality` gives each rule's confirmed share. This is compared with the rule's
   precision over every hit in the window (`feijian rules measure`'s, against the same truth) by the
   Spearman correlation over the rules with at least 10 checked hits.

The truth is read only here, to answer as an inspector would and to score.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.rules.cli import measure_rules
from records import keep_lines, mark, move, open_cases, open_records, save_round
from records.worklist import REVIEW_MIN_CHECKED, checked_lines, lines, rule_quality
from serving.explain import Explainer
from serving.permissions import ROLES
from simulator.codes import PATTERNS
from training.bundle import Bundle, champion_path

PLANNER = ("bench-planner", "planner", ROLES["planner"])
SUPERVISOR = ("bench-inspector", "supervisor", ROLES["supervisor"])


def fraudulent(truth: Path) -> tuple[set[str], set[str]]:
    """Fee lines and visits the truth marks fraudulent (a fee line's visit counts too, as rules measure)."""
    fl = duckdb.sql(f"SELECT feedetl_sn, mdtrt_id FROM read_parquet('{truth}/fraud_lines.parquet')").df()
    fv = duckdb.sql(f"SELECT mdtrt_id FROM read_parquet('{truth}/fraud_visits.parquet')").df()
    return set(fl["feedetl_sn"].dropna()), set(fl["mdtrt_id"].dropna()) | set(fv["mdtrt_id"].dropna())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--models", type=Path, required=True)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--capacity", type=int, default=30)
    ap.add_argument("--lines", type=int, default=60, help="lines an inspector checks per case (largest first)")
    ap.add_argument("--error", type=float, default=0.1, help="chance an inspector's verdict is the wrong one")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    explainer = Explainer.build(args.workspace, Bundle.load(champion_path(args.models)))
    ranked = explainer.scored().sort_values(["expected_recovery", "p_serious"], ascending=False, kind="mergesort")
    codes = ranked["fixmedins_code"].astype(str).tolist()
    bad_lines, bad_visits = fraudulent(args.truth)
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        db = open_records(Path(tmp), f"sqlite:///{Path(tmp) / 'records.db'}")
        day = explainer.as_of
        for k in range(args.rounds):
            picked = codes[k * args.capacity:(k + 1) * args.capacity]
            head = {"level": "facility", "as_of": day, "period_begn": day, "period_end": day, "snapshot_id": "bench",
                    "model_version": "bench", "capacity": len(picked), "request": "{}"}
            rid = save_round(db, head, [{"rank": i + 1, "fixmedins_code": c, "pick": "model", "probability": 1.0,
                                         "reasons": "[]"} for i, c in enumerate(picked)], "bench")
            for cid, code in zip(open_cases(db, rid, *PLANNER[:2]), picked, strict=True):
                move(db, cid, "assigned", *PLANNER, team=["检查组"], window_begin=day, window_end=day)
                move(db, cid, "on_site", *SUPERVISOR)
                keep_lines(db, cid, explainer.evidence(code))
                marks = []
                for ln in lines(db, cid)[: args.lines]:
                    true = (ln["feedetl_sn"] in bad_lines) if ln["hit_level"] == "fee_line" else False
                    true = true or ln["mdtrt_id"] in bad_visits
                    verdict = true if rng.random() >= args.error else not true
                    marks.append({"line_key": ln["line_key"], "verdict": "confirmed" if verdict else "rejected"})
                if marks:
                    mark(db, cid, marks, SUPERVISOR[0])
        quality = rule_quality(checked_lines(db))
        db.dispose()
    measured = measure_rules(args.workspace, args.truth, str(explainer.as_of), 12, Console(file=io.StringIO()),
                             patterns=PATTERNS)
    both = quality.merge(measured[["rule_id", "name_zh", "precision", "hits"]], on="rule_id", how="left")
    judged = both[both["checked"] >= REVIEW_MIN_CHECKED].dropna(subset=["precision"])
    rho = spearmanr(judged["confirmed_share"], judged["precision"]).statistic if len(judged) >= 3 else float("nan")
    pd.set_option("display.width", 200)
    print(both[["rule_id", "name_zh", "checked", "confirmed_share", "precision", "hits", "review"]]
          .sort_values("precision", ascending=False).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{args.rounds} rounds × {args.capacity} cases, {args.lines} lines checked per case, inspector error "
          f"{args.error:.0%}, seed {args.seed}: {int(quality['checked'].sum()):,} lines checked over "
          f"{len(quality)} rules; Spearman(confirmed share, true precision) over the {len(judged)} rules with "
          f"≥ {REVIEW_MIN_CHECKED} checked hits = {rho:.3f} (target ≥ 0.8)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
