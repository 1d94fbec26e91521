"""Labels from inspection findings: one row per inspection of one target, never one per facility.

A finding is a label only for the target inspected and only for the round it belongs to. Facilities
nobody inspected are unlabelled: they never appear here, so nothing downstream can count them as
negatives.

"Serious" is configuration (`LabelConfig`, overridable from a TOML file), by default the union of:
- money: amount recovered at least `min_recovered_yuan`, or at least `min_recovered_share` of the
  fund payout in the period the inspection checked (a clinic's 20,000 yuan matters more than a
  tertiary hospital's);
- sanction: a fraud-level sanction (条例 Art. 40): agreement suspended or ended, police referral, or
  a fine of at least `fraud_fine_multiple` × the amount recovered.
The recovered amount itself is kept as the second target. Physicians are labelled from the points
recorded against them (驾照式记分): at least `physician_min_points` is serious; a physician of an
inspected facility with no points recorded is a negative for that round (the inspection covered
them), a physician elsewhere is unlabelled.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.facts import SERIOUS_ACTIONS, SERIOUS_RECOVERED
from features.snapshot import source_expr
from feijian.errors import ConfigError, InputError, NotReadyError
from feijian.settings import Workspace
from training.findings import Findings, all_findings


class LabelConfig(BaseModel):
    """What counts as a serious finding. Every field has a default a bureau can override."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_recovered_yuan: float = Field(
        float(SERIOUS_RECOVERED), ge=0, description="recovered ≥ this many yuan is serious"
    )
    min_recovered_share: float = Field(
        0.005, ge=0, le=1, description="recovered ≥ this share of the checked period's fund payout is serious"
    )
    fraud_actions: tuple[str, ...] = Field(
        SERIOUS_ACTIONS, description="agreement actions that are fraud-level (Art. 40)"
    )
    referral_is_serious: bool = True
    fraud_fine_multiple: float = Field(2.0, ge=0, description="fine ≥ this × recovered is an Art. 40 fine")
    physician_min_points: int = Field(4, ge=1, le=12, description="points ≥ this make a physician serious")

    @classmethod
    def load(cls, path: Path | None) -> LabelConfig:
        """Defaults, or the `[labels]` table (or the top level) of a TOML file."""
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"label config {path}: cannot read it ({exc})") from None
        try:
            return cls(**data.get("labels", data))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(
                f"label config {path}: {'.'.join(map(str, first['loc']))}: {first['msg']} "
                f"(allowed keys: {', '.join(cls.model_fields)})"
            ) from None


def _workspace_has(ws: Workspace, table: str) -> bool:
    return ws.table(table).is_dir() and any(ws.table(table).rglob("*.parquet"))


def round_dates(insp: pd.DataFrame) -> pd.DataFrame:
    """Each batch's planning date: the first day of the month of its earliest visit.

    Features for every inspection in the batch are taken as of that date, so all of them are
    strictly before any visit of the round (a visit's own finding can never leak into its features).
    """
    first = pd.to_datetime(insp.groupby("batch")["insp_date"].min())
    out = first.dt.to_period("M").dt.start_time.dt.date.rename("as_of").reset_index()
    return out.sort_values(["as_of", "batch"]).reset_index(drop=True)


def findings(workspace: Path, db_url: str | None = None) -> Findings:
    """The ingested findings (raw/inspections, insp_dr_points) and the recorded ones as one table."""
    ws = Workspace(Path(workspace))
    ingested = pd.DataFrame()
    points = pd.DataFrame(columns=["insp_id", "dr_code", "points"])
    con = duckdb.connect()
    try:
        if _workspace_has(ws, "inspections"):
            ingested = con.sql(f"SELECT * FROM {source_expr(ws.root, 'inspections')}").df()
        if _workspace_has(ws, "insp_dr_points"):
            points = con.sql(f"SELECT insp_id, dr_code, points FROM {source_expr(ws.root, 'insp_dr_points')}").df()
    finally:
        con.close()
    return all_findings(ws.root, ingested, points, db_url)


def facility_labels(workspace: Path, cfg: LabelConfig | None = None, db_url: str | None = None) -> pd.DataFrame:
    """One row per inspection: batch, as_of, selection, recovered, fund payout checked, serious, why."""
    cfg = cfg or LabelConfig()
    ws = Workspace(Path(workspace))
    found = findings(workspace, db_url)
    if found.inspections.empty:
        raise NotReadyError(
            f"workspace {workspace} has no inspection findings (raw/inspections, nor any recorded through the "
            "service); ingest the findings export (table `inspections`) before training"
        )
    both = found.inspections.copy()
    for col in ("insp_date", "period_begn", "period_end"):
        both[col] = pd.to_datetime(both[col])
    con = duckdb.connect()
    try:
        con.register("findings_all", both)
        insp = con.sql(
            f"""
            WITH insp AS (SELECT * FROM findings_all),
            fund AS (
                SELECT i.insp_id, CAST(SUM(CAST(s.fund_pay_sumamt AS DECIMAL(18, 4))) AS DOUBLE) AS fund_pay_checked
                FROM insp AS i
                JOIN {source_expr(ws.root, "setl_d")} AS s
                  ON s.fixmedins_code = i.fixmedins_code
                 AND CAST(s.setl_time AS DATE) BETWEEN CAST(i.period_begn AS DATE) AND CAST(i.period_end AS DATE)
                GROUP BY i.insp_id
            )
            SELECT i.insp_id, i.fixmedins_code, i.batch, CAST(i.insp_date AS DATE) AS insp_date,
                   CAST(i.period_begn AS DATE) AS period_begn, CAST(i.period_end AS DATE) AS period_end,
                   i.selection, i.insp_type, i.violation_types,
                   COALESCE(i.amount_recovered, 0) AS amount_recovered, COALESCE(i.fine_amount, 0) AS fine_amount,
                   i.agreement_action, COALESCE(i.referral, FALSE) AS referral,
                   COALESCE(f.fund_pay_checked, 0) AS fund_pay_checked,
                   i.source, i.round_as_of, i.pick_probability
            FROM insp AS i LEFT JOIN fund AS f USING (insp_id)
            ORDER BY i.insp_date, i.insp_id
            """
        ).df()
    finally:
        con.close()
    for col in ("insp_date", "period_begn", "period_end"):
        insp[col] = pd.to_datetime(insp[col]).dt.date  # plain dates compare with a round's as_of
    insp = insp.merge(round_dates(insp), on="batch", how="left")
    # a finding on a saved round's pick belongs to that round, planned on its own date
    planned = insp["round_as_of"].notna()
    insp.loc[planned, "as_of"] = pd.to_datetime(insp.loc[planned, "round_as_of"]).dt.date
    insp = insp.drop(columns="round_as_of")
    rec = insp["amount_recovered"].astype(float)
    share = rec / insp["fund_pay_checked"].where(insp["fund_pay_checked"] > 0)
    insp["recovered_share"] = share.fillna(0.0)
    by_money = (rec >= cfg.min_recovered_yuan) | (insp["recovered_share"] >= cfg.min_recovered_share)
    by_action = insp["agreement_action"].isin(cfg.fraud_actions)
    by_referral = insp["referral"].astype(bool) & cfg.referral_is_serious
    by_fine = (rec > 0) & (insp["fine_amount"] >= cfg.fraud_fine_multiple * rec)
    insp["serious"] = (by_money | by_action | by_referral | by_fine).astype(int)
    insp["serious_why"] = [
        "+".join(w for w, hit in zip(("amount", "action", "referral", "fine"), flags, strict=True) if hit)
        for flags in zip(by_money, by_action, by_referral, by_fine, strict=True)
    ]
    insp.attrs["findings"] = found.counts  # set last: merges do not carry attrs
    return insp


def physician_labels(workspace: Path, fac_labels: pd.DataFrame, cfg: LabelConfig | None = None,
                     db_url: str | None = None) -> pd.DataFrame:
    """One row per (inspection, physician of the inspected facility): points and serious (the points
    ingested and recorded, a recorded inspection's own replacing the ingested ones)."""
    cfg = cfg or LabelConfig()
    ws = Workspace(Path(workspace))
    con = duckdb.connect()
    try:
        drs = con.sql(f"SELECT dr_code, fixmedins_code, begndate FROM {source_expr(ws.root, 'dr_info')}").df()
    finally:
        con.close()
    pts = findings(workspace, db_url).points
    base = fac_labels[["insp_id", "fixmedins_code", "batch", "as_of", "insp_date", "selection"]]
    rows = base.merge(drs, on="fixmedins_code", how="inner")
    rows = rows[pd.to_datetime(rows["begndate"]).dt.date < rows["as_of"]].drop(columns="begndate")
    pts = pts.groupby(["insp_id", "dr_code"], as_index=False)["points"].max()
    rows = rows.merge(pts, on=["insp_id", "dr_code"], how="left")
    rows["points"] = rows["points"].fillna(0).astype(int)
    rows["serious"] = (rows["points"] >= cfg.physician_min_points).astype(int)
    return rows.reset_index(drop=True)


def check_round(labels: pd.DataFrame, as_of: date) -> None:
    """A round's features must be dated strictly before every visit of that round."""
    early = labels[labels["insp_date"] <= as_of]
    if not early.empty:
        raise InputError(
            f"inspection {early['insp_id'].iloc[0]} on {early['insp_date'].iloc[0]} is not after its round's "
            f"planning date {as_of}: its features could contain the visit itself"
        )
