"""How much of the true taken amount the rule base can see, per evasion preset.

For each preset: simulate a province, ingest it, evaluate every rule of features/rules/rules.yaml
over the 36 months and join the hits with truth/ (tests/rule_visibility.py says how). Prints the
share of the taken amount no rule sees, in total and per pattern, and writes OUT/evasion.json.

    .venv/bin/python benchmarks/bench_evasion.py --scale demo --out /tmp/feijian-evasion
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import simulate
from tests.rule_visibility import invisible_share, measure


def run(preset: str, scale: str, seed: int, out: Path) -> dict:
    root, ws = out / preset / "province", out / preset / "workspace"
    if ws.exists():
        shutil.rmtree(ws)
    simulate(root, seed=seed, scale=scale, evasion=preset)
    per = measure(root, ws)
    def unseen(v: dict[str, float]) -> float | None:
        return round(max(0.0, 1 - v["seen"] / v["taken"]), 3) if v["taken"] else None

    return {"preset": preset, "scale": scale, "seed": seed, "taken": round(sum(v["taken"] for v in per.values()), 2),
            "rule_invisible_share": round(invisible_share(per), 4),
            "by_pattern": {p: {"taken": round(v["taken"], 2), "invisible_share": unseen(v)} for p, v in per.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="demo")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--presets", default="normal,high")
    ap.add_argument("--out", type=Path, default=Path("/tmp/feijian-evasion"))
    args = ap.parse_args()
    results = [run(p, args.scale, args.seed, args.out) for p in args.presets.split(",")]
    for r in results:
        share = 100 * r["rule_invisible_share"]
        print(f"{r['preset']}: {r['taken']:,.0f} yuan taken, {share:.1f} % where no rule sees it")
        for p, v in r["by_pattern"].items():
            share = "—" if v["invisible_share"] is None else f"{100 * v['invisible_share']:.0f} %"
            print(f"    {p:<24} {v['taken']:>12,.0f} ({100 * v['taken'] / r['taken']:4.1f} %)  unseen {share}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evasion.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
