"""Time explanations: SHAP contributions for every facility and physician, and top-30 reports.

Contributions: the champion bundle scores the snapshot (context, calibrated risk, amount) and
computes `pred_contrib` for all facilities and physicians — what `Explainer.build` does once per
(snapshot, model). The large province (3,000 facilities, ~19,000 physicians) takes many minutes to
simulate here, so by default the demo snapshot's rows are replicated `--replicate` times (12 × 250
facilities = 3,000): tree-walking cost depends on rows and trees, not on which rows they are.
Reports: HTML + PDF + Excel for the `--top` facilities of the plan.

    .venv/bin/python benchmarks/bench_explain.py --workspace workspace --models models --replicate 12 --top 30
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from explain import contrib as cb
from features.snapshot.build import latest_snapshot
from serving.explain import Explainer
from serving.reports.facility import write_facility_report, write_facility_reports
from training.bundle import Bundle, champion_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import workspace_parser


def replicate(frame: pd.DataFrame, times: int, keys: list[str]) -> pd.DataFrame:
    parts = []
    for k in range(times):
        part = frame.copy()
        for key in keys:
            part[key] = part[key].astype(str) + f"~{k}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def bench_contributions(workspace: Path, bundle: Bundle, times: int) -> dict[str, float]:
    snap = latest_snapshot(workspace)
    fac = replicate(pd.read_parquet(snap / "facility.parquet"), times, ["fixmedins_code"])
    dr = replicate(pd.read_parquet(snap / "physician.parquet"), times, ["dr_code", "fixmedins_code"])
    t0 = time.perf_counter()
    fac = bundle.facility_context(fac)
    dr = bundle.physician_context(dr, fac)
    t1 = time.perf_counter()
    fs = pd.concat(
        [bundle.score_facilities(fac), cb.contributions(bundle.facility_risk, bundle.matrix(fac, "facility"))], axis=1
    )
    t2 = time.perf_counter()
    ds = pd.concat(
        [bundle.score_physicians(dr), cb.contributions(bundle.physician_risk, bundle.matrix(dr, "physician"))], axis=1
    )
    t3 = time.perf_counter()
    assert len(fs) == len(fac) and len(ds) == len(dr)
    return {
        "facilities": len(fac),
        "physicians": len(dr),
        "context_s": t1 - t0,
        "facility_score_shap_s": t2 - t1,
        "physician_score_shap_s": t3 - t2,
        "total_s": t3 - t0,
        "trees_facility": bundle.facility_risk.num_trees(),
        "trees_physician": bundle.physician_risk.num_trees() if bundle.physician_risk else 0,
    }


def bench_reports(workspace: Path, bundle: Bundle, top: int) -> dict[str, float]:
    t0 = time.perf_counter()
    ex = Explainer.build(workspace, bundle)
    t1 = time.perf_counter()
    codes = ex.scored()["fixmedins_code"].head(top).tolist()
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for code in codes:
            write_facility_report(ex, code, Path(tmp))
    t3 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        done = write_facility_reports(ex, codes, Path(tmp))
        assert len(done) == len(codes)
    t4 = time.perf_counter()
    return {"build_s": t1 - t0, "scored_s": t2 - t1, "reports": len(codes), "reports_s": t3 - t2,
            "per_report_s": (t3 - t2) / max(1, len(codes)), "parallel_s": t4 - t3}  # fmt: skip


def main() -> None:
    ap = workspace_parser(__doc__)
    ap.add_argument("--replicate", type=int, default=12)
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    bundle = Bundle.load(champion_path(args.models))
    c = bench_contributions(args.workspace, bundle, args.replicate)
    print(
        f"contributions: {c['facilities']:,} facilities + {c['physicians']:,} physicians "
        f"({c['trees_facility']} + {c['trees_physician']} trees): context {c['context_s']:.1f} s, "
        f"facility score+SHAP {c['facility_score_shap_s']:.1f} s, physician score+SHAP "
        f"{c['physician_score_shap_s']:.1f} s, total {c['total_s']:.1f} s (target < 60 s)"
    )
    r = bench_reports(args.workspace, bundle, args.top)
    print(
        f"reports: explainer build {r['build_s']:.1f} s (cached after the first), scored {r['scored_s']:.1f} s, "
        f"{r['reports']} facility reports (HTML+PDF+Excel) one by one {r['reports_s']:.1f} s = "
        f"{r['per_report_s']:.2f} s each; write_facility_reports on all cores {r['parallel_s']:.1f} s "
        f"({r['reports_s'] / r['parallel_s']:.2f}× faster, same run; target < 60 s)"
    )


if __name__ == "__main__":
    main()
