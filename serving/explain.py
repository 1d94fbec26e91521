"""Explain a ranking: scores, SHAP contributions, Chinese reasons and the claims behind them.

`Explainer.build` scores every facility and physician of one feature snapshot with a model bundle and
computes (or reads the cached) SHAP contributions once; `explain(code)` then only reads rows. Reasons
group contributions by theme (explain.reasons), state the value, the peer median and the percentile,
and link to the rule hits (疑点清单) of the theme's rule kinds — indicators for review, not findings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explain import contrib as cb
from explain.evidence_links import evidence_totals, mark_covered, pick_kinds, summarise_evidence
from explain.global_importance import Explained
from explain.reasons import theme_of
from explain.targets import TargetRows, UnknownTargetError, as_number, peer_lookup, render_value
from features.rules import SEVERITY_ZH, Rule
from features.rules.changes import rules_at
from features.snapshot import latest_snapshot
from feijian.errors import InputError
from feijian.jsonsafe import jsonable
from serving.rings import RingBook
from serving.sources import facility_names, history, identity_zh, inspections_before, region_column, region_names
from serving.trend import Trend, read_trend
from training.bundle import Bundle
from training.calibration_check import interval_text
from training.dataset import column_label, read_meta
from training.physician_rank import EXPOSURE, P_RISK_MEANING_ZH, PHYSICIAN_RANKING_ZH, physician_exposure

__all__ = ["DeclarationMismatchError", "Explainer", "UnknownTargetError"]

DOC_COLUMNS = ["dr_code", "dept", EXPOSURE, "p_risk", "risk_percentile", "dr_rule_hit_amount", "dr_amount"]


def _positions_by_code(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Facility code → row positions in `frame`, in table order."""
    codes = frame["fixmedins_code"].astype(str)
    return {str(k): v for k, v in codes.groupby(codes, sort=False).indices.items()}


def _physician_scores(bundle: Bundle, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """p_risk, its percentile and (with a physician model) the contributions of every physician row."""
    scores = bundle.score_physicians(frame)
    if bundle.physician_risk is None:
        return [scores]
    return [scores, cb.contributions(bundle.physician_risk, bundle.matrix(frame, "physician"))]


class DeclarationMismatchError(InputError):
    """Snapshot and model were built from different feature declarations."""


@dataclass
class Explainer:
    workspace: Path
    bundle: Bundle
    snapshot: Path
    meta: dict[str, Any]
    facilities: TargetRows
    physicians: TargetRows
    rules: dict[str, Rule]
    _evidence: pd.DataFrame | None = None
    _inspections: pd.DataFrame | None = None
    # Where the inspection history comes from when serving: the ingested table with the findings recorded
    # through the service (ServingState.inspections); None reads the workspace's table (reports, the CLI).
    history_source: Callable[[], pd.DataFrame] | None = None
    # The snapshot and the model never change under an Explainer: what is derived from them is kept.
    _by_code: dict[str, np.ndarray] | None = None
    _dr_rows: dict[str, np.ndarray] | None = None

    @classmethod
    def build(cls, workspace: Path, bundle: Bundle, snapshot: Path | None = None) -> Explainer:
        """Score the snapshot (default: LATEST) and compute or load the cached contributions.

        Context columns (anomaly score) are added by the bundle's recorded recipe and training seed
        (training.bundle), so the model sees what it saw in training.
        """
        workspace = Path(workspace)
        snap = Path(snapshot) if snapshot is not None else latest_snapshot(workspace)
        meta = read_meta(snap)
        want = bundle.features.get("declaration_version") or bundle.meta.get("declaration_version")
        if meta.get("declaration_version") != want:
            raise DeclarationMismatchError(
                f"snapshot {snap.name} has feature declarations {meta.get('declaration_version')}, model "
                f"v{bundle.version} was trained on {want}: rebuild the snapshot (`feijian features --as-of DATE`) "
                "or retrain (`feijian train`)"
            )
        folder = cb.cache_dir(workspace, snap.name, bundle.version)
        stamp = cb.stamp_of(bundle.meta, meta)
        cached = cb.read_cache(folder, stamp)
        if cached is None:
            fac = bundle.facility_context(pd.read_parquet(snap / "facility.parquet"))
            names = facility_names(workspace)
            fac = fac.merge(names, on="fixmedins_code", how="left") if len(names) else fac.assign(fixmedins_name=None)
            X = bundle.matrix(fac, "facility")
            fac = pd.concat([fac, bundle.score_facilities(fac), cb.contributions(bundle.facility_risk, X)], axis=1)
            dr = bundle.physician_context(pd.read_parquet(snap / "physician.parquet"), fac)
            dr = pd.concat([dr, *_physician_scores(bundle, dr)], axis=1)
            cb.write_cache(folder, stamp, fac, dr)
        else:
            fac, dr = cached
        facility_p = pd.Series(fac["p_serious"].to_numpy(), index=fac["fixmedins_code"].astype(str))
        ftype = pd.Series(fac["fixmedins_type"].to_numpy(), index=fac["fixmedins_code"].astype(str))
        dr = dr.assign(**{EXPOSURE: physician_exposure(dr, facility_p)})
        dr["fixmedins_type"] = dr["fixmedins_code"].astype(str).map(ftype)  # which features apply (reasons)
        return cls(
            workspace=workspace,
            bundle=bundle,
            snapshot=snap,
            meta=meta,
            facilities=TargetRows(
                "facility",
                "fixmedins_code",
                fac,
                list(bundle.features["facility"]),
                peer_lookup(snap / "peer_facility.parquet"),
            ),
            physicians=TargetRows(
                "physician",
                "dr_code",
                dr,
                list(bundle.features.get("physician") or []),
                peer_lookup(snap / "peer_physician.parquet"),
            ),
            rules={r.id: r for r in rules_at(workspace, meta.get("rules_version"))},  # the ones it ran
        )

    # --- provenance -----------------------------------------------------------------------------
    @property
    def snapshot_id(self) -> str:
        return str(self.meta["snapshot_id"])

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.meta["as_of"])

    @property
    def model_version(self) -> str:
        return self.bundle.version

    def provenance(self) -> dict[str, Any]:
        return {
            "model_name": self.bundle.meta.get("model_name"),
            "model_version": self.model_version,
            "snapshot_id": self.snapshot_id,
            "as_of": self.meta["as_of"],
            "window_start": self.meta.get("window_start"),
        }

    def explained(self) -> Explained:
        """Every facility's model matrix and contributions, for the global explanation."""
        lv = self.facilities
        return Explained(
            X=lv.frame[lv.columns].astype(float),
            S=lv.shap(),
            labels={c: column_label(c) for c in lv.columns},
            model_version=self.model_version,
            snapshot_id=self.snapshot_id,
        )

    # --- tables ---------------------------------------------------------------------------------
    def evidence(self, code: str, rule_id: str | None = None) -> pd.DataFrame:
        """The facility's 疑点清单 rows (psn_no pseudonymised as stored), optionally one rule's."""
        self.facilities.row(code)
        if rule_id is not None and rule_id not in self.rules:
            raise InputError(f"unknown rule id {rule_id!r}; rules: {', '.join(sorted(self.rules))}")
        ev = self.all_evidence()
        rows = self._evidence_rows().get(str(code))
        out = ev.iloc[rows] if rows is not None else ev.head(0)
        if rule_id is not None:
            out = out[out["rule_id"] == rule_id]
        out = out.sort_values(["rule_id", "amount_at_risk"], ascending=[True, False]).reset_index(drop=True)
        return mark_covered(out, self.inspections()[lambda i: i["fixmedins_code"].astype(str) == str(code)])

    def physician_codes(self, code: str) -> set[str]:
        """The physicians the snapshot holds at facility `code` (their claims in its window)."""
        rows = self._physician_rows().get(str(code), [])
        return set(self.physicians.frame.iloc[rows]["dr_code"].astype(str))

    def _evidence_rows(self) -> dict[str, np.ndarray]:
        """Facility code → positions of its rule hits in the evidence table (built once; positions, not
        3,000 small frames, which would also weigh on every garbage-collector pass of a serving worker)."""
        if self._by_code is None:
            self._by_code = _positions_by_code(self.all_evidence())
        return self._by_code

    def warm(self) -> Explainer:
        """Build now what requests would otherwise build on first use (a service calls this at start)."""
        self.scored()
        self.scored_physicians()
        self._evidence_rows()
        self._physician_rows()
        self.inspections()
        for lv in (self.facilities, self.physicians):
            if lv.has_shap:
                lv.shap()
        return self

    def all_evidence(self) -> pd.DataFrame:
        if self._evidence is None:
            self._evidence = pd.read_parquet(self.snapshot / "evidence.parquet")
        return self._evidence

    @cached_property
    def trend(self) -> Trend:
        """Every facility over the last rounds' snapshots, beside its peer group's median."""
        return read_trend(self.workspace, self.as_of.isoformat())

    @cached_property
    def regions(self) -> dict[str, str]:
        """Region code → name (the workspace's admdvs table; empty without one: codes are shown)."""
        return region_names(self.workspace)

    def inspections(self) -> pd.DataFrame:
        """Every inspection before the snapshot's date and, when serving, every one recorded since."""
        if self.history_source is not None:
            return self.history_source()
        if self._inspections is None:
            self._inspections = inspections_before(self.workspace, self.as_of)
        return self._inspections

    def scored(self) -> pd.DataFrame:
        """One row per facility: identity, risk, percentile, expected recovery and its band, top 3 reasons."""
        return self._facility_ranking.copy()

    @cached_property
    def _facility_ranking(self) -> pd.DataFrame:
        f = self.facilities.frame
        cols = [
            "fixmedins_code",
            "fixmedins_name",
            "fixmedins_type",
            "hosp_lv",
            "hosp_tier",
            "ownership",
            "admdvs",
            "peer_group",
            "p_serious",
            "risk_percentile",
            "amount_if_serious",
            "expected_recovery",
            "recovery_low",
            "recovery_high",
        ]
        out = f[cols].copy()
        out["fixmedins_name"] = out["fixmedins_name"].fillna(out["fixmedins_code"])
        out.insert(out.columns.get_loc("admdvs") + 1, "admdvs_name", region_column(out["admdvs"], self.regions))
        out["top_reasons"] = self.facilities.top_reasons(3)
        out = out.sort_values(["expected_recovery", "p_serious"], ascending=False, kind="mergesort")
        out = out.reset_index(drop=True)
        out.attrs.update(self.provenance())
        return out

    @cached_property
    def rings(self) -> RingBook:
        """The snapshot's rings, scored with this table (serving.rings)."""
        return RingBook(self.snapshot, self._facility_ranking)

    def search(self, q: str, limit: int = 20) -> pd.DataFrame:
        """Facilities whose code or name contains `q` (any case): the code itself first, then codes that
        start with it, then names, each by expected recovery (the plan's order)."""
        f = self._facility_ranking
        needle = q.strip().casefold()
        if not needle:
            return f.head(0)
        code = f["fixmedins_code"].astype(str).str.casefold()
        name = f["fixmedins_name"].astype(str).str.casefold()
        rank = np.select([code == needle, code.str.startswith(needle, na=False),
                          name.str.contains(needle, regex=False, na=False),
                          code.str.contains(needle, regex=False, na=False)], [0, 1, 2, 3], 9)  # fmt: skip
        hit = np.flatnonzero(rank < 9)
        order = hit[np.argsort(rank[hit], kind="stable")][:limit]  # f is in plan order already
        return f.iloc[order].reset_index(drop=True)

    def scored_physicians(self) -> pd.DataFrame:
        """One row per physician: risk, percentile, top 3 reasons and the facility's identity."""
        return self._physician_ranking.copy()

    @cached_property
    def _physician_ranking(self) -> pd.DataFrame:
        d = self.physicians.frame
        out = d[["dr_code", "fixmedins_code", "fixmedins_type", "dept", EXPOSURE, "p_risk", "risk_percentile"]].copy()
        out["top_reasons"] = self.physicians.top_reasons(3)
        out = out.merge(
            self.facilities.frame[["fixmedins_code", "fixmedins_name", "admdvs", "hosp_lv", "ownership"]],
            on="fixmedins_code",
            how="left",
        )
        out["admdvs_name"] = region_column(out["admdvs"], self.regions)
        out = out.sort_values([EXPOSURE, "p_risk"], ascending=False, kind="mergesort").reset_index(drop=True)
        out.attrs.update(self.provenance())
        return out

    def _physician_rows(self) -> dict[str, np.ndarray]:
        """Facility code → positions of its physicians in the physician frame (built once)."""
        if self._dr_rows is None:
            self._dr_rows = _positions_by_code(self.physicians.frame)
        return self._dr_rows

    # --- one target -----------------------------------------------------------------------------
    def _contributions(self, lv: TargetRows, row: pd.Series, values: np.ndarray) -> list[dict[str, Any]]:
        order = np.argsort(-np.abs(values), kind="stable")
        out = []
        for j in order:
            if values[j] == 0:
                continue
            col = lv.columns[j]
            value = as_number(row.get(col))
            text = render_value(col, value)
            out.append(
                {
                    "column": col,
                    "label": column_label(col),
                    "value": value,
                    "value_text": text,
                    "contribution": float(values[j]),
                }
            )
        return out

    def explain(self, code: str) -> dict[str, Any]:
        """Everything a supervisor reads about one facility, JSON-ready, Chinese text."""
        lv = self.facilities
        i = lv.row(code)
        row = lv.frame.iloc[i]
        values = lv.shap()[i]
        ev = self.evidence(code)
        linked = summarise_evidence(ev, self.rules)
        reasons = lv.reasons(i, values, row=row)
        for r in reasons:
            r["evidence"] = pick_kinds(linked, theme_of(r["feature"]).kinds)
        docs = self.physicians.frame.iloc[self._physician_rows().get(str(code), [])]
        docs = docs.sort_values([EXPOSURE, "p_risk"], ascending=False, na_position="last", kind="mergesort")
        insp = self.inspections()
        label, basis = interval_text(self.bundle.calibration.get("recovery"))
        return jsonable(
            {
                **self.provenance(),
                "target": identity_zh(row, self.regions),
                "risk": {
                    "p_serious": row["p_serious"],
                    "percentile": row["risk_percentile"],
                    "amount_if_serious": row["amount_if_serious"],
                    "expected_recovery": row["expected_recovery"],
                    "p_serious_interval": [row["p_low"], row["p_high"]],
                    "expected_recovery_interval": [row["recovery_low"], row["recovery_high"]],
                    "interval_label": label,
                    "interval_basis": basis,
                },
                "bias": float(row[cb.SHAP_PREFIX + cb.BIAS]),
                "contributions": self._contributions(lv, row, values),
                "reasons": reasons,
                "evidence_summary": linked,
                "evidence_totals": evidence_totals(ev),
                "physicians": [
                    {
                        "dr_code": d.dr_code,
                        "dept": d.dept,
                        "exposure": getattr(d, EXPOSURE),
                        "p_risk": d.p_risk,
                        "risk_percentile": d.risk_percentile,
                        "rule_hit_amount": d.dr_rule_hit_amount,
                        "amount": d.dr_amount,
                    }
                    for d in docs[DOC_COLUMNS].itertuples()
                ],
                "physician_ranking_zh": PHYSICIAN_RANKING_ZH,
                "p_risk_meaning_zh": P_RISK_MEANING_ZH,
                "inspections": history(insp, code),
                "trend": self.trend.of(code),
                "rule_severity_zh": SEVERITY_ZH,
                "ring": self.rings.summary_of(str(code)),
            }
        )

    def explain_physician(self, dr_code: str) -> dict[str, Any]:
        """One physician: risk, percentile, reasons (when a physician model exists) and rule hits."""
        lv = self.physicians
        i = lv.row(dr_code)
        row = lv.frame.iloc[i]
        values = lv.shap()[i] if lv.has_shap else np.zeros(len(lv.columns))
        ev = self.all_evidence()
        ev = ev[ev["dr_code"] == str(dr_code)]
        linked = summarise_evidence(ev, self.rules)
        reasons = lv.reasons(i, values, row=row) if lv.has_shap else []
        for r in reasons:
            r["evidence"] = pick_kinds(linked, theme_of(r["feature"]).kinds)
        return jsonable(
            {
                **self.provenance(),
                "target": {"dr_code": row["dr_code"], "fixmedins_code": row["fixmedins_code"], "dept": row["dept"]},
                "risk": {
                    "p_risk": row["p_risk"],
                    "percentile": row["risk_percentile"],
                    "exposure": row[EXPOSURE],
                    "meaning_zh": P_RISK_MEANING_ZH,
                    "ranking_zh": PHYSICIAN_RANKING_ZH,
                },
                "contributions": self._contributions(lv, row, values) if lv.has_shap else [],
                "reasons": reasons,
                "evidence_summary": linked,
            }
        )
