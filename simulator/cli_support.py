"""The `feijian simulate` command's body: run with a rich progress bar, then a short summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.config import N_MONTHS, month_label
from simulator.engine import run


def run_simulate(out: Path, seed: int, scale: str, console: Console, evasion: str = "normal",
                 rings: str = "planted") -> None:
    with Progress(TextColumn("[bold]simulate[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as prog:
        task = prog.add_task("months", total=N_MONTHS)

        def cb(m: int, lines: int) -> None:
            prog.update(task, completed=m + 1, description=f"{month_label(m)} · {lines:,} fee lines")

        res = run(Path(out), seed=seed, scale=scale, progress=cb, evasion=evasion, rings=rings)
    extra = ("" if evasion == "normal" else f", evasion {evasion}") + ("" if rings == "planted" else f", rings {rings}")
    tbl = Table(title=f"synthetic province (seed {seed}, scale {scale}{extra})", show_header=True)
    tbl.add_column("table")
    tbl.add_column("rows", justify="right")
    for name, n in res["counts"].items():
        tbl.add_row(name, f"{n:,}")
    console.print(tbl)
    console.print(f"{res['counts']['fee_list_d']:,} fee lines in {res['seconds']:.1f} s "
                  f"({res['fee_lines_per_second']:,.0f} lines/s)")
    console.print(f"input (what a bureau exports): {res['input']}")
    console.print(f"truth (evaluation only, never read by the pipeline): {res['truth']}")
