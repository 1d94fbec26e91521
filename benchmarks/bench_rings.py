"""Are the planted rings found, are the look-alikes left out, and do joint inspections help? (issue #23)

    .venv/bin/python benchmarks/bench_rings.py [--seeds 7 3 11] [--out /tmp/bench-rings] [--reuse]

For each seed, `feijian demo --no-serve` simulates the demo province (rings planted), ingests it,
builds a snapshot for every training round and trains. Then, with the simulator's truth (read here
only):
- detection, in every snapshot: a planted ring active in at least 3 months of the snapshot's window
  is *found* when one reported ring holds ≥ 70 % of its member facilities; a reported ring is a
  *look-alike* when two or more of its facilities are those of one honest look-alike (a household, a
  chronic-care pharmacy beside a hospital). Targets: ≥ 80 % found, ≤ 20 % of the reported look-alikes.
- the plan, on the newest snapshot (the held-out round): capacity 10, 20 and 30, no exploration, with
  and without joint ring inspections; the true amount taken in the window at the planned facilities,
  over the oracle's (the k eligible facilities that took most).
- cost: the ring step's seconds in each snapshot's build against the whole build.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FEIJIAN = Path(sys.executable).with_name("feijian")


def demo(out: Path, seed: int, reuse: bool) -> Path:
    run = out / f"seed-{seed}"
    if reuse and (run / "models").is_dir():
        return run
    run.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(FEIJIAN), "demo", "--no-serve", "--seed", str(seed), "--workspace", "ws", "--out", "province",
                    "--mlruns", "mlruns", "--models", "models"], cwd=run, check=True, stdout=subprocess.DEVNULL)
    return run


def detection(run: Path) -> list[dict]:
    truth = pd.read_parquet(run / "province/truth/rings.parquet")
    rows = []
    for snap in sorted((run / "ws/features").glob("20*_w12_*")):
        meta = json.loads((snap / "meta.json").read_text(encoding="utf-8"))
        start, end = pd.Period(meta["window_start"], "M"), pd.Period(meta["as_of"], "M") - 1
        reported = [set(f.split(";")) for f in pd.read_parquet(snap / "rings.parquet")["facilities"]]
        found = active = 0
        for t in truth[~truth["honest"]].itertuples():
            s, e = max(pd.Period(t.start_month, "M"), start), min(pd.Period(t.end_month, "M"), end)
            if e < s or (e - s).n + 1 < 3:
                continue
            active += 1
            members = set(t.facilities.split(";"))
            found += max((len(members & r) / len(members) for r in reported), default=0.0) >= 0.7
        honest = [set(f.split(";")) for f in truth[truth["honest"]]["facilities"]]
        look = sum(any(len(r & h) >= 2 for h in honest) for r in reported)
        secs = meta["seconds"]
        ring_s = secs.get("ring detection", 0.0) + secs.get("rings", 0.0)  # the graph, then the family's SQL
        rows.append({"as_of": meta["as_of"], "active": active, "found": found, "reported": len(reported),
                     "look_alikes": look, "ring_s": ring_s, "build_s": sum(secs.values())})
    return rows


def plans(run: Path) -> list[dict]:
    from serving.explain import Explainer
    from serving.plan import plan_round
    from training.bundle import Bundle, champion_path
    from training.evaluate import truth_amounts

    ex = Explainer.build(run / "ws", Bundle.load(champion_path(run / "models")))
    truth = truth_amounts(run / "province/truth", ex.as_of)
    scored, insp = ex.scored(), ex.inspections()
    every = plan_round(scored, insp, ex.as_of, min(500, len(scored)), exploration_share=0.0)
    eligible = truth.reindex(every.targets["fixmedins_code"]).fillna(0.0).sort_values(ascending=False)
    out = []
    for k in (10, 20, 30):
        best = float(eligible.head(k).sum())
        row = {"k": k, "oracle": best}
        for joint in (False, True):
            plan = plan_round(scored, insp, ex.as_of, k, exploration_share=0.0, rings=ex.rings.units(),
                              joint_rings=joint)
            got = float(truth.reindex(plan.targets["fixmedins_code"]).fillna(0.0).sum())
            row["joint" if joint else "alone"] = got / best if best else float("nan")
            if joint:
                row["rings_planned"] = sum(r["joint"] for r in plan.meta["rings"])
            else:
                row["rings_marked"] = len(plan.meta["rings"])
        out.append(row)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 3, 11])
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-rings"))
    ap.add_argument("--reuse", action="store_true", help="keep a seed's demo run when it is already there")
    args = ap.parse_args()
    report = {}
    for seed in args.seeds:
        run = demo(args.out, seed, args.reuse)
        det, pl = detection(run), plans(run)
        report[seed] = {"detection": det, "plans": pl}
        active, found = sum(r["active"] for r in det), sum(r["found"] for r in det)
        reported, look = sum(r["reported"] for r in det), sum(r["look_alikes"] for r in det)
        ring_s, build_s = sum(r["ring_s"] for r in det), sum(r["build_s"] for r in det)
        print(f"seed {seed}: found {found}/{active} planted rings ({found / max(active, 1):.0%}); "
              f"look-alikes {look}/{reported} reported ({look / max(reported, 1):.0%}); "
              f"ring step {ring_s:.2f} s of {build_s:.1f} s of builds ({ring_s / build_s:.1%})")
        for r in pl:
            print(f"  k={r['k']}: oracle share alone {r['alone']:.3f} ({r['rings_marked']} ring(s) with a member "
                  f"planned), with joint rings {r['joint']:.3f} ({r['rings_planned']} planned jointly)")
    (args.out / "rings.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
