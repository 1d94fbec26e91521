"""Reference and label tables: admdvs (region names), fixmedins, dr_info, catalog, inspections, insp_dr_points.

open_beds is declared from the honest census (its 95th percentile at 85–105 % occupancy), so a
facility whose census exceeds its beds is doing something the honest ones do not. An export cut
at a day (`cut_day`, a campaign's "as of") lists only the facilities and physicians registered
before it, beds from the census seen so far, and the inspections carried out before it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.codes import DEPTS
from simulator.config import REGIONS
from simulator.facilities import REGION_NAMES, TYPES
from simulator.world import State, World

_CAT_COLS = ("med_list_codg", "name", "list_type", "med_chrgitm_type", "chrgitm_lv", "ref_price", "price_cap",
             "lmt_gend", "lmt_age_min", "lmt_age_max", "max_cnt_per_day", "max_cnt_per_period", "period_days",
             "min_hosp_lv_tier", "package_codg", "days_per_unit", "max_days_supply", "needs_trace_code")
_INSP_COLS = ("insp_id", "fixmedins_code", "batch", "insp_date", "period_begn", "period_end", "selection",
              "insp_type", "violation_types", "amount_involved", "amount_recovered", "fine_amount",
              "agreement_action", "referral")


def open_beds(w: World, st: State, d_start: int, cut_day: int | None = None) -> np.ndarray:
    census = np.cumsum(st.census if cut_day is None else st.census[:, : cut_day - d_start], axis=1)
    rng = np.random.default_rng([w.seed, 6])
    beds = np.zeros(w.fac.n, dtype=np.int64)
    for i in np.flatnonzero(w.fac.ip_size > 0):
        first = max(0, int(w.fac.begin_day[i]) - d_start)
        c = census[i, first:]
        p95 = float(np.percentile(c, 95)) if len(c) else 0.0
        b = int(np.ceil(max(2.0, p95) / rng.uniform(0.85, 1.05)))
        beds[i] = int(np.ceil(b / 5) * 5) if w.fac.tier[i] >= 2 else b
    return beds


def reference_tables(w: World, st: State, insp: list[dict], pts: list[dict], d_start: int,
                     cut_day: int | None = None) -> dict[str, dict]:
    """The tables as exported at the end of the period, or on `cut_day` (days since 1970) when given."""
    f, p, cat = w.fac, w.phy, w.cat
    fix = {
        "fixmedins_code": f.code, "fixmedins_name": f.name, "fixmedins_type": [TYPES[t] for t in f.ftype],
        "hosp_lv": f.hosp_lv, "ownership": f.ownership, "admdvs": [REGIONS[r] for r in f.region],
        "open_beds": open_beds(w, st, d_start, cut_day), "begndate": f.begin_day,
    }
    dr = {
        "dr_code": p.code, "fixmedins_code": [f.code[i] for i in p.fac], "dept": [DEPTS[d][0] for d in p.dept],
        "pro_tech_duty": p.title, "begndate": p.begin_day,
    }
    if cut_day is not None:
        fix = _rows(fix, np.flatnonzero(f.begin_day < cut_day))
        dr = _rows(dr, np.flatnonzero((f.begin_day[p.fac] < cut_day) & (p.begin_day < cut_day)))
        insp = [r for r in insp if r["insp_date"] < cut_day]
        done = {r["insp_id"] for r in insp}
        pts = [r for r in pts if r["insp_id"] in done]
    catalog = {c: [r[c] for r in cat.rows] for c in _CAT_COLS}
    inspections = {c: [r[c] for r in insp] for c in _INSP_COLS}
    for c in ("insp_date", "period_begn", "period_end"):
        inspections[c] = np.array(inspections[c], dtype=np.int64)
    points = {c: [r[c] for r in pts] for c in ("insp_id", "dr_code", "points")}
    if not pts:
        points = {"insp_id": pa.array([], pa.string()), "dr_code": pa.array([], pa.string()),
                  "points": np.zeros(0, dtype=np.int64)}
    regions = sorted(set(fix["admdvs"]))
    names = dict(zip(REGIONS, REGION_NAMES, strict=True))
    admdvs = {"admdvs": regions, "admdvs_name": [names[c] for c in regions]}
    return {"admdvs": admdvs, "fixmedins": fix, "dr_info": dr, "catalog": catalog, "inspections": inspections,
            "insp_dr_points": points}


def _rows(cols: dict, idx: np.ndarray) -> dict:
    """The rows `idx` of a table held as columns (lists or arrays)."""
    return {c: x[idx] if isinstance(x, np.ndarray) else [x[i] for i in idx] for c, x in cols.items()}
