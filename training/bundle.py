"""The exported model bundle: everything serving needs, in plain files, loadable without MLflow.

models/<name>/v<version>/
  facility_risk.txt        LightGBM booster, P(serious) margin
  facility_amount.txt      LightGBM booster, amount if serious (absent when too few serious findings)
  physician_risk.txt       LightGBM booster for physicians (absent when too few physician labels)
  calibration.json         isotonic steps (or Platt coefficients) per risk model
  features.json            model columns in order, their Chinese labels, declaration version
  peer_facility.parquet    peer statistics of the training snapshot (what "同类中位数" meant)
  peer_physician.parquet
  meta.json                version, run, snapshot, fingerprints, label definition, params, metrics
models/champion.json       which bundle is the champion

Text boosters and JSON calibration keep the bundle readable and free of pickles: loading it
executes no code from the file.
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
from scipy.special import expit

from feijian.errors import InputError, NotReadyError
from training.model import _TIE_BREAK, RiskModel, expected_recovery
from training.target_model import TargetModel

CHAMPION_FILE = "champion.json"
FORMAT_VERSION = 1


def _calibration(model: RiskModel) -> dict[str, Any]:
    if model.calibration == "isotonic":
        cal = model.calibrator_
        return {"kind": "isotonic", "x": cal.X_thresholds_.tolist(), "y": cal.y_thresholds_.tolist()}
    lr = model.calibrator_
    return {"kind": "sigmoid", "coef": float(lr.coef_[0][0]), "intercept": float(lr.intercept_[0])}


def _calibrate(raw: np.ndarray, cal: dict[str, Any]) -> np.ndarray:
    if cal["kind"] == "isotonic":
        p = np.interp(raw, np.asarray(cal["x"]), np.asarray(cal["y"]))
    else:
        p = expit(cal["coef"] * raw + cal["intercept"])
    return (1 - _TIE_BREAK) * p + _TIE_BREAK * expit(raw)


def export_bundle(
    out_dir: Path,
    facility: TargetModel,
    physician: RiskModel | None,
    physician_columns: list[str],
    labels: dict[str, str],
    snapshot: Path,
    meta: dict[str, Any],
) -> Path:
    """Write the bundle atomically (a temp folder renamed into place)."""
    out_dir = Path(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    (tmp / "facility_risk.txt").write_text(facility.risk_.booster_.model_to_string(), encoding="utf-8")
    cal = {"facility": _calibration(facility.risk_)}
    if facility.amount_ is not None:
        (tmp / "facility_amount.txt").write_text(facility.amount_.booster_.model_to_string(), encoding="utf-8")
    if physician is not None:
        (tmp / "physician_risk.txt").write_text(physician.booster_.model_to_string(), encoding="utf-8")
        cal["physician"] = _calibration(physician)
    (tmp / "calibration.json").write_text(json.dumps(cal), encoding="utf-8")
    feats = {
        "facility": facility.columns,
        "physician": physician_columns if physician is not None else [],
        "labels": labels,
        "declaration_version": meta.get("declaration_version"),
    }
    (tmp / "features.json").write_text(json.dumps(feats, ensure_ascii=False, indent=1), encoding="utf-8")
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
        return cls(
            path=path,
            meta=json.loads((path / "meta.json").read_text(encoding="utf-8")),
            features=json.loads((path / "features.json").read_text(encoding="utf-8")),
            calibration=json.loads((path / "calibration.json").read_text(encoding="utf-8")),
            facility_risk=risk,
            facility_amount=booster("facility_amount.txt"),
            physician_risk=booster("physician_risk.txt"),
        )

    @property
    def version(self) -> str:
        return str(self.meta.get("model_version", "?"))

    def _matrix(self, frame: pd.DataFrame, level: str) -> pd.DataFrame:
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
        X = self._matrix(frame, "facility")
        p = _calibrate(self.facility_risk.predict(X, raw_score=True), self.calibration["facility"])
        if self.facility_amount is not None:
            amt = np.maximum(self.facility_amount.predict(X), 0.0)
        else:
            amt = np.full(len(X), float(self.meta.get("amount_mean") or 0.0))
        return pd.DataFrame(
            {"p_serious": p, "amount_if_serious": amt, "expected_recovery": expected_recovery(p, amt)},
            index=frame.index,
        )

    def predict_physician(self, frame: pd.DataFrame) -> np.ndarray:
        if self.physician_risk is None:
            raise NotReadyError("this bundle has no physician model (too few physician labels at training)")
        X = self._matrix(frame, "physician")
        return _calibrate(self.physician_risk.predict(X, raw_score=True), self.calibration["physician"])
