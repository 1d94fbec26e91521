"""The month loop of `simulate`: a stepping province with the bureau's own choice at every round.

Inspections run at each quarter's first month using only what happened before it, and their
findings change behaviour from the month after the visit, so the labels are endogenous the way
real ones are. At most three months of fee lines are in memory: one being generated, one being
settled (on its own thread), one waiting for or in the Parquet writer (see simulator.campaign).
"""

from __future__ import annotations

from pathlib import Path

from simulator.campaign import Progress, Province
from simulator.config import day_of


def run(out: Path, seed: int = 7, scale: str | int = "demo", progress: Progress | None = None,
        evasion: str = "normal", rings: str = "planted") -> dict:
    """Generate the province with the historical selection at every round month; see `Province.finish`."""
    with Province(out, seed=seed, scale=scale, evasion=evasion, progress=progress, rings=rings) as p:
        for m in p.round_months:
            p.advance(m, export=False)  # the export is written once, at the end
            p.inspect(m, p.historical(m))
        return p.finish()


__all__ = ["day_of", "run"]
