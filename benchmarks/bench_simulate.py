"""Throughput of the synthetic province against a bare numpy baseline (and an older version).

Runs `simulate` at a scale (default large) into a temp dir and prints fee lines, seconds, fee
lines/s, CPU seconds and peak RSS; then times a bare numpy generator of the same number of random
fee lines (ids, amounts, codes; no Parquet) and prints the ratio, so the cost of realism and
writing shows. With `--baseline-ref REF` the same scale is first simulated by the code at git REF
(extracted with `git archive`, run in its own process) and the new/old speed ratio is printed:
on a shared machine only ratios measured in one run are comparable.

    .venv/bin/python benchmarks/bench_simulate.py --scale 250 [--baseline-ref 9b124f6]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def baseline(n: int, seed: int = 0, chunk: int = 2_000_000) -> float:
    """Seconds to draw n random fee lines (ids, codes, counts, prices, amounts, times) with numpy."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(chunk, n - done)
        ids = np.arange(done, done + k, dtype=np.int64)
        visit = rng.integers(0, k // 4 + 1, k)
        item = rng.integers(0, 300, k)
        cnt = rng.integers(1, 4, k).astype(np.float64)
        pric = np.round(rng.lognormal(3, 1, k), 2)
        amt = np.round(cnt * pric, 2)
        t = rng.integers(1_640_995_200, 1_735_689_599, k)
        _ = (ids, visit, item, amt, t)
        done += k
    return time.perf_counter() - t0


def measure(scale: str, seed: int) -> dict:
    """Simulate in this process; fee lines, seconds, CPU seconds, peak RSS, output size."""
    from simulator import simulate

    c0 = time.process_time()
    with tempfile.TemporaryDirectory() as d:
        res = simulate(Path(d), seed=seed, scale=scale)
        size = sum(p.stat().st_size for p in Path(d).rglob("*.parquet"))
    return {"fee": res["counts"]["fee_list_d"], "visits": res["counts"]["mdtrt_d"], "seconds": res["seconds"],
            "cpu": time.process_time() - c0, "bytes": size,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "code": str(Path(sys.modules["simulator"].__file__).parent.parent)}


def run_child(scale: str, seed: int, code_dir: Path | None = None) -> dict:
    """`measure` in a fresh process (its own peak RSS), importing the simulator from code_dir if given."""
    env = dict(os.environ)
    if code_dir is not None:
        env["PYTHONPATH"] = str(code_dir)
    out = subprocess.run([sys.executable, __file__, "--measure-only", "--scale", scale, "--seed", str(seed)],
                         check=True, capture_output=True, text=True, env=env, cwd=code_dir or ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def extract(ref: str, dest: Path) -> Path:
    """The repository's tree at `ref`, unpacked into dest (no checkout, no worktree)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _print(label: str, r: dict) -> None:
    n, secs = r["fee"], r["seconds"]
    print(f"{label} ({r['code']}): {n:,} fee lines, {r['visits']:,} visits, {secs:.1f} s, {n / secs:,.0f} fee lines/s, "
          f"CPU {r['cpu']:.1f} s, peak RSS {r['rss_mb']:,.0f} MB, Parquet {r['bytes'] / 1e6:,.0f} MB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="large", help="demo, large or a number of facilities")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--baseline-ref", help="also simulate with the code at this git ref and print the ratio")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.scale, args.seed)))
        return
    base = None
    if args.baseline_ref:
        with tempfile.TemporaryDirectory(prefix="bench-sim-base-") as d:
            base = run_child(args.scale, args.seed, extract(args.baseline_ref, Path(d)))
        _print(f"baseline {args.baseline_ref}", base)
    r = run_child(args.scale, args.seed)
    _print("this tree", r)
    n, secs = r["fee"], r["seconds"]
    b = baseline(n)
    print(f"scale            {args.scale}")
    print(f"fee lines        {n:,}")
    print(f"visits           {r['visits']:,}")
    print(f"seconds          {secs:.1f}  (CPU {r['cpu']:.1f} s over both threads)")
    print(f"fee lines/s      {n / secs:,.0f}")
    print(f"parquet size     {r['bytes'] / 1e6:,.0f} MB")
    print(f"peak RSS         {r['rss_mb']:,.0f} MB")
    print(f"numpy baseline   {b:.1f} s ({n / b:,.0f} lines/s, no realism, no writing)")
    print(f"ratio            {secs / b:.1f}x the numpy baseline")
    if base is not None:
        same = "same" if base["fee"] == n else f"DIFFERENT ({base['fee']:,})"
        print(f"vs {args.baseline_ref:<12} {base['seconds'] / secs:.2f}x faster (wall), "
              f"{base['cpu'] / r['cpu']:.2f}x less CPU; peak RSS {base['rss_mb']:,.0f} -> {r['rss_mb']:,.0f} MB; "
              f"fee lines {same}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
