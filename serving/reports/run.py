"""`feijian report`: a facility report (`--facility CODE`) or the next round's plan and report (`--round`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from feijian.errors import InputError
from feijian.settings import Workspace
from training.bundle import Bundle, champion_path


def run_report(
    workspace: Path,
    models_dir: Path,
    out: Path | None,
    facility: str | None,
    round_: bool,
    plan_kwargs: dict[str, Any],
    console: Console,
    snapshot: Path | None = None,
) -> dict[str, Path]:
    from serving.explain import Explainer

    if bool(facility) == bool(round_):
        raise InputError("give exactly one of --facility CODE or --round")
    out_dir = Path(out) if out else Workspace(Path(workspace)).reports
    bundle = Bundle.load(champion_path(models_dir))
    with console.status("scoring and explaining the snapshot (cached after the first run)"):
        explainer = Explainer.build(Path(workspace), bundle, snapshot)
    if facility:
        from serving.reports.facility import write_facility_report

        with console.status(f"writing the report for {facility}"):
            paths = write_facility_report(explainer, facility, out_dir)
    else:
        from serving.plan import plan_round
        from serving.reports.round import write_round_report

        plan = plan_round(explainer.scored(), explainer.inspections(), explainer.as_of,
                          **{"rings": explainer.rings.units(), **plan_kwargs})
        with console.status("writing the round report"):
            paths = write_round_report(plan, explainer, out_dir)
        m = plan.meta
        console.print(
            f"planned {m['n_targets']} of capacity {m['capacity']} ({m['exploration']['n']} exploration picks); "
            f"expected recovery {m['expected_total']:,.0f} yuan; excluded: {m['exclusions']}"
        )
    for kind, p in paths.items():
        console.print(f"  {kind:5} {p}")
    return paths


def parse_caps(values: list[str] | None) -> dict[str, int] | None:
    """'330102=3' → {'330102': 3}."""
    if not values:
        return None
    caps = {}
    for v in values:
        region, sep, n = v.partition("=")
        if not sep or not n.strip().isdigit():
            raise InputError(f"--region-cap takes REGION=N (e.g. 330102=3); got {v!r}")
        caps[region.strip()] = int(n)
    return caps
