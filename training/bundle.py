"""The exported model bundle: everything serving needs, in plain files, loadable without MLflow.

models/<name>/v<version>/
  facility_risk.txt        LightGBM booster, P(serious) margin
  facility_amount.txt      LightGBM booster, amount if serious (absent when too few serious findings)
  physician_risk.txt       LightGBM booster for physicians (absent when too few physician labels)
  calibration.json         the calibration map per risk model (training.calibration), and the expected
                           recovery's conformal interval measured on the backtest (training.calibration_check)
  features.json            model columns in order, their Chinese labels, declaration version
  context.json             the recipe of the model's context columns (training.context): type codes,
                           the anomaly forest's columns, trees, sample size, clip and training seed
  peer_facility.parquet    peer statistics of the training snapshot (what "同类中位数" meant)
  peer_physician.parquet
  meta.json                version, run, snapshot, fingerprints, label definition, params, metrics
models/champion.json       which bundle is the champion

Text boosters and JSON calibration keep the bundle readable and free of pickles: loading it
executes no code from the file.

Serving scores a snapshot with the bundle alone: `facility_context` / `physician_context` add the
context columns by the recorded recipe, then `score_facilities` / `score_physicians` predict. The
anomaly score's isolation forest is not stored fitted: the score is defined on the snapshot it scores
(each training round's rows were scored by the forest of their own snapshot), so it is refitted on the
served snapshot from the recipe and seed — deterministic, once per snapshot and bundle (serving caches
the scored snapshot: explain.contrib). A forest fitted on the training snapshot would score a newer
snapshot differently from how training scored its rows; and scikit-learn can store a fitted forest
only as a pickle, which loading would execute.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from feijian.errors import InputError, NotReadyError
from training.calibration import Calibrator
from training.calibration_check import interval_for
from training.context import context_spec, facility_context, physician_context
from training.model import RiskModel, calibrated, expected_recovery
from training.target_model import TargetModel

CHAMPION_FILE = "champion.json"
FORMAT_VERSION = 1


def _calibrate(raw: np.ndarray, cal: dict[str, Any]) -> np.ndarray:
    return calibrated(Calibrator.from_json(cal), raw)


def probability_band(raw: np.ndarray, cal: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The calibrated probability's interval per raw score (training.calibration: `Calibrator.band`)."""
    return Calibrator.from_json(cal).band(raw)


def export_bundle(
    out_dir: Path,
    facility: TargetModel,
    physician: RiskModel | None,
    physician_columns: list[str],
    labels: dict[str, str],
    snapshot: Path,
    meta: dict[str, Any],
    context: dict[str, Any],
    recovery: dict[str, Any] | None = None,
) -> Path:
    """Write the bundle atomically (a temp folder renamed into place)."""
    out_dir = Path(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    (tmp / "facility_risk.txt").write_text(facility.risk_.booster_.model_to_string(), encoding="utf-8")
    cal: dict[str, Any] = {"facility": facility.risk_.calibrator_.to_json()}
    if recovery:
        cal["recovery"] = recovery
    if facility.amount_ is not None:
        (tmp / "facility_amount.txt").write_text(facility.amount_.booster_.model_to_string(), encoding="utf-8")
    if physician is not None:
        (tmp / "physician_risk.txt").write_text(physician.booster_.model_to_string(), encoding="utf-8")
        cal["physician"] = physician.calibrator_.to_json()
    (tmp / "calibration.json").write_text(json.dumps(cal), encoding="utf-8")
    feats = {
        "facility": facility.columns,
        "physician": physician_columns if physician is not None else [],
        "labels": labels,
        "declaration_version": meta.get("declaration_version"),
    }
    (tmp / "features.json").write_text(json.dumps(feats, ensure_ascii=False, indent=1), encoding="utf-8")
    (tmp / "context.json").write_text(json.dumps(context, indent=1), encoding="utf-8")
    for name in ("peer_facility.parquet", "peer_physician.parquet"):
        if (snapshot / name).is_file():
            shutil.copy2(snapshot / name, tmp / name)
    full_meta = {
        "format": FORMAT_VERSION,
        **meta,
        "amount_basis": facility.amount_basis_,
        "amount_mean": getattr(facility, "amount_mean_", None),
    }
    (tmp / "meta.json").write_text(json.dumps(full_meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def mark_champion(models_dir: Path, bundle: Path, name: str, version: str) -> None:
    payload = {"name": name, "version": version, "path": str(Path(bundle).resolve().relative_to(models_dir.resolve()))}
    tmp = models_dir / f".{CHAMPION_FILE}.tmp"
    tmp.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    tmp.replace(models_dir / CHAMPION_FILE)


def champion_path(models_dir: Path) -> Path:
    marker = Path(models_dir) / CHAMPION_FILE
    if not marker.is_file():
        raise NotReadyError(f"no champion bundle in {models_dir} (no {CHAMPION_FILE}); run `feijian train` first")
    return Path(models_dir) / json.loads(marker.read_text(encoding="utf-8"))["path"]


@dataclass
class Bundle:
    """A loaded bundle: scores facilities (and physicians) exactly as the trained models did."""

    path: Path
    meta: dict[str, Any]
    features: dict[str, Any]
    calibration: dict[str, Any]
    facility_risk: lgb.Booster
    facility_amount: lgb.Booster | None
    physician_risk: lgb.Booster | None
    context: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Bundle:
        path = Path(path)
        if not (path / "meta.json").is_file():
            raise NotReadyError(f"{path} is not a model bundle (no meta.json); run `feijian train`")

        def booster(name: str) -> lgb.Booster | None:
            f = path / name
            return lgb.Booster(model_str=f.read_text(encoding="utf-8")) if f.is_file() else None

        risk = booster("facility_risk.txt")
        if risk is None:
            raise NotReadyError(f"{path}: facility_risk.txt is missing; the bundle is incomplete")
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        ctx = path / "context.json"
        return cls(
            path=path,
            meta=meta,
            features=json.loads((path / "features.json").read_text(encoding="utf-8")),
            calibration=json.loads((path / "calibration.json").read_text(encoding="utf-8")),
            facility_risk=risk,
            facility_amount=booster("facility_amount.txt"),
            physician_risk=booster("physician_risk.txt"),
            # bundles written before context.json: the current recipe with the training seed
            context=(
                json.loads(ctx.read_text(encoding="utf-8")) if ctx.is_file() else context_spec(int(meta.get("seed", 0)))
            ),
        )

    @property
    def version(self) -> str:
        return str(self.meta.get("model_version", "?"))

    def facility_context(self, facility: pd.DataFrame) -> pd.DataFrame:
        """A snapshot's facility rows with the context columns the model was trained with."""
        return facility_context(facility, self.context)

    def physician_context(self, physician: pd.DataFrame, facility: pd.DataFrame) -> pd.DataFrame:
        return physician_context(physician, facility, self.context)

    def matrix(self, frame: pd.DataFrame, level: str) -> pd.DataFrame:
        """The level's model columns of `frame`, in the bundle's order, as floats."""
        cols: list[str] = self.features[level]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InputError(
                f"{len(missing)} {level} column(s) the model needs are missing, e.g. {missing[:3]}: "
                f"snapshot and model were built from different feature declarations"
            )
        return frame[cols].astype(float)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """p_serious, amount_if_serious, expected_recovery per facility row."""
        X = self.matrix(frame, "facility")
        p = _calibrate(self.facility_risk.predict(X, raw_score=True), self.calibration["facility"])
        if self.facility_amount is not None:
            amt = np.maximum(self.facility_amount.predict(X), 0.0)
        else:
            amt = np.full(len(X), float(self.meta.get("amount_mean") or 0.0))
        return pd.DataFrame(
            {"p_serious": p, "amount_if_serious": amt, "expected_recovery": expected_recovery(p, amt)},
            index=frame.index,
        )

    def score_facilities(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`predict_frame` with the risk's and the recovery's intervals and the risk percentile of every row.

        - p_low, p_high: the calibrated probability's interval (`probability_band`, 90 %): how well the
          findings pin the calibration down at this score.
        - recovery_low, recovery_high: where the amount an inspection recovers falls, at the level the
          bundle records (90 %), by the conformal ratios measured on the backtest's inspections
          (training.calibration_check). Bundles without them: p_low × amount to p_high × amount.
        Both intervals contain their point.
        """
        pred = self.predict_frame(frame)
        raw = self.facility_risk.predict(self.matrix(frame, "facility"), raw_score=True)
        lo, hi = probability_band(raw, self.calibration["facility"])
        pred["p_low"] = np.minimum(lo, pred["p_serious"])
        pred["p_high"] = np.maximum(hi, pred["p_serious"])
        point = pred["expected_recovery"].to_numpy(dtype=float)
        spec = self.calibration.get("recovery")
        if spec:
            low, high = interval_for(spec, pred["p_serious"].to_numpy(dtype=float), point)
        else:
            amount = pred["amount_if_serious"].to_numpy(dtype=float)
            low, high = np.minimum(lo * amount, point), np.maximum(hi * amount, point)
        pred["recovery_low"], pred["recovery_high"] = low, high
        pred["risk_percentile"] = 100.0 * pred["p_serious"].rank(pct=True, method="average")
        return pred

    def score_physicians(self, frame: pd.DataFrame) -> pd.DataFrame:
        """p_risk and its percentile per physician row (NaN when the bundle has no physician model)."""
        if self.physician_risk is None:
            return pd.DataFrame({"p_risk": np.full(len(frame), np.nan), "risk_percentile": np.nan}, index=frame.index)
        p = pd.Series(self.predict_physician(frame), index=frame.index, name="p_risk")
        return pd.DataFrame({"p_risk": p, "risk_percentile": 100.0 * p.rank(pct=True, method="average")})

    def predict_physician(self, frame: pd.DataFrame) -> np.ndarray:
        if self.physician_risk is None:
            raise NotReadyError("this bundle has no physician model (too few physician labels at training)")
        X = self.matrix(frame, "physician")
        return _calibrate(self.physician_risk.predict(X, raw_score=True), self.calibration["physician"])
