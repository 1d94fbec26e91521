"""feijian's synthetic province: claims in national-platform fields with violations as mechanisms.

`simulate(out, seed, scale, evasion, rings)` writes out/input/<table>/part-NNNNN.parquet (exactly the
contract in features.schema), out/truth/ (what really happened, for evaluation only) and
out/meta.json. `simulator.campaign.Province` steps the same province round by round.
"""

from __future__ import annotations

from pathlib import Path


def simulate(out: Path, seed: int = 7, scale: str | int = "demo", progress: bool = False,
             evasion: str = "normal", rings: str = "planted") -> dict:
    """Generate the province; returns counts per table, seconds, fee lines/s and the paths written."""
    from simulator.engine import run

    cb = None
    if progress:
        def cb(m: int, lines: int) -> None:
            print(f"month {m + 1}/36: {lines:,} fee lines", flush=True)
    return run(Path(out), seed=seed, scale=scale, progress=cb, evasion=evasion, rings=rings)


__all__ = ["simulate"]
