"""Quarterly inspection rounds: the bureau's historical choice of facilities, and the inspection itself.

Selection (`historical_picks`): ~25 % random, ~50 % crude indicators (fund volume, growth, cost per
visit — biased towards big hospitals), ~25 % tip-offs (noisy, enriched in real fraud); so labels
carry selection bias. Any other policy's picks can be inspected instead (simulator.campaign).
Findings (`inspect_picks`) follow truth imperfectly: depth depends on the inspection type, most
facilities show some minor finding, amounts recovered are a noisy fraction of what was taken in
the period checked. A serious finding makes the facility's schemes shrink for 6–12 months.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Schemes
from simulator.codes import FRAUD_PATTERNS, LATE_PATTERNS, PATTERN_ID, PATTERNS
from simulator.config import month_first_day, month_of_day, month_ym
from simulator.facilities import T
from simulator.world import State, World

ROUND_MONTHS = tuple(range(12, 36, 3))  # planning on 2023-01-01 … 2024-10-01
_DEPTH = {"routine": 0.3, "targeted": 0.6, "flight": 0.85}
_TYPE_BY_SEL = {"random": (("routine", "targeted"), (0.7, 0.3)),
                "targeted": (("targeted", "flight"), (0.6, 0.4)),
                "tip_off": (("flight", "targeted"), (0.6, 0.4))}
SELECTIONS = tuple(_TYPE_BY_SEL)  # the inspections contract's `selection` codes
_FRAUD = np.array([p in FRAUD_PATTERNS for p in PATTERNS])
_N_EARLY = len(PATTERNS) - len(LATE_PATTERNS)  # the patterns every province has drawn for


def historical_picks(w: World, st: State, m: int, history: list[dict], rng: np.random.Generator
                     ) -> list[tuple[int, str]]:
    """The bureau's choice for the round planned on the first day of month m: (facility, selection).

    It reads only the money settled before month m; `history` (facility, round month) keeps a
    facility inspected in the last 6 months out of the round.
    """
    f = w.fac
    plan_day = month_first_day(m)
    recent = {h["fac"] for h in history if h["round_month"] >= m - 6}
    elig = np.array([f.begin_day[i] < plan_day - 90 and i not in recent for i in range(f.n)])
    cap = min(w.scale.capacity, int(elig.sum()))
    lo = max(0, m - 12)
    fund12 = st.fund[:, lo:m].sum(axis=1)
    vis12 = st.n_visits[:, lo:m].sum(axis=1)
    taken12 = st.taken[:, lo:m, 1:].sum(axis=(1, 2))
    chosen: list[tuple[int, str]] = []
    avail = elig.copy()

    def take(idx: np.ndarray, how: str) -> None:
        for i in idx:
            avail[i] = False
            chosen.append((int(i), how))

    n_tip, n_rand = round(0.25 * cap), round(0.25 * cap)
    n_tgt = cap - n_tip - n_rand
    share = taken12 / (fund12 + 1.0)
    wt = (0.3 + 6.0 * np.sqrt(share)) * avail
    if wt.sum() > 0 and n_tip:
        take(rng.choice(f.n, size=min(n_tip, int(avail.sum())), replace=False, p=wt / wt.sum()), "tip_off")
    cpv = np.log1p(fund12 / np.maximum(vis12, 1))
    z = np.zeros(f.n)
    for ty in range(len(T)):
        sel = f.ftype == ty
        if sel.any():
            z[sel] = cpv[sel] - np.median(cpv[sel])
    recent6 = st.fund[:, max(0, m - 6):m].sum(axis=1)
    prior6 = st.fund[:, lo:max(lo, m - 6)].sum(axis=1)
    growth = np.log((recent6 + 1000) / (prior6 + 1000))
    score = np.log1p(fund12) + 1.5 * z + 2.0 * growth + rng.normal(0, 0.7, f.n)
    score[~avail] = -np.inf
    take(np.argsort(-score, kind="stable")[:n_tgt], "targeted")
    rest = np.flatnonzero(avail)
    take(rng.choice(rest, size=min(n_rand, len(rest)), replace=False), "random")
    return chosen


def inspect_picks(w: World, st: State, sch: Schemes, m: int, chosen: list[tuple[int, str]], seq: int,
                  history: list[dict], rng: np.random.Generator, back_months: int | None = None
                  ) -> tuple[list[dict], list[dict]]:
    """Carry out the round of month m on `chosen`; returns (inspections, points) and records the
    visits in `history`. `seq` is the number of inspections before this round (for the ids)."""
    insp, points = [], []
    for i, how in chosen:
        seq += 1
        row, pts = _inspect(w, st, sch, m, i, how, seq, rng, back_months)
        insp.append(row)
        points.extend(pts)
        history.append({"fac": i, "round_month": m})
    return insp, points


def _inspect(w: World, st: State, sch: Schemes, m: int, i: int, how: str, seq: int, rng: np.random.Generator,
             back_months: int | None = None) -> tuple[dict, list[dict]]:
    types, probs = _TYPE_BY_SEL[how]
    itype = str(rng.choice(types, p=probs))
    depth = float(np.clip(rng.normal(_DEPTH[itype], 0.1), 0.05, 0.98))
    back = int(rng.choice([12, 18, 24]))  # drawn even when fixed, so the stream stays the same
    back = back_months or back
    pb, pe = max(0, m - back), m - 1
    plan_day = month_first_day(m)
    insp_day = plan_day + int(rng.integers(7, 56))
    by_pat = st.taken[i, pb : pe + 1, :].sum(axis=0)
    fund_period = st.fund[i, pb : pe + 1].sum()
    # amounts are judged relative to the facility's size: a sample province has small absolute sums
    unit = 0.002 * fund_period + 100.0
    detect, frac = _detection(by_pat, depth, unit, rng)
    rec_pat = np.where(detect, by_pat * frac, 0.0)
    rec_fraud = float(rec_pat[_FRAUD].sum())
    rec_viol = float(rec_pat[~_FRAUD].sum())
    minor = rng.random() < 0.85
    minor_amt = float(fund_period * rng.uniform(0.0003, 0.003)) if minor else 0.0
    recovered = round(rec_fraud + rec_viol + minor_amt, 2)
    level = 2 if rec_fraud > 2 * unit else (1 if rec_viol > 2 * unit else 0)
    if level == 2:
        fine = rec_fraud * rng.uniform(2, 5) + rec_viol * rng.uniform(1, 2)
        action = "terminate" if recovered > 200 * unit else ("suspend" if recovered > 40 * unit else "warning")
    elif level == 1:
        fine = rec_viol * rng.uniform(1, 2) if rec_viol > 5 * unit else 0.0
        action = "warning" if recovered > 10 * unit else "interview"
    else:
        fine = 0.0
        action = "interview" if minor and rng.random() < 0.5 else "none"
    referral = level == 2 and (recovered > 100 * unit or (recovered > 20 * unit and rng.random() < 0.5))
    vtypes = [PATTERNS[k] for k in np.flatnonzero(detect) if k > 0] + (["minor"] if minor else [])
    y, mo = month_ym(m)
    iid = f"INSP{y}Q{(mo - 1) // 3 + 1}{seq:05d}"
    row = {
        "insp_id": iid, "fixmedins_code": w.fac.code[i], "batch": f"{y}Q{(mo - 1) // 3 + 1}",
        "insp_date": insp_day, "period_begn": month_first_day(pb), "period_end": plan_day - 1, "selection": how,
        "insp_type": itype, "violation_types": ";".join(vtypes) if vtypes else None,
        "amount_involved": round(recovered * float(rng.uniform(1.0, 1.6)), 2), "amount_recovered": recovered,
        "fine_amount": round(fine, 2), "agreement_action": action, "referral": bool(referral),
    }
    if level >= 1:
        st.suppress_from[i] = month_of_day(insp_day) + 1
        st.suppress_until[i] = st.suppress_from[i] + int(rng.integers(6, 13))
        st.suppress_factor[i] = float(rng.uniform(0.05, 0.3))
    return row, _points(w, sch, i, m, detect, level, minor, iid, rng)


def _detection(by_pat: np.ndarray, depth: float, unit: float, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """(found, share recovered) per pattern. The late patterns (codes.LATE_PATTERNS) draw after the
    others and only where the facility took money in them, so a province without them draws what it
    always drew."""
    n = _N_EARLY
    detect = np.zeros(len(by_pat), dtype=bool)
    frac = np.zeros(len(by_pat))
    detect[:n] = (rng.random(n) < depth * (1 - np.exp(-by_pat[:n] / unit))) & (by_pat[:n] > 0)
    frac[:n] = np.clip(depth * rng.uniform(0.6, 1.2, n), 0.05, 1.0)
    late = n + np.flatnonzero(by_pat[n:] > 0)
    if len(late):
        detect[late] = rng.random(len(late)) < depth * (1 - np.exp(-by_pat[late] / unit))
        frac[late] = np.clip(depth * rng.uniform(0.6, 1.2, len(late)), 0.05, 1.0)
    return detect, frac


def _points(w: World, sch: Schemes, i: int, m: int, detect: np.ndarray, level: int, minor: bool, iid: str,
            rng: np.random.Generator) -> list[dict]:
    pts: dict[int, int] = {}
    lo, hi = {2: (7, 12), 1: (4, 6), 0: (1, 3)}[level]
    mine = np.flatnonzero((sch.fac == i) & (sch.start <= m))
    for s in mine:
        if not detect[sch.pattern[s]]:
            continue
        drs = sch.drs[s][sch.drs[s] >= 0]
        if len(drs) == 0 and w.fac_phy_count[i] > 0:
            drs = np.array([w.fac_phy_start[i] + int(rng.integers(0, w.fac_phy_count[i]))])
            lo2, hi2 = 1, 3
        else:
            lo2, hi2 = lo, hi
        for d in drs:
            pts[int(d)] = max(pts.get(int(d), 0), int(rng.integers(lo2, hi2 + 1)))
    if minor and not pts and w.fac_phy_count[i] > 0 and rng.random() < 0.1:
        pts[int(w.fac_phy_start[i] + rng.integers(0, w.fac_phy_count[i]))] = 1
    return [{"insp_id": iid, "dr_code": w.phy.code[d], "points": p} for d, p in sorted(pts.items())]


__all__ = ["PATTERN_ID", "ROUND_MONTHS", "SELECTIONS", "historical_picks", "inspect_picks"]
