"""Does rule quality from inspectors' verdicts rank the rules as their true precision does? (issue #22)

    .venv/bin/python benchmarks/bench_rule_quality.py [--seeds 7 8 9] [--errors 0 0.05 0.1] \
        [--rounds 2 --check-lines 60 --scale demo --out /tmp/bench-quality]

For each seed and inspector error, `feijian campaign` runs feijian alone (exploration share 0.1) for
`--rounds` campaign rounds on the demo province: every pick is a case whose 疑点清单 the inspection
team checks, its `--check-lines` largest lines each answered by the simulator from its truth, flipped
with probability `--error` (feijian.campaign_cases). After the last round, `records.worklist.rule_quality`
gives each rule's confirmed share; the truth gives each rule's precision over every hit in the rounds'
windows. Reported: Spearman between the two over the rules with ≥ 10 checked hits (the target ≥ 0.8),
and the share of pairs of those rules whose true precisions differ by more than 0.05 that the
confirmed shares put in the same order (a tie in truth cannot be put in order by any sample).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from feijian.campaign import run_campaign
from feijian.campaign_cases import Inspectors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    ap.add_argument("--errors", type=float, nargs="+", default=[0.0, 0.05, 0.1])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--check-lines", type=int, default=Inspectors.check_lines)
    ap.add_argument("--scale", default="demo")
    ap.add_argument("--out", type=Path, default=None, help="keep the campaigns here (default: a temp dir)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        base = args.out or Path(tmp)
        for error in args.errors:
            for seed in args.seeds:
                t0 = time.perf_counter()
                report = run_campaign(base / f"e{error:g}_s{seed}", seed=seed, scale=args.scale, rounds=args.rounds,
                                      policies=["feijian"], shares=[0.1], console=Console(quiet=True),
                                      team=Inspectors(args.check_lines, error))  # fmt: skip
                q = next(iter(report["rule_quality"].values()))
                rows.append({"error": error, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
                             **{k: v for k, v in q.items() if k != "rules"}})
                flagged = [r["rule_id"] for r in q["rules"] if r["review"]]
                print(f"error {error:>4.0%} seed {seed}: {q['lines_checked']:>5,} lines checked, Spearman "
                      f"{q['spearman']} over {q['n_rules']} rules, {q['pairs_in_order']} of {q['pairs_apart']} "
                      f"clearly different pairs in order; flagged {', '.join(flagged) or 'none'} "
                      f"({rows[-1]['seconds']:.0f} s)", flush=True)
    print()
    for error in args.errors:
        got = [r for r in rows if r["error"] == error]
        rho = [r["spearman"] for r in got if r["spearman"] is not None]
        pairs = [r["pairs_in_order"] for r in got if r["pairs_in_order"] is not None]
        if not rho or not pairs:
            print(f"error {error:.0%}: too few rules with ≥ 10 checked hits to rank on any seed")
            continue
        print(f"error {error:.0%}: Spearman mean {statistics.mean(rho):.3f} (min {min(rho):.3f}, max {max(rho):.3f}); "
              f"clearly different pairs in order: mean {statistics.mean(pairs):.3f} over {len(got)} seeds "
              f"(target Spearman ≥ 0.8)")
    print(json.dumps(rows, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
