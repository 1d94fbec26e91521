"""The numbers a supervisor reads, checked against issue #19's targets on a trained workspace.

Runs `feijian evaluate --truth` (the backtest with the chosen calibration) and scores the latest
snapshot with the champion, then prints each target with what was measured:

- reliability on the random slice: ECE (5 equal-width bins, as the evaluation report) ≤ 0.05, and
  the 10-bin figure beside it; no probability above the Wilson-supported ceiling;
- at most 5 % of the facilities share one displayed risk value (as the page and reports print it);
- coverage of the recovered-amount interval on the backtest's inspections within ±5 points;
- physicians: the exposure ranking ≥ the rule-hit ranking at k = 25, 50, 100 and ≥ 0.80 of the
  oracle at k = 50 on the held-out (latest) round;
- the facility model's held-out oracle share ≥ 0.93.

    .venv/bin/python benchmarks/bench_trust.py --workspace workspace --models models --truth province/truth
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pandas as pd
from rich.console import Console

from features.snapshot.build import latest_snapshot
from serving.reports.render import pct
from training.bundle import Bundle, champion_path
from training.calibration import Calibrator
from training.evaluate_run import run_evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, default=Path("workspace"))
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--mlruns", type=Path, default=Path("mlruns"))
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()

    report = run_evaluate(a.workspace, a.mlruns, a.models, a.truth, Console(file=io.StringIO()))
    bundle = Bundle.load(champion_path(a.models))
    fac = bundle.facility_context(pd.read_parquet(latest_snapshot(a.workspace) / "facility.parquet"))
    s = bundle.score_facilities(fac)
    cal = Calibrator.from_json(bundle.calibration["facility"])
    shown = s["p_serious"].map(pct)
    method = report["calibration"]["method"]
    rs = report["calibration"]["methods"][method]["random_slice"]
    iv = report["recovery_interval"]
    held = report["rounds"][-1]
    docs = report["physicians"][-1]
    rows = [
        ("calibration method (chosen on the backtest)", method, True),
        ("ECE random slice, 5 bins ≤ 0.05", f"{rs['ece']:.3f} (10 bins {rs['ece_10_bins']:.3f}, n={rs['n']})",
         rs["ece"] <= 0.05),
        ("backtest probabilities above the supported ceiling = 0",
         str(report["calibration"]["methods"][method]["all"]["above_supported"]),
         report["calibration"]["methods"][method]["all"]["above_supported"] == 0),
        ("champion: max p < Wilson-supported ceiling", f"{s['p_serious'].max():.3f} < {cal.hi:.3f}",
         s["p_serious"].max() < cal.hi),
        ("largest share of facilities on one displayed risk ≤ 5 %",
         f"{shown.value_counts().iloc[0] / len(s):.1%} ({shown.value_counts().index[0]}, {len(s)} facilities)",
         shown.value_counts().iloc[0] / len(s) <= 0.05),
        (f"recovery interval coverage {iv['level']:.0%} ± 5 pts (leave one round out)",
         f"{iv['coverage_leave_one_round_out']:.3f} (in sample {iv['coverage_in_sample']:.3f}, n={iv['n']})",
         abs(iv["coverage_leave_one_round_out"] - iv["level"]) <= 0.05),
        (f"held-out {held['round']} facility oracle share ≥ 0.93", f"{held['model']['oracle_share']:.3f}",
         held["model"]["oracle_share"] >= 0.93),
    ]
    for k in (25, 50, 100):
        e, r = docs["exposure"][f"oracle_share_at_{k}"], docs["rule_hits"][f"oracle_share_at_{k}"]
        m = docs.get("model", {}).get(f"oracle_share_at_{k}")
        rows.append((f"physicians {docs['round']} k={k}: exposure ≥ rule hits", f"{e:.3f} vs {r:.3f} (points model "
                     f"{'—' if m is None else f'{m:.3f}'})", e >= r))  # fmt: skip
    e50 = docs["exposure"]["oracle_share_at_50"]
    rows.append(("physicians k=50 ≥ 0.80 of the oracle", f"{e50:.3f}", e50 >= 0.80))
    width = max(len(r[0]) for r in rows)
    for name, got, ok in rows:
        print(f"{'ok ' if ok else 'MISS'} {name:<{width}}  {got}")
    if a.json:
        a.json.write_text(json.dumps([{"target": n, "measured": g, "met": bool(o)} for n, g, o in rows],
                                     ensure_ascii=False, indent=1), encoding="utf-8")  # fmt: skip


if __name__ == "__main__":
    main()
