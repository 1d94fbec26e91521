"""The demo's reports: the next round's plan and report, and the top targets' facility reports."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from feijian.settings import Workspace

TOP_REPORTS = 5


def run_demo_reports(workspace: Path, models: Path, capacity: int, console: Console) -> dict[str, Path]:
    from serving.plan import plan_round
    from serving.reports.facility import write_facility_reports
    from serving.reports.round import write_round_report
    from serving.state import load_state

    state = load_state(workspace, models)
    explainer = state.explainer
    plan = plan_round(explainer.scored(), state.inspections(), state.as_of, capacity, seed=0,
                      rings=explainer.rings.units())
    out = Workspace(Path(workspace)).reports
    paths = write_round_report(plan, explainer, out)
    m = plan.meta
    console.print(
        f"  round {state.as_of}: {m['n_targets']} targets of capacity {m['capacity']} "
        f"({m['exploration']['n']} exploration picks), expected recovery {m['expected_total']:,.0f} yuan"
    )
    console.print(f"  round report: {paths['pdf']} · {paths['xlsx']} · {paths['html']}")
    model_picks = plan.targets[plan.targets["pick"] == "model"]["fixmedins_code"].head(TOP_REPORTS)
    done = write_facility_reports(explainer, [str(c) for c in model_picks], out)
    for code, fac in done.items():
        console.print(f"  facility report {code}: {fac['pdf']}")
    state.db.dispose()
    return paths
