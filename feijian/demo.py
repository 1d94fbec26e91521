"""`feijian demo`: the main job end to end on the built-in synthetic province.

Each stage is the same code the individual commands run; the demo only chains them and prints where
the results are. The province's truth is written apart and read by nothing here but evaluation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule


def _stage(console: Console, title: str) -> float:
    console.print(Rule(f"[bold]{title}"))
    return time.perf_counter()


def run_demo(workspace: Path, out: Path, seed: int, scale: str, console: Console) -> None:
    from features.ingest_cli import run_ingest
    from features.pseudonym import ensure_demo_key
    from simulator.cli_support import run_simulate

    t0 = time.perf_counter()
    t = _stage(console, "1/3 模拟省份 simulate")
    run_simulate(out=out, seed=seed, scale=scale, console=console)
    console.print(f"  simulate: {time.perf_counter() - t:.1f} s")

    t = _stage(console, "2/3 数据接入 ingest")
    key_path = ensure_demo_key(workspace)
    console.print(f"  pseudonym key (generated for the demo, outside the repository): {key_path}")
    run_ingest(
        src=out / "input",
        workspace=workspace,
        adapter=None,
        encoding="utf-8",
        max_reject_share=0.05,
        now=None,
        console=console,
    )
    console.print(f"  ingest: {time.perf_counter() - t:.1f} s")

    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    as_of = meta["next_round_date"]
    t = _stage(console, f"3/3 特征与规则 features (as_of {as_of})")
    from features.build_cli import run_features

    run_features(workspace=workspace, as_of=as_of, window_months=12, engine="duckdb", console=console)
    console.print(f"  features: {time.perf_counter() - t:.1f} s")

    console.print(Rule("[bold green]完成 done"))
    console.print(f"  synthetic province: {out}/input (claims), {out}/truth (hidden truth, evaluation only)")
    console.print(f"  workspace:          {workspace} (raw/, quarantine/, features/, manifest.json)")
    console.print(f"  total: {time.perf_counter() - t0:.1f} s")
