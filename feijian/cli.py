"""The `feijian` command: one verb per stage. Thin: parse, call the stage, print, exit."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from feijian.campaign_cases import Inspectors
from feijian.errors import FeijianError, InputError
from feijian.settings import layout_path, mlruns_dir, models_dir, workspace_dir

if TYPE_CHECKING:
    from serving.schemas import PlanRequest

console = Console(stderr=False)
err = Console(stderr=True)


class _Group(TyperGroup):
    """The top-level group. Every command and sub-group runs inside its `invoke`, so this is the one
    place a FeijianError becomes its message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeijianError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="feijian",
    help=(
        "飞检 feijian — rank designated medical facilities and physicians for the next "
        "medical-insurance inspection round, and say why.\n\n"
        "Flow: simulate (or bring a claims export) → ingest → features → train → evaluate → plan → "
        "report → serve. `feijian demo` runs it all on the built-in synthetic province."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
features_app = typer.Typer(
    help="Feature pipelines and the rule base (per facility, per physician).", no_args_is_help=True
)
app.add_typer(features_app, name="features")
rules_app = typer.Typer(
    help="The rule base: list rules, their quality from inspectors' verdicts, change them (versioned), "
         "measure them against the simulator's truth.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default ./workspace or $FEIJIAN_WORKSPACE)."),
]


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write: input/ (claims) and truth/.")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives byte-identical tables.")] = 7,
    scale: Annotated[
        str, typer.Option(help="demo (seconds), large (≥50 M fee lines), or a number of facilities.")
    ] = "demo",
    evasion: Annotated[
        str, typer.Option(help="normal, or high: most of the money taken in forms no rule of the rule base "
                               "sees (docs/simulator.md).")
    ] = "normal",
    rings: Annotated[
        str, typer.Option(help="planted: collusion rings and honest look-alikes (truth/rings.parquet); none: "
                               "the province without them (docs/simulator.md).")
    ] = "planted",
) -> None:
    """Generate the synthetic province: claims in national-platform fields, and hidden truth apart.

    Writes DIR/input/<table>/ (what a bureau would export) and DIR/truth/ (what really happened:
    which fee lines were fraudulent, how much each facility and physician took by pattern and month).
    The pipeline never reads truth/; only `feijian evaluate --truth` and `feijian rules measure` do.
    """
    from simulator.cli_support import run_simulate

    run_simulate(out=out, seed=seed, scale=scale, console=console, evasion=evasion, rings=rings)


@app.command(
    help=f"""Validate, pseudonymise and load a claims export into the workspace, losing nothing.

    Rejected rows go to workspace/{layout_path("quarantine")} with file, row, field, value and
    reason; counts are printed per table (in = accepted + quarantined); fee lines are reconciled against
    settlement totals. Re-running on the same export adds no duplicates; writes are atomic.
    """
)
def ingest(
    src: Annotated[Path, typer.Argument(help="Folder with one sub-folder (or file) per table, CSV or Parquet.")],
    workspace: WorkspaceOpt = None,
    adapter: Annotated[
        Path | None, typer.Option(help="Adapter file (TOML/YAML) mapping another layout onto the contract.")
    ] = None,
    encoding: Annotated[str, typer.Option(help="CSV encoding: utf-8 or gbk.")] = "utf-8",
    max_reject_share: Annotated[
        float, typer.Option(help="Fail (exit 3) when more than this share of any table's rows is quarantined.")
    ] = 0.05,
    now: Annotated[str | None, typer.Option(help="Reference date for 'in the future' checks (default: today).")] = None,
    allow_unreadable_files: Annotated[
        bool, typer.Option(help="Load a table's other files when some cannot be read (damaged, cut short, wrong "
                                "encoding) instead of failing (exit 3); the manifest lists the files not read.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Dry run in seconds: the reference tables and a sample of the rest, "
                                           "checked as ingest would; mapped, derived and missing columns, unknown "
                                           "codes with the adapter lines that map them. Writes nothing; exit 3 "
                                           "when the ingest would fail.")
    ] = False,
) -> None:
    from features.ingest.cli import run_check, run_ingest

    if check:
        ws = workspace_dir(workspace)  # its loaded reference tables count, as they would for the ingest
        run_check(src=src, workspace=ws if (ws / "raw").is_dir() else None, adapter=adapter,
                  encoding=encoding, max_reject_share=max_reject_share, now=now, console=console)
        return
    run_ingest(
        src=src,
        workspace=workspace_dir(workspace),
        adapter=adapter,
        encoding=encoding,
        max_reject_share=max_reject_share,
        now=now,
        console=console,
        allow_unreadable_files=allow_unreadable_files,
    )


@features_app.callback(invoke_without_command=True)
def features_build(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Planning date YYYY-MM-DD: nothing on or after it is read.")
    ] = None,
    window_months: Annotated[
        int, typer.Option(help="Look-back window in months (growth compares the one before).")
    ] = 12,
    engine: Annotated[
        str, typer.Option(help="duckdb (one machine) or spark (Spark SQL via PySpark; needs Java 17).")
    ] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master URL for --engine spark (else $FEIJIAN_SPARK_MASTER, else local[*])."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Build a point-in-time feature snapshot: `feijian features --as-of 2025-01-01`.

    One row per facility and per physician (volume, cost, inpatient, case mix, patient mix,
    prescribing, concentration, temporal, rule hits, inspection history), peer-normalised within
    type × tier (physicians within department × tier), plus every rule hit as evidence. Written to
    workspace/features/<as_of>_w<window>_<fingerprint>/.
    """
    if ctx.invoked_subcommand is not None:
        return
    if as_of is None:
        err.print("error: give --as-of YYYY-MM-DD (or a subcommand such as `feijian features list`)")
        raise typer.Exit(2)
    from features.snapshot.cli import run_features

    run_features(workspace_dir(workspace), as_of, window_months, engine, console, spark_master=spark_master)


@features_app.command("list")
def features_list(
    level: Annotated[str | None, typer.Option(help="facility or physician")] = None,
) -> None:
    """Print every declared feature: name, level, family, Chinese label, unit, description."""
    from features.snapshot.cli import list_features

    list_features(console, level)


@rules_app.command("list")
def rules_list(workspace: WorkspaceOpt = None) -> None:
    """Print the rule base the workspace runs (the library with its changes): id, national rule name,
    kind, parameters, the patterns it targets, enabled."""
    from features.rules.changes import effective_rules, effective_version
    from features.rules.cli import list_rules

    ws = workspace_dir(workspace)
    list_rules(console, effective_rules(ws), effective_version(ws))


@rules_app.command("set")
def rules_set(
    rule_id: Annotated[str, typer.Argument(help="The rule's id, e.g. R-SL-01.")],
    params: Annotated[list[str] | None, typer.Argument(help="Parameters to change, as name=value.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (e.g. the rule quality that prompted it).")] = "",
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Switch the rule on or off.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who changes it (default: $USER).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Change a rule's parameters or switch it on or off, as a versioned record in the workspace
    (rules/changes.jsonl, append-only): the next snapshot build runs the changed rule base."""
    import getpass

    from features.rules.changes import parse_assignments, record_change, summary_zh

    ws = workspace_dir(workspace)
    done = record_change(ws, rule_id, parse_assignments(params or []), enable, reason, by or getpass.getuser())
    console.print(f"rule {done['rule_id']}: {summary_zh(done)} · rule base version {done['version']} "
                  f"(change {done['seq']}, by {done['by']}); the next `feijian features` builds with it",
                  highlight=False)


@rules_app.command("history")
def rules_history(workspace: WorkspaceOpt = None) -> None:
    """The workspace's rule changes in order: version, rule, what changed, why, who, when."""
    from rich.table import Table

    from features.rules.changes import effective_version, read_changes, summary_zh

    ws = workspace_dir(workspace)
    changes = read_changes(ws)
    if not changes:
        console.print(f"no rule has been changed in {ws}; rule base version {effective_version(ws)}")
        return
    table = Table(title=f"规则参数变更记录（当前版本 {effective_version(ws)}）")
    for col in ("版本", "规则", "变更内容", "原因", "变更人", "时间"):
        table.add_column(col, overflow="fold")
    for c in changes:
        table.add_row(c["version"], c["rule_id"], summary_zh(c), c["reason"], c["by"], c["at"])
    console.print(table)


@rules_app.command("quality")
def rules_quality(
    by_type: Annotated[bool, typer.Option("--by-type", help="One row per rule and facility type.")] = False,
    by_quarter: Annotated[bool, typer.Option("--by-quarter", help="One row per rule and quarter of the visit.")
                          ] = False,
    workspace: WorkspaceOpt = None,
    db: Annotated[str | None, typer.Option("--db", help="Records database URL (default: the workspace's).")] = None,
) -> None:
    """Each rule's checked hits, the share inspectors confirmed and the amounts, from cases' worklists;
    rules whose checked hits are mostly rejected are flagged for review."""
    from serving.quality import print_quality

    print_quality(workspace_dir(workspace), db, by_type, console, by_quarter)


@rules_app.command("measure")
def rules_measure(
    truth: Annotated[Path, typer.Option(help="The simulator's truth folder (DIR/truth).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="End of the window (default: the export's end).")] = None,
    window_months: Annotated[int, typer.Option(help="Window in months.")] = 12,
    workspace: WorkspaceOpt = None,
) -> None:
    """Each rule's hits, precision and recall against the simulator's fraudulent fee lines and visits."""
    from features.rules.cli import measure_rules
    from simulator.codes import PATTERNS

    measure_rules(workspace_dir(workspace), truth, as_of, window_months, console, patterns=PATTERNS)


MlrunsOpt = Annotated[
    Path | None, typer.Option("--mlruns", help="MLflow store folder (default ./mlruns or $FEIJIAN_MLRUNS).")
]
ModelsOpt = Annotated[
    Path | None, typer.Option("--models", help="Bundle folder (default ./models or $FEIJIAN_MODELS).")
]


@app.command()
def train(
    table: Annotated[
        Path | None, typer.Option("--table", help="A prepared per-target table (CSV/Parquet): id, label, features.")
    ] = None,
    id_col: Annotated[str, typer.Option("--id", help="Id column of --table.")] = "id",
    label_col: Annotated[
        str, typer.Option("--label", help="Label column of --table (Yes/No, 1/0, True/False, or see --positive).")
    ] = "label",
    positive: Annotated[
        str | None, typer.Option("--positive", help="With --table: the label value that is positive (e.g. Fraud).")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option("--time", help="Optional time column of --table: the latest 20% are held out, "
                                               "and the folds inside the rest are time-ordered.")
    ] = None,
    trials: Annotated[int, typer.Option(help="Optuna trials on the backtest, or with --table on the folds inside "
                                             "its training part (0: defaults, no tuning).")] = 30,
    timeout: Annotated[float, typer.Option(help="Tuning time budget in seconds.")] = 240.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed and data give the same model and ranking.")] = 0,
    window_months: Annotated[int, typer.Option(help="Feature look-back window in months.")] = 12,
    weighting: Annotated[
        str, typer.Option(help="none, or ipw: weight findings by 1 / P(inspected) to undo selection bias.")
    ] = "none",
    label_config: Annotated[
        Path | None, typer.Option("--label-config", help="TOML file overriding what counts as serious.")
    ] = None,
    workspace: WorkspaceOpt = None,
    mlruns: MlrunsOpt = None,
    models: ModelsOpt = None,
    db: DbOpt = None,
) -> None:
    """Train the risk and recovery models on the workspace's inspection findings (or on --table).

    The findings are the ingested ones and those recorded through the service since (the records
    database, --db), a recorded insp_id replacing an ingested one; the run says how many of each.

    Workspace: each inspection round is one set of examples with features as of its planning date;
    Optuna tunes on the time-ordered backtest (all rounds but the latest), the run is logged to
    MLflow (sqlite:///mlruns/mlflow.db), registered, and takes the alias `champion` only if it beats
    the champion on the same backtest; the champion is exported to models/ for serving.

    With --table: a data scientist's prepared table, e.g. the public Kaggle provider-fraud table —
    held-out ids (stratified, or the latest by --time), categories kept, Optuna (--trials, --seed) on
    folds inside the training part (time-ordered with --time); AUC, average precision, precision@k,
    Brier beside a default HistGradientBoosting baseline on the same split; an MLflow run with the
    model registered as feijian-table-<name>, files under <workspace>/tables/<name>/.
    """
    if table is not None:
        from training.table_run import run_train_table

        ignored = {"--weighting": weighting != "none", "--label-config": label_config is not None,
                   "--window-months": window_months != 12, "--db": db is not None}
        if any(ignored.values()):
            raise InputError(f"{', '.join(k for k, v in ignored.items() if v)}: for the workspace's findings, not "
                             "for --table (a prepared table brings its own labels and features)")
        run_train_table(table, id_col, label_col, time_col, console, workspace=workspace_dir(workspace),
                        mlruns=mlruns_dir(mlruns), models=models_dir(models), seed=seed, trials=trials,
                        timeout=timeout, positive=positive)
        return
    if positive is not None:
        raise InputError("--positive: for --table only (the workspace's labels come from its findings)")
    from training.labels import LabelConfig
    from training.train_cli import run_train

    run_train(
        workspace_dir(workspace),
        mlruns_dir(mlruns),
        models_dir(models),
        trials,
        timeout,
        seed,
        window_months,
        weighting,
        LabelConfig.load(label_config),
        console,
        db_url=db,
    )


@app.command()
def evaluate(
    truth: Annotated[
        Path | None, typer.Option(help="The simulator's truth folder: adds the oracle and each ranking's share of it.")
    ] = None,
    workspace: WorkspaceOpt = None,
    mlruns: MlrunsOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Backtest the champion against the baselines (rule hits, anomaly, historical selection, random).

    Writes workspace/reports/evaluation.json and evaluation.html, logs to MLflow, prints a summary;
    also the drift since training and the improper-payment estimate from random inspections.
    """
    from training.evaluate_run import run_evaluate

    run_evaluate(workspace_dir(workspace), mlruns_dir(mlruns), models_dir(models), truth, console)


token_app = typer.Typer(help="Issue, revoke and list API tokens (only their hashes are stored).", no_args_is_help=True)
app.add_typer(token_app, name="token")
audit_app = typer.Typer(help="The tamper-evident audit log of the service.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default sqlite:///<workspace>/feijian.db or $FEIJIAN_DB_URL)."),
]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default: the plan is confidential).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port.")] = 3000,
    workspace: WorkspaceOpt = None,
    models: ModelsOpt = None,
    db: DbOpt = None,
) -> None:
    """Serve the API and the planners' page (BentoML): plan, score, explain, evidence, reports, findings.

    Loads the champion bundle and the newest snapshot once, refuses to start when they are missing or
    do not match. Every endpoint but health needs a token (`feijian token issue`).
    """
    from serving.serve_cli import run_serve

    raise typer.Exit(run_serve(workspace_dir(workspace), models_dir(models), host, port, db, console))


@token_app.command("issue")
def token_issue(
    name: Annotated[str, typer.Option(help="Who holds the token.")],
    role: Annotated[str, typer.Option(help="planner, supervisor, analyst, monitor (/metrics only) or admin.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
) -> None:
    """Issue a token; it is printed once and only its hash is kept."""
    from serving.serve_cli import run_token

    run_token("issue", workspace_dir(workspace), name, role, None, db, console)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Option("--id", help="Token id from `feijian token list`.")],
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
) -> None:
    """Revoke a token at once (the service re-checks within seconds)."""
    from serving.serve_cli import run_token

    run_token("revoke", workspace_dir(workspace), None, None, token_id, db, console)


@token_app.command("list")
def token_list(workspace: WorkspaceOpt = None, db: DbOpt = None) -> None:
    """List tokens: id, holder, role, created, revoked."""
    from serving.serve_cli import run_token

    run_token("list", workspace_dir(workspace), None, None, None, db, console)


@audit_app.command("verify")
def audit_verify(workspace: WorkspaceOpt = None) -> None:
    """Recompute the audit log's chain and hold it against its signed head; exit 6 on any tampering."""
    from serving.serve_cli import run_audit_verify

    ok = run_audit_verify(workspace_dir(workspace), console)
    if not ok:
        raise typer.Exit(6)


@app.command()
def demo(
    workspace: WorkspaceOpt = None,
    out: Annotated[Path, typer.Option(help="Where the synthetic province is written.")] = Path("province"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    scale: Annotated[str, typer.Option(help="demo, large, or a number of facilities.")] = "demo",
    trials: Annotated[int, typer.Option(help="Optuna trials for the training stage.")] = 15,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the page and API at the end.")] = True,
    port: Annotated[int, typer.Option(help="Port for the page and API.")] = 3000,
    mlruns: MlrunsOpt = None,
    models: ModelsOpt = None,
) -> None:
    """The main job end to end on the built-in synthetic province.

    simulate → ingest → features → train (Optuna, MLflow, champion) → evaluate (with the truth) →
    plan the next round and write the reports → serve the page and API on 127.0.0.1, printing the
    address and a planner's token. Prints counts and where each result is.
    """
    from feijian.demo import run_demo

    run_demo(
        workspace=workspace_dir(workspace), out=out, seed=seed, scale=scale, console=console,
        mlruns=mlruns_dir(mlruns), models=models_dir(models), trials=trials, serve=serve, port=port,
    )


@app.command()
def campaign(
    out: Annotated[Path, typer.Option(help="Where every policy's province, workspace, models and the report go.")
                   ] = Path("campaign"),
    rounds: Annotated[int, typer.Option(help="Campaign rounds after the historical ones (quarterly).")] = 6,
    history_rounds: Annotated[int, typer.Option(help="Rounds of the bureau's own selection first.")] = 2,
    capacity: Annotated[int | None, typer.Option(help="Inspections per round (default: the province's).")] = None,
    exploration_share: Annotated[
        list[float] | None, typer.Option(help="feijian's exploration share; repeatable (default 0, 0.1, 0.2).")
    ] = None,
    policy: Annotated[
        list[str] | None, typer.Option(help="feijian, historical, rules, random, oracle; repeatable (default all).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the province.")] = 7,
    scale: Annotated[str, typer.Option(help="demo, large, or a number of facilities.")] = "demo",
    evasion: Annotated[str, typer.Option(help="normal, or high: most taken in schemes no rule catches.")] = "normal",
    rings: Annotated[str, typer.Option(help="planted (collusion rings and honest look-alikes) or none.")] = "planted",
    check_lines: Annotated[int, typer.Option(help="疑点清单 lines the inspectors check per case, largest first.")
                           ] = Inspectors.check_lines,
    inspector_error: Annotated[float, typer.Option(help="Chance an inspector's verdict on a line is wrong.")
                               ] = Inspectors.error,
) -> None:
    """The closed loop on the simulator: each policy plans rounds, the province answers with findings,
    and feijian retrains on them before the next round; feijian's picks are cases whose worklists the
    inspectors check line by line. Writes OUT/campaign.json and OUT/campaign.html (cumulative true amount
    at the inspected facilities per policy, against the oracle; the rule quality the verdicts gave)."""
    from feijian.campaign import run_campaign

    if check_lines < 0 or not 0 <= inspector_error <= 0.5:
        raise typer.BadParameter("--check-lines must be ≥ 0 and --inspector-error within 0–0.5")
    report = run_campaign(out, seed=seed, scale=scale, evasion=evasion, rounds=rounds, history_rounds=history_rounds,
                          capacity=capacity, policies=policy, shares=exploration_share, console=console,
                          team=Inspectors(check_lines, inspector_error), rings=rings)  # fmt: skip
    for name, entry in report["policies"].items():
        share, best = entry.get("share_of_oracle"), entry.get("share_of_best")
        console.print(f"  {name:<16} true taken {entry['taken_true']:>14,.0f}   recovered {entry['recovered']:>12,.0f}"
                      + (f"   {share:.1%} of the oracle" if share is not None else "")
                      + (f"   {best:.1%} of the best in its own province" if best is not None else ""),
                      highlight=False)  # fmt: skip
    console.print(f"  report: {out / 'campaign.html'} · {out / 'campaign.json'} · {report['seconds']:.0f} s")


def _plan_help(name: str, text: str) -> str:
    """Help text with the default the service's PlanRequest declares (the one place defaults live)."""
    from serving.schemas import PlanRequest

    return f"{text} (default {PlanRequest.model_fields[name].default})."


def _plan_request(
    capacity: int | None,
    region: list[str] | None,
    ftype: list[str] | None,
    level: list[str] | None,
    ownership: list[str] | None,
    region_cap: list[str] | None,
    exclude_days: int | None,
    clean_cooldown_days: int | None,
    exploration_share: float | None,
    seed: int | None,
) -> PlanRequest:
    """The plan options of `plan` and `report --round` as the service's request (None: its default)."""
    from serving.plan_cli import plan_request
    from serving.reports.run import parse_caps

    return plan_request(
        {
            "capacity": capacity,
            "regions": region,
            "types": ftype,
            "levels": level,
            "ownership": ownership,
            "region_caps": parse_caps(region_cap),
            "exclude_days": exclude_days,
            "clean_cooldown_days": clean_cooldown_days,
            "exploration_share": exploration_share,
            "seed": seed,
        }
    )


@app.command()
def report(
    facility: Annotated[str | None, typer.Option("--facility", help="Facility code: write its report.")] = None,
    round_: Annotated[bool, typer.Option("--round", help="Plan the next round and write the round report.")] = False,
    capacity: Annotated[
        int | None, typer.Option(help=_plan_help("capacity", "Round: how many facilities to inspect, 1–500"))
    ] = None,
    region: Annotated[list[str] | None, typer.Option(help="Round: only these regions (admdvs); repeatable.")] = None,
    ftype: Annotated[list[str] | None, typer.Option("--type", help="Round: facility types; repeatable.")] = None,
    level: Annotated[list[str] | None, typer.Option("--level", help="Round: hosp_lv codes; repeatable.")] = None,
    ownership: Annotated[list[str] | None, typer.Option(help="Round: public / private.")] = None,
    region_cap: Annotated[list[str] | None, typer.Option(help="Round: REGION=N, at most N targets there.")] = None,
    exclude_days: Annotated[
        int | None,
        typer.Option(help=_plan_help("exclude_days", "Round: skip facilities inspected this many days back")),
    ] = None,
    clean_cooldown_days: Annotated[
        int | None,
        typer.Option(help=_plan_help(
            "clean_cooldown_days", "Round: skip facilities whose last inspection in this many days found nothing"
        )),
    ] = None,
    exploration_share: Annotated[
        float | None, typer.Option(help=_plan_help("exploration_share", "Round: share of capacity drawn at random"))
    ] = None,
    seed: Annotated[int | None, typer.Option(help=_plan_help("seed", "Round: seed of the exploration draw"))] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default workspace/reports).")] = None,
    workspace: WorkspaceOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Write reports (HTML, A4 PDF, Excel) from the champion model and the latest snapshot.

    `--facility CODE`: why the facility ranks where it does (reasons, peers, SHAP waterfall), its rule
    evidence (疑点清单), physicians and inspection history. `--round`: plan the next round under the
    capacity and constraints and write the planned list with totals by region and type.
    """
    from serving.reports.run import run_report

    kwargs: dict[str, object] = {}
    if round_:
        req = _plan_request(capacity, region, ftype, level, ownership, region_cap, exclude_days,
                            clean_cooldown_days, exploration_share, seed)
        kwargs = {"capacity": req.capacity, **req.plan_kwargs()}
    run_report(workspace_dir(workspace), models_dir(models), out, facility, round_, kwargs, console)


@app.command()
def plan(
    capacity: Annotated[int | None, typer.Option(help=_plan_help("capacity", "How many facilities, 1–500"))] = None,
    region: Annotated[list[str] | None, typer.Option(help="Only these regions (admdvs); repeatable.")] = None,
    ftype: Annotated[list[str] | None, typer.Option("--type", help="Facility types; repeatable.")] = None,
    level: Annotated[list[str] | None, typer.Option("--level", help="hosp_lv codes; repeatable.")] = None,
    ownership: Annotated[list[str] | None, typer.Option(help="public / private; repeatable.")] = None,
    region_cap: Annotated[list[str] | None, typer.Option(help="REGION=N: at most N targets there.")] = None,
    exclude_days: Annotated[
        int | None, typer.Option(help=_plan_help("exclude_days", "Skip facilities inspected this many days back"))
    ] = None,
    clean_cooldown_days: Annotated[
        int | None,
        typer.Option(help=_plan_help("clean_cooldown_days", "Skip facilities found clean this many days back")),
    ] = None,
    exploration_share: Annotated[
        float | None, typer.Option(help=_plan_help("exploration_share", "Share of capacity drawn at random"))
    ] = None,
    seed: Annotated[int | None, typer.Option(help=_plan_help("seed", "Seed of the exploration draw"))] = None,
    fmt: Annotated[str, typer.Option("--format", help="table (Rich), csv or json (for scripts).")] = "table",
    save: Annotated[bool, typer.Option("--save", help="Save the round as a record (检查批次): its picks, their "
                                       "probabilities and reasons; findings are then recorded against it.")] = False,
    note: Annotated[str | None, typer.Option(help="With --save: a note kept with the round.")] = None,
    supersedes: Annotated[str | None, typer.Option(help="With --save: the saved round this one replaces.")] = None,
    workspace: WorkspaceOpt = None,
    models: ModelsOpt = None,
    db: DbOpt = None,
) -> None:
    """Plan the next inspection round under capacity: rank, facility, type, region, risk, expected recovery,
    top reason. The same request and planner as the API's /api/plan and the page. With --save the round
    is stored in the records database (never changed afterwards, only superseded by a later round)."""
    from serving.plan_cli import run_plan

    if (note or supersedes) and not save:
        raise typer.BadParameter("--note and --supersedes go with --save")
    req = _plan_request(capacity, region, ftype, level, ownership, region_cap, exclude_days, clean_cooldown_days,
                        exploration_share, seed)
    saving = {"note": note, "supersedes": supersedes, "db_url": db} if save else None
    run_plan(workspace_dir(workspace), models_dir(models), req, fmt, console, saving)


rounds_app = typer.Typer(help="Saved rounds (检查批次): list them, show one with its picks.", no_args_is_help=True)
app.add_typer(rounds_app, name="rounds")


@rounds_app.command("list")
def rounds_list(workspace: WorkspaceOpt = None, db: DbOpt = None) -> None:
    """Every saved round, newest first: id, planning date, capacity, picks, status."""
    from serving.plan_cli import print_rounds

    print_rounds(workspace_dir(workspace), db, console)


@rounds_app.command("show")
def rounds_show(
    round_id: Annotated[str, typer.Argument(help="The round's id, e.g. R20250101-1.")],
    fmt: Annotated[str, typer.Option("--format", help="table (Rich) or json.")] = "table",
    workspace: WorkspaceOpt = None,
    db: DbOpt = None,
) -> None:
    """One saved round with its picks: rank, facility, model or exploration pick, probability, reasons."""
    from serving.plan_cli import print_round

    print_round(workspace_dir(workspace), db, round_id, fmt, console)


key_app = typer.Typer(help="The pseudonymisation key that psn_no and certno are hashed with.", no_args_is_help=True)
app.add_typer(key_app, name="key")


@key_app.command("new")
def key_new(
    file: Annotated[
        Path | None, typer.Option("--file", help="Where to write it (default <workspace>/.secrets/pseudonym.key).")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Make a 256-bit pseudonymisation key (mode 0600); an existing key is never overwritten.

    Keep this key for as long as the workspace's history is used, and back it up: ingest hashes every
    psn_no and certno with it, and a lost or changed key makes new pseudonyms unlinkable to earlier ones
    (a person's past visits and findings no longer join their new ones).
    """
    from features.ingest import demo_key_path, new_key
    from feijian.settings import ENV_PSEUDONYM_KEY_FILE

    path = new_key(file if file else demo_key_path(workspace_dir(workspace)))
    console.print(f"pseudonym key written to {path} (mode 0600)")
    if file:
        console.print(f"  use it with: export {ENV_PSEUDONYM_KEY_FILE}={path.resolve()}")
    console.print("  keep it and a backup: with another key, new pseudonyms no longer link to earlier ones")


bento_app = typer.Typer(help="Ship the service as a Bento (BentoML's unit of deployment).", no_args_is_help=True)
app.add_typer(bento_app, name="bento")


@bento_app.command("build")
def bento_build(
    project: Annotated[Path, typer.Option(help="The folder of bentofile.yaml (the feijian checkout).")] = Path("."),
    workspace: WorkspaceOpt = None,
    models: ModelsOpt = None,
) -> None:
    """Stage the champion bundle and the newest snapshot into bento/, then `bentoml build`.

    Serve the result with `FEIJIAN_STATE_DIR=/var/lib/feijian bentoml serve feijian:latest` (the state
    folder holds the audit log, its key and the default database; nothing writable lives in the Bento),
    or make an OCI image with `bentoml containerize feijian:latest` where Docker exists.
    """
    from serving.bento import build

    build(workspace_dir(workspace), models_dir(models), project, console)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
