"""The model's inputs besides the registry's features ("context"), as a recipe the bundle carries.

Facility context: the hospital tier as a number, private ownership, one indicator per facility type,
and the peer-anomaly score (training.anomaly). Physician context: the facility's tier and the
physician-level anomaly score. `context_spec` writes the recipe down — the type codes, and for each
level the anomaly score's columns, trees, sample size, clip and seed — so a bundle scores a snapshot
with the recipe it was trained with, whatever the code's current declarations say.

The anomaly score is by definition fitted on the snapshot it scores ("how unusual among this
snapshot's peers"): a round's training rows got the forest of their own snapshot, so serving fits the
forest of the snapshot it serves, with the recorded recipe and seed (deterministic: the same snapshot
always gets the same scores). Carrying the forest fitted on the training snapshot instead would give a
newer snapshot other scores than training gave its rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.schema import FIXMEDINS_TYPE
from training.anomaly import ANOMALY_COLUMN, anomaly_spec, score_with

FORMAT = 1


def context_spec(seed: int) -> dict[str, Any]:
    """The context recipe under the current declarations, with the training seed."""
    return {
        "format": FORMAT,
        "seed": seed,
        "fixmedins_types": list(FIXMEDINS_TYPE),
        "anomaly": {level: anomaly_spec(level) for level in ("facility", "physician")},
    }


def facility_context(frame: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """hosp_tier, ownership and type as numbers, and the snapshot's own anomaly score."""
    out = frame.copy()
    out["hosp_tier"] = out["hosp_tier"].astype(float)
    out["is_private"] = (out["ownership"] == "private").astype(float)
    for code in spec["fixmedins_types"]:
        out[f"type_{code}"] = (out["fixmedins_type"] == code).astype(float)
    out[ANOMALY_COLUMN] = score_with(out, spec["anomaly"]["facility"], spec["seed"])
    return out


def physician_context(frame: pd.DataFrame, facility: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """The physician's facility tier, and the snapshot's own physician anomaly score."""
    out = frame.merge(
        facility[["fixmedins_code", "hosp_tier"]].rename(columns={"hosp_tier": "dr_facility_tier"}),
        on="fixmedins_code",
        how="left",
    )
    out["dr_facility_tier"] = out["dr_facility_tier"].astype(float)
    out[ANOMALY_COLUMN] = score_with(out, spec["anomaly"]["physician"], spec["seed"])
    return out
