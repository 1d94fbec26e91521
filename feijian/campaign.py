"""`feijian campaign`: the closed loop on the simulator — each round's findings teach the next round.

The province (simulator.campaign.Province) steps quarter by quarter. Its first `history_rounds`
rounds are the bureau's own (historical selection, findings in the export). Then, for each campaign
round planned on the first day of month m, under each policy:

- feijian (one run per exploration share): the export as of m → ingest → snapshot as of m →
  retrain with default parameters (the usual promotion rule) → plan under capacity → the plan saved as
  a round (records) → a case per pick → the simulator inspects the picks → each case is walked by the
  campaign's inspection team (feijian.campaign_cases: assigned, on site with its worklist checked line
  by line from the truth with an inspector's error, notified, decided with the simulator's finding) →
  the decision records the finding against its pick through the service's own step function → the
  next round's training reads them back; after the last round, the rule quality the verdicts give is
  scored against each rule's true precision.
- rules: ingest and snapshot, then the top `capacity` facilities by rule-hit amount.
- historical, random, oracle: the simulator's choosers (the oracle reads the truth; it is the
  yardstick, never a policy anyone could run).

Every policy runs on its own copy of the province from the same seed, so deterrence after a serious
finding follows that policy's own picks. Reported per round and cumulated: the true amount taken at
the inspected facilities in the 12 months before the round (the same yardstick for every policy,
from the truth), the amount recovered, the serious-finding and no-finding rates, and seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from features.facts import SERIOUS_ACTIONS, SERIOUS_RECOVERED
from feijian.campaign_cases import PLANNER, Inspectors, hits, rule_quality_against_truth, walk_case

BASELINES = ("historical", "rules", "random", "oracle")
DEFAULT_SHARES = (0.0, 0.1, 0.2)
CAMPAIGN_EXPERIMENT = "feijian-campaign"
TAKEN_MONTHS = 12  # the yardstick: true amount taken at a facility in this many months before the round
WINDOW_MONTHS = 12  # the snapshot's look-back: what a round's features read and what its visits check


@dataclass
class RoundResult:
    policy: str
    round: int
    as_of: str
    n_inspected: int
    taken_true: float
    recovered: float
    serious_rate: float
    no_finding_rate: float
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    round_id: str | None = None
    model_version: str | None = None
    examples: int | None = None  # training examples of the model that planned the round
    recorded_used: int | None = None  # of which findings recorded in earlier campaign rounds
    promoted: bool | None = None
    best_taken: float | None = None  # the oracle's pick in this policy's own province, same exclusions


def policy_names(policies: list[str], shares: list[float]) -> list[tuple[str, str, float]]:
    """(label, policy, exploration share) of every run: feijian once per share, each baseline once."""
    out: list[tuple[str, str, float]] = []
    for p in policies:
        if p == "feijian":
            out += [(f"feijian e={s:g}", "feijian", s) for s in shares]
        elif p in BASELINES:
            out.append((p, p, 0.0))
        else:
            raise ValueError(f"unknown policy {p!r}: use feijian, {', '.join(BASELINES)}")
    return out


def _month_day(m: int) -> date:
    """The first day of the simulator's month m, as a date (the simulator counts days from EPOCH)."""
    from simulator.config import EPOCH, month_first_day

    return EPOCH + timedelta(days=int(month_first_day(m)))


def _summary(rows: list[dict], taken: float, policy: str, k: int, as_of: date, seconds: float,
             steps: dict[str, float]) -> RoundResult:
    """One round's figures from the simulator's findings and the truth's taken amount."""
    n = len(rows)
    rec = [float(r.get("amount_recovered") or 0.0) for r in rows]
    serious = [
        rec_i >= SERIOUS_RECOVERED or r.get("agreement_action") in SERIOUS_ACTIONS or bool(r.get("referral"))
        for r, rec_i in zip(rows, rec, strict=True)
    ]
    empty = [rec_i <= 0 and not r.get("violation_types") for r, rec_i in zip(rows, rec, strict=True)]
    return RoundResult(policy, k, as_of.isoformat(), n, round(taken, 2), round(sum(rec), 2),
                       sum(serious) / n if n else 0.0, sum(empty) / n if n else 0.0, round(seconds, 1),
                       {s: round(v, 1) for s, v in steps.items()})  # fmt: skip


class _Timer:
    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - t


def _taken(prov: Any, codes: list[str], m: int) -> float:
    end = _month_day(m) - timedelta(days=1)
    start = _month_day(max(0, m - TAKEN_MONTHS))
    return float(sum(prov.taken(c, start, end) for c in codes))


def _quiet() -> Console:
    return Console(quiet=True)


def _ingest(prov: Any, ws: Path, m: int) -> None:
    from features.ingest import ingest

    ingest(prov.input, ws, now=_month_day(m))


def _snapshot(ws: Path, m: int) -> Path:
    from features.snapshot import build_snapshot

    return build_snapshot(ws, _month_day(m)).path


def _inspections(ws: Path, db: Any) -> pd.DataFrame:
    """Ingested and recorded findings as one table, a recorded insp_id winning: what plans exclude by."""
    from records import read_findings, union_findings
    from serving.sources import read_table

    recorded, _, _ = read_findings(db)
    return union_findings(recorded, read_table(ws, "inspections"))


def _feijian_round(prov: Any, ws: Path, run: Path, db: Any, m: int, k: int, capacity: int, share: float,
                   seed: int, timer: _Timer, team: Inspectors) -> tuple[list[dict], dict[str, Any]]:
    """One feijian round: ingest, snapshot, retrain, plan, save, inspect, walk the cases (which records
    the findings). Returns the findings and what the round's cases' rule hits were."""
    from records import get_round, open_cases
    from serving.explain import Explainer
    from serving.plan import plan_round
    from serving.rounds import save_plan
    from serving.schemas import PlanRequest
    from training.bundle import Bundle, champion_path
    from training.train import train_workspace

    timer("ingest", _ingest, prov, ws, m)
    timer("snapshot", _snapshot, ws, m)
    trained = timer("train", train_workspace, ws, run / "mlruns", run / "models", n_trials=0, seed=seed,
                    db_url=db.url)  # fmt: skip
    explainer = timer("load", lambda: Explainer.build(ws, Bundle.load(champion_path(run / "models"))))
    req = PlanRequest(capacity=capacity, exploration_share=share, seed=seed * 1000 + k)
    inspections = _inspections(ws, db)
    plan = timer("plan", plan_round, explainer.scored(), inspections, explainer.as_of, capacity,
                 **req.plan_kwargs(explainer.rings.units()))
    round_id = save_plan(db, plan, req, explainer.meta, "campaign")
    picks = get_round(db, round_id)["picks"]
    chosen = [(p["fixmedins_code"], _selection(p["pick"])) for p in picks]
    # the findings are recorded below, not exported; a visit checks the window the round's features read
    rows, points = timer("inspect", prov.inspect, m, chosen, exported=False, back_months=WINDOW_MONTHS)
    by_id: dict[str, list[dict]] = {}
    for p in points:
        by_id.setdefault(p["insp_id"], []).append(p)
    cases = open_cases(db, round_id, *PLANNER)
    for case_id, pick, row in zip(cases, picks, rows, strict=True):
        timer("cases", walk_case, db, prov, explainer, case_id, pick["fixmedins_code"], row,
              by_id.get(row["insp_id"], []), team, (m, k, pick["rank"]))  # fmt: skip
    return rows, {"round_id": round_id, "model_version": trained.champion_version or trained.version,
                  "examples": trained.n_examples, "recorded_used": trained.findings_used.get("recorded", 0),
                  "promoted": trained.promoted, "hits": hits(explainer)}  # fmt: skip


def _selection(pick: str) -> str:
    from records import SELECTION_OF_PICK

    return SELECTION_OF_PICK[pick]


def _excluded(seen: list[dict], as_of: date) -> set[str]:
    """The facilities a plan as of `as_of` may not pick, by the planner's own defaults (serving.plan)."""
    from serving.plan import exclusion_sets
    from serving.schemas import PlanRequest

    req = PlanRequest()
    recent, clean = exclusion_sets(pd.DataFrame(seen), as_of, req.exclude_days, req.clean_cooldown_days)
    return recent | clean


def _rules_round(prov: Any, ws: Path, m: int, capacity: int, timer: _Timer, skip: set[str]) -> list[str]:
    """The top `capacity` facilities by rule-hit amount in the snapshot as of m, none of `skip`."""
    timer("ingest", _ingest, prov, ws, m)
    snap = timer("snapshot", _snapshot, ws, m)
    fac = pd.read_parquet(snap / "facility.parquet", columns=["fixmedins_code", "rule_hit_amount"])
    fac = fac[~fac["fixmedins_code"].isin(skip)]
    fac = fac.sort_values(["rule_hit_amount", "fixmedins_code"], ascending=[False, True], kind="mergesort")
    return fac["fixmedins_code"].head(capacity).tolist()


def run_policy(label: str, policy: str, share: float, out: Path, seed: int, scale: str, evasion: str,
               rounds: int, history_rounds: int, capacity: int | None, console: Console,
               team: Inspectors | None = None, rings: str = "planted"
               ) -> tuple[list[RoundResult], dict[str, Any] | None]:
    """One policy's campaign on its own copy of the province; for feijian, also the rule quality its
    cases' verdicts gave, scored against the truth."""
    from features.ingest import ensure_demo_key
    from records import open_records
    from records.worklist import REVIEW_MIN_CHECKED
    from simulator.campaign import Province

    run = out / label.replace(" ", "_").replace("=", "")
    ws = run / "workspace"
    results: list[RoundResult] = []
    windows = []
    quality = None
    team = team or Inspectors()
    db = None
    with Province(run / "province", seed=seed, scale=scale, evasion=evasion, answers=policy == "feijian",
                  rings=rings) as prov:
        k_cap = capacity or prov.scale.capacity
        months = list(prov.round_months)
        if history_rounds + rounds > len(months):
            raise ValueError(f"{history_rounds} historical + {rounds} campaign rounds exceed the province's "
                             f"{len(months)} round months")  # fmt: skip
        seen: list[dict] = []  # every finding of this province so far: what the exclusions read
        for m in months[:history_rounds]:
            prov.advance(m)
            seen += prov.inspect(m, prov.historical(m))[0]
        if policy in ("feijian", "rules"):
            ensure_demo_key(ws)
            db = open_records(ws)
        try:
            for k, m in enumerate(months[history_rounds:history_rounds + rounds], start=1):
                t0 = time.perf_counter()
                timer = _Timer()
                timer("simulate", prov.advance, m)
                extra: dict[str, Any] = {}
                # the yardstick in this policy's own province: what the best `k_cap` facilities took,
                # under the same exclusions (the oracle policy's own run drifts apart after round 1,
                # since its serious findings deter different facilities)
                skip = _excluded(seen, _month_day(m))
                best = _taken(prov, [c for c, _ in prov.oracle(m, k_cap, exclude=skip)], m)
                if policy == "feijian":
                    rows, extra = _feijian_round(prov, ws, run, db, m, k, k_cap, share, seed, timer, team)
                    windows.append(extra["hits"])
                else:
                    # the baselines obey feijian's exclusions (inspected within 180 days, found clean within
                    # 365), so no policy earns by inspecting the same facility every quarter; the
                    # historical selection keeps the bureau's own rule (not within 6 months)
                    if policy == "rules":
                        picks = [(c, "targeted") for c in _rules_round(prov, ws, m, k_cap, timer, skip)]
                    elif policy == "historical":
                        picks = prov.historical(m)
                    elif policy == "random":
                        picks = prov.random(m, k_cap, seed=seed * 1000 + k, exclude=skip)
                    else:
                        picks = prov.oracle(m, k_cap, exclude=skip)
                    rows, _ = timer("inspect", prov.inspect, m, picks)
                seen += rows
                taken = _taken(prov, [r["fixmedins_code"] for r in rows], m)
                r = _summary(rows, taken, label, k, _month_day(m), time.perf_counter() - t0, timer.steps)
                for name in ("round_id", "model_version", "examples", "recorded_used", "promoted"):
                    setattr(r, name, extra.get(name))
                r.best_taken = round(best, 2)
                results.append(r)
                console.print(f"  {label:<16} round {k} ({r.as_of}): {r.n_inspected} inspected, true taken "
                              f"{r.taken_true:,.0f}, recovered {r.recovered:,.0f}, serious {r.serious_rate:.0%}, "
                              f"no finding {r.no_finding_rate:.0%} · {r.seconds:.1f} s", highlight=False)
            if policy == "feijian" and windows:
                quality = rule_quality_against_truth(db, prov, windows, REVIEW_MIN_CHECKED)
                console.print(f"  {label:<16} rule quality from {quality['lines_checked']:,} checked lines: "
                              f"Spearman with true precision {quality['spearman']} over {quality['n_rules']} "
                              f"rules; {quality['pairs_in_order']} of {quality['pairs_apart']} clearly "
                              "different pairs in order", highlight=False)
        finally:
            if db is not None:
                db.dispose()
    return results, quality


def cumulative(results: list[RoundResult]) -> dict[str, dict[str, Any]]:
    """Per policy: cumulative true taken and recovered, and each round's share of the oracle's taken."""
    frame = pd.DataFrame([asdict(r) for r in results])
    out: dict[str, dict[str, Any]] = {}
    is_oracle = frame["policy"] == "oracle"
    oracle = frame[is_oracle].set_index("round")["taken_true"] if is_oracle.any() else None
    for policy, g in frame.groupby("policy", sort=False):
        g = g.sort_values("round")
        entry: dict[str, Any] = {
            "taken_true": float(g["taken_true"].sum()),
            "recovered": float(g["recovered"].sum()),
            "cumulative_taken": g["taken_true"].cumsum().round(2).tolist(),
            "serious_rate": float(g["serious_rate"].mean()),
            "no_finding_rate": float(g["no_finding_rate"].mean()),
        }
        if g["best_taken"].notna().all() and g["best_taken"].sum() > 0:
            entry["share_of_best"] = float(g["taken_true"].sum() / g["best_taken"].sum())
            entry["per_round_share_of_best"] = (g["taken_true"] / g["best_taken"]).round(4).tolist()
        if oracle is not None and oracle.sum() > 0:
            entry["share_of_oracle"] = float(g["taken_true"].sum() / oracle.sum())
            entry["per_round_share_of_oracle"] = (g.set_index("round")["taken_true"] / oracle).round(4).tolist()
        out[str(policy)] = entry
    return out


def run_campaign(out: Path, seed: int = 7, scale: str = "demo", evasion: str = "normal", rounds: int = 6,
                 history_rounds: int = 2, capacity: int | None = None, policies: list[str] | None = None,
                 shares: list[float] | None = None, console: Console | None = None,
                 team: Inspectors | None = None, rings: str = "planted") -> dict[str, Any]:
    """Every policy's campaign; writes campaign.json and campaign.html under `out` and returns the report."""
    from simulator.rings import parse_rings

    rings = parse_rings(rings)  # before any policy's province is built
    console = console or Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = policy_names(policies or ["feijian", *BASELINES], list(shares if shares is not None else DEFAULT_SHARES))
    t0 = time.perf_counter()
    results: list[RoundResult] = []
    quality: dict[str, Any] = {}
    team = team or Inspectors()
    for label, policy, share in runs:
        got, q = run_policy(label, policy, share, out, seed, scale, evasion, rounds, history_rounds, capacity,
                            console, team, rings)  # fmt: skip
        results += got
        if q is not None:
            quality[label] = q
    report = {
        "seed": seed, "scale": scale, "evasion": evasion, "rings": rings, "rounds": rounds,
        "history_rounds": history_rounds, "capacity": capacity, "seconds": round(time.perf_counter() - t0, 1),
        "rounds_table": [asdict(r) for r in results], "policies": cumulative(results),
        "inspectors": asdict(team), "rule_quality": quality,
    }  # fmt: skip
    (out / "campaign.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    from feijian.campaign_report import write_html

    write_html(report, out / "campaign.html")
    log_to_mlflow(report, out / "mlruns", [out / "campaign.json", out / "campaign.html"])
    return report


def log_to_mlflow(report: dict[str, Any], mlruns: Path, artifacts: list[Path]) -> None:
    """One MLflow run per policy in the `feijian-campaign` experiment: each round's figures as steps."""
    import mlflow

    from training.registry import setup

    setup(mlruns, CAMPAIGN_EXPERIMENT)
    params = {k: report[k] for k in ("seed", "scale", "evasion", "rounds", "history_rounds", "capacity")}
    for policy, entry in report["policies"].items():
        with mlflow.start_run(run_name=f"campaign {policy}"):
            mlflow.log_params({**params, "policy": policy})
            for r in (r for r in report["rounds_table"] if r["policy"] == policy):
                mlflow.log_metrics({"taken_true": r["taken_true"], "recovered": r["recovered"],
                                    "serious_rate": r["serious_rate"], "no_finding_rate": r["no_finding_rate"],
                                    "seconds": r["seconds"]}, step=r["round"])  # fmt: skip
            mlflow.log_metrics({f"total_{k}": float(v) for k, v in entry.items() if isinstance(v, int | float)})
            q = report.get("rule_quality", {}).get(policy)
            if q:  # what the cases' verdicts say of the rules, against their true precision
                mlflow.log_metrics({f"rule_quality_{k}": float(q[k]) for k in
                                    ("spearman", "pairs_in_order", "lines_checked") if q[k] is not None})
            for path in artifacts:
                mlflow.log_artifact(str(path))
