"""Throughput of the synthetic province against a bare numpy baseline.

Runs `simulate` at a scale (default large) into a temp dir and prints fee lines, seconds, fee
lines/s and peak RSS; then times a bare numpy generator of the same number of random fee lines
(ids, amounts, codes; no Parquet) and prints the ratio, so the cost of realism and writing shows.

    .venv/bin/python benchmarks/bench_simulate.py --scale 250
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from simulator import simulate


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="large", help="demo, large or a number of facilities")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        res = simulate(Path(d), seed=args.seed, scale=args.scale)
        size = sum(p.stat().st_size for p in Path(d).rglob("*.parquet"))
    n = res["counts"]["fee_list_d"]
    secs = res["seconds"]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    b = baseline(n)
    print(f"scale            {args.scale}")
    print(f"fee lines        {n:,}")
    print(f"visits           {res['counts']['mdtrt_d']:,}")
    print(f"seconds          {secs:.1f}")
    print(f"fee lines/s      {n / secs:,.0f}")
    print(f"parquet size     {size / 1e6:,.0f} MB")
    print(f"peak RSS         {rss_mb:,.0f} MB")
    print(f"numpy baseline   {b:.1f} s ({n / b:,.0f} lines/s, no realism, no writing)")
    print(f"ratio            {secs / b:.1f}× the baseline")


if __name__ == "__main__":
    main()
