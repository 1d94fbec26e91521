"""Terminal side of `feijian features`: progress display and summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.snapshot import registry
from features.snapshot.engine import parse_date
from feijian.errors import InputError

STEPS = ("staging", "rule engine", "ring detection", "physician", *registry.FAMILIES, "peer normalisation", "write")


def run_features(
    workspace: Path, as_of: str, window_months: int, engine: str, console: Console, spark_master: str | None = None
) -> None:
    from features.snapshot.build import ENGINES, build_snapshot

    if engine not in ENGINES:
        raise InputError(f"--engine must be one of: {', '.join(ENGINES)}; got {engine!r}")
    day = parse_date(as_of, flag="--as-of")
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("features", total=len(STEPS))

        def step(name: str) -> None:
            bar.update(task, description=f"features: {name}", completed=STEPS.index(name))

        snap = build_snapshot(workspace, day, window_months, progress=step, engine=engine, spark_master=spark_master)
    console.print(
        f"  snapshot [bold]{snap.snapshot_id}[/]: {len(snap.facility):,} facilities, "
        f"{len(snap.physician):,} physicians, {snap.n_evidence:,} rule hits (evidence), engine {engine}"
    )
    console.print(f"  written to {snap.path}")
    slow = sorted(snap.seconds.items(), key=lambda kv: -kv[1])[:4]
    console.print("  slowest steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in slow))


def list_features(console: Console, level: str | None = None) -> None:
    table = Table(title=f"feijian features (declaration {registry.declaration_version()})", show_lines=False)
    for col in ("name", "级别", "family", "中文名", "unit", "peer", "description"):
        table.add_column(col, overflow="fold")
    for f in registry.FEATURES:
        if level and f.level != level:
            continue
        table.add_row(
            f.name,
            "机构" if f.level == "facility" else "医师",
            f"{f.family} {registry.FAMILIES[f.family]}",
            f.label,
            f.unit,
            "✓" if f.peer else "",
            f.description,
        )
    console.print(table)
    console.print(
        f"{len(registry.features('facility'))} facility and {len(registry.features('physician'))} "
        "physician features; peer-normalised ones also give __pz (robust z) and __pct (percentile)."
    )
