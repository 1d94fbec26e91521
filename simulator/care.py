"""Legitimate care for one month: who is seen where, for what, by whom.

People drive the volume (age-, sex- and season-dependent rates, chronic conditions); facilities
are chosen mostly at home and in the home region, severe cases go to tertiary hospitals, women
and children also use maternal-child hospitals, specialty hospitals take their own long stays.
"""

from __future__ import annotations

import numpy as np

from simulator.codes import AGE_EDGES, DEPT_INDEX, DIAGS, diag_id, diag_ids
from simulator.config import DAY, N_MONTHS, export_end_day, is_winter, month_first_day, month_n_days
from simulator.facilities import T
from simulator.frame import Frame, concat
from simulator.lines import MODE_IP, MODE_OP, MODE_PH
from simulator.population import CONDITIONS
from simulator.world import State, World

MED = ("11", "13", "14", "21", "28", "41", "51", "52")
M11, M13, M14, M21, M41, M51, M52 = 0, 1, 2, 3, 5, 6, 7
_OP_RATE = np.array([0.28, 0.10, 0.13, 0.25])
_IP_RATE = np.array([0.004, 0.003, 0.006, 0.018])
_IP_SETTING_SCALE = {"ip": 1.0, "eye": 0.5, "rehab": 0.12, "psych": 0.08, "mild": 0.05}
_CHRONIC_CODE = {"diabetes": "E11.9", "hypertension": "I10.X", "copd": "J44.9"}
# Per-diagnosis attributes as arrays, so a month's visits look them up with one gather.
_DIAG_DEPT = np.array([DEPT_INDEX[d.dept] for d in DIAGS], dtype=np.int64)
_DIAG_SETTING = np.array([d.setting for d in DIAGS])
_DIAG_SEVERE = np.array([d.severe for d in DIAGS], dtype=bool)
_DIAG_MIN_TIER = np.array([d.min_tier for d in DIAGS], dtype=np.int64)
_DIAG_LOS = np.array([d.los for d in DIAGS], dtype=np.float64)


class Router:
    """Facility choice by class of care, within the person's region unless none is there."""

    def __init__(self, w: World, m: int) -> None:
        f = w.fac
        act = f.active(m) * f.volume(m, N_MONTHS)
        ty, tier, ips = f.ftype, f.tier, f.ip_size
        hosp_ip = np.isin(ty, (T["general"], T["tcm"], T["primary"])) & (ips > 0)
        sub = np.array(f.subtype)
        gen2 = (ty == T["general"]) & (tier >= 2)
        self.region = f.region
        self.w = {
            "op_all": np.where(np.isin(ty, (T["pharmacy"], T["maternal_child"], T["specialty"])), 0.0, f.op_size),
            "op_wc": np.where(np.isin(ty, (T["pharmacy"], T["specialty"])), 0.0,
                              f.op_size * np.where(ty == T["maternal_child"], 3.0, 1.0)),
            "ph": np.where(ty == T["pharmacy"], f.op_size, 0.0),
            "ip": np.where(hosp_ip, ips, 0.0),
            "ip_t2": np.where(hosp_ip & (tier >= 2), ips, 0.0),
            "ip_t3": np.where(hosp_ip & (tier >= 3), ips, 0.0),
            "ip_sev": np.where(hosp_ip, ips * np.select([tier == 3, tier == 2], [4.0, 1.0], 0.15), 0.0),
            "mat": np.where(ty == T["maternal_child"], 3 * ips, np.where(gen2, ips, 0.0)),
            "mild": np.where(hosp_ip & (tier <= 2), ips * np.where(tier <= 1, 2.0, 1.0), 0.0),
        }
        for s in ("rehab", "psych", "eye"):
            own = (ty == T["specialty"]) & (sub == s)
            self.w[s] = np.where(own, ips, 0.0) if own.any() else np.where(gen2, ips, 0.0)
        self.w = {k: v * act for k, v in self.w.items()}
        self.province_wide = {"rehab", "psych", "eye", "ip_t3"}

    def pick(self, cls: str, region: np.ndarray, rng: np.random.Generator, cross: float = 0.05) -> np.ndarray:
        w = self.w[cls]
        out = np.empty(len(region), dtype=np.int64)
        reg = np.where(rng.random(len(region)) < cross, -1, region)
        if cls in self.province_wide:
            reg[:] = -1
        for r in np.unique(reg):
            sel = reg == r
            wr = w if r < 0 else w * (self.region == r)
            if wr.sum() <= 0:
                wr = w
            c = np.cumsum(wr)
            out[sel] = np.minimum(np.searchsorted(c, rng.random(int(sel.sum())) * c[-1], side="right"), len(w) - 1)
        return out


def pick_physician(w: World, fac: np.ndarray, dept: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A physician of the facility in the department, else a fallback department, else anyone there."""
    start = w.phy.lookup_start[fac, dept]
    count = w.phy.lookup_count[fac, dept]
    for fb in ("内科", "全科医疗科", "中医科", "外科", "药房"):
        miss = count == 0
        if not miss.any():
            break
        d = DEPT_INDEX[fb]
        start = np.where(miss, w.phy.lookup_start[fac, d], start)
        count = np.where(miss, w.phy.lookup_count[fac, d], count)
    miss = count == 0
    start = np.where(miss, w.fac_phy_start[fac], start)
    count = np.where(miss, w.fac_phy_count[fac], count)
    return (start + (rng.random(len(fac)) * count).astype(np.int64)).astype(np.int32)


def _band(age: np.ndarray) -> np.ndarray:
    return np.digitize(age, AGE_EDGES)


def _sample_diag(ids: list[int], scale: np.ndarray, band: np.ndarray, male: np.ndarray, winter: float,
                 rng: np.random.Generator) -> np.ndarray:
    out = np.empty(len(band), dtype=np.int64)
    for b in range(4):
        for mval in (False, True):
            sel = (band == b) & (male == mval)
            if not sel.any():
                continue
            wt = np.array([DIAGS[i].bands[b] * (1 + winter * DIAGS[i].winter) * s
                           * (DIAGS[i].sex is None or DIAGS[i].sex == ("1" if mval else "2"))
                           for i, s in zip(ids, scale, strict=True)])
            c = np.cumsum(wt)
            out[sel] = np.asarray(ids)[np.searchsorted(c, rng.random(int(sel.sum())) * c[-1], side="right")]
    return out


def make_visits(w: World, rng: np.random.Generator, person: np.ndarray, fac: np.ndarray, med: int | np.ndarray,
                day: np.ndarray, diag: np.ndarray, mode: int, los: np.ndarray | None = None,
                tmpl: np.ndarray | None = None, dept: np.ndarray | None = None) -> Frame:
    """Assemble a visit frame: times, attending physician, DRG suffix; los clipped to the export end."""
    n = len(person)
    los = np.zeros(n, dtype=np.int64) if los is None else np.minimum(los, export_end_day() - day)
    los = np.maximum(los, 1) if mode == MODE_IP else los
    if mode == MODE_IP:
        keep = day + los <= export_end_day()
        person, fac, day, diag, los = person[keep], fac[keep], day[keep], diag[keep], los[keep]
        med = med[keep] if isinstance(med, np.ndarray) else med
        tmpl = None if tmpl is None else tmpl[keep]
        dept = None if dept is None else dept[keep]
        n = len(person)
    hour = rng.random(n)
    if mode == MODE_IP:
        begin = day * DAY + (8 * 3600 + hour * 12 * 3600).astype(np.int64)
        end = (day + los) * DAY + (9 * 3600 + rng.random(n) * 3 * 3600).astype(np.int64)
    elif mode == MODE_PH:
        begin = day * DAY + (8 * 3600 + hour * 13 * 3600).astype(np.int64)
        end = begin + (120 + rng.random(n) * 300).astype(np.int64)
    else:
        begin = day * DAY + (8 * 3600 + hour * 9 * 3600).astype(np.int64)
        end = begin + (600 + rng.random(n) * 2400).astype(np.int64)
    if dept is None:
        dept = _DIAG_DEPT[np.maximum(diag, 0)]
        dept = np.where(diag < 0, DEPT_INDEX["药房"], dept)
    age = ((day - w.per.birth_day[person]) // 365.25).astype(np.int64)
    dept = np.where((age < 14) & (dept == DEPT_INDEX["内科"]), DEPT_INDEX["儿科"], dept)
    medv = np.broadcast_to(np.asarray(med, dtype=np.int8), (n,)).copy()
    dept = np.where(medv == M13, DEPT_INDEX["急诊科"], dept)
    dr = pick_physician(w, fac, dept, rng)
    sfx = np.zeros(n, dtype=np.int8)
    if mode == MODE_IP:
        chronic = w.per.cond[person].any(axis=1)
        p1 = 0.05 + 0.12 * (age >= 65) + 0.08 * chronic
        u = rng.random(n)
        sfx = np.where(u < p1, 1, np.where(u < p1 + 0.3, 3, 5)).astype(np.int8)
    return {
        "person": person.astype(np.int64), "fac": fac.astype(np.int64), "med": medv, "day": day.astype(np.int64),
        "begin": begin, "end": end, "diag": diag.astype(np.int16), "sfx": sfx, "dr": dr,
        "dept": dept.astype(np.int16), "los": los.astype(np.int64), "mode": np.full(n, mode, dtype=np.int8),
        "tmpl": np.full(n, -1, dtype=np.int32) if tmpl is None else tmpl.astype(np.int32),
        "a1c": np.zeros(n, dtype=np.int8), "adm": np.ones(n, dtype=np.int8),
        "pattern": np.zeros(n, dtype=np.int8), "scheme": np.full(n, -1, dtype=np.int32),
        "upc": np.zeros(n), "age": age,
    }


def legit_visits(w: World, st: State, m: int, rng: np.random.Generator, a1c_short: np.ndarray,
                 a1c_scheme: np.ndarray) -> Frame:
    """All legitimate visits beginning in month m."""
    per, router = w.per, Router(w, m)
    d0, nd = month_first_day(m), month_n_days(m)
    winter = is_winter(m)
    age = per.age_at(d0)
    band = _band(age)
    act = w.fac.active(m)
    frames: list[Frame] = []

    def days(k: int) -> np.ndarray:
        return d0 + rng.integers(0, nd, k)

    # acute outpatient
    k = rng.poisson(_OP_RATE[band] * (1 + 0.4 * winter))
    p = np.repeat(np.arange(per.n), k)
    ids = diag_ids("op")
    dg = _sample_diag(ids, np.ones(len(ids)), band[p], per.male[p], winter, rng)
    wc = ~per.male[p] | (age[p] < 15)
    fac = np.where(wc, router.pick("op_wc", per.region[p], rng), router.pick("op_all", per.region[p], rng))
    home = per.home[p]
    use_home = (rng.random(len(p)) < 0.6) & act[home]
    fac = np.where(use_home, home, fac)
    med = np.where(rng.random(len(p)) < 0.08, M13, M11).astype(np.int8)
    frames.append(make_visits(w, rng, p, fac, med, days(len(p)), dg, MODE_OP))
    # maternity outpatient and deliveries
    fert = ~per.male & (age >= 20) & (age <= 40)
    for rate, mode in ((0.025, MODE_OP), (0.0035, MODE_IP)):
        p = np.flatnonzero(fert & (rng.random(per.n) < rate))
        if mode == MODE_OP:
            dg = np.full(len(p), diag_id("Z34.9", "mat_op"))
            fac = router.pick("op_wc", per.region[p], rng)
            frames.append(make_visits(w, rng, p, fac, M51, days(len(p)), dg, MODE_OP))
        else:
            cs = rng.random(len(p)) < 0.35
            dg = np.where(cs, diag_id("O82", "mat_ip"), diag_id("O80", "mat_ip"))
            los = np.maximum(1, np.rint(rng.gamma(4, np.where(cs, 5, 3) / 4))).astype(np.int64)
            fac = router.pick("mat", per.region[p], rng)
            frames.append(make_visits(w, rng, p, fac, M52, days(len(p)), dg, MODE_IP, los=los))
    # chronic outpatient (门诊慢特病): HbA1c when due, other refills
    due = (st.next_a1c >= d0) & (st.next_a1c < d0 + nd)
    p = np.flatnonzero(due)
    fac = np.where(act[per.home[p]], per.home[p], router.pick("op_all", per.region[p], rng))
    v = make_visits(w, rng, p, fac, M14, st.next_a1c[p], np.full(len(p), diag_id("E11.9", "chronic")), MODE_OP)
    v["a1c"] = np.where(st.a1c_fraud_scheme[p] >= 0, 2, 1).astype(np.int8)
    v["scheme"] = np.where(st.a1c_fraud_scheme[p] >= 0, st.a1c_fraud_scheme[p], -1).astype(np.int32)
    short = rng.random(len(p)) < a1c_short[fac]
    gap = np.where(short, rng.integers(30, 81, len(p)), rng.integers(91, 111, len(p)))
    st.next_a1c[p] = v["day"] + gap
    st.a1c_fraud_scheme[p] = np.where(short, a1c_scheme[fac], -1)
    frames.append(v)
    chronic3 = per.cond[:, :3]
    has = chronic3.any(axis=1)
    p = np.flatnonzero(has & (rng.random(per.n) < 0.4))
    pick = _random_true(chronic3[p], rng)
    codes = np.array([diag_id(_CHRONIC_CODE[c], "chronic") for c in CONDITIONS[:3]])
    fac = np.where(act[per.home[p]], per.home[p], router.pick("op_all", per.region[p], rng))
    frames.append(make_visits(w, rng, p, fac, M14, days(len(p)), codes[pick], MODE_OP))
    # pharmacy purchases
    anyc = per.cond.any(axis=1)
    p = np.flatnonzero(rng.random(per.n) < np.where(anyc, 0.35, 0.07))
    cond_pick = _random_true(per.cond[p], rng)
    ph_ids = np.array([w.bd.id_of[f"PH_{c}"] for c in CONDITIONS] + [w.bd.id_of["PH_ACUTE"]])
    acute = ~anyc[p] | (rng.random(len(p)) < 0.15)
    tmpl = ph_ids[np.where(acute, len(CONDITIONS), cond_pick)]
    hp = per.pharmacy[p]
    fac = np.where((rng.random(len(p)) < 0.7) & act[hp], hp, router.pick("ph", per.region[p], rng))
    frames.append(make_visits(w, rng, p, fac, M41, days(len(p)), np.full(len(p), -1), MODE_PH, tmpl=tmpl))
    # inpatient
    frames.append(_inpatient(w, rng, router, age, band, winter, d0, nd))
    return concat(frames)


def _random_true(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index of a random True column per row (0 when a row has none)."""
    score = rng.random(mask.shape) * mask
    return score.argmax(axis=1)


def _inpatient(w: World, rng: np.random.Generator, router: Router, age: np.ndarray, band: np.ndarray,
               winter: float, d0: int, nd: int) -> Frame:
    per = w.per
    settings = [s for s in _IP_SETTING_SCALE]
    ids = [i for i, d in enumerate(DIAGS) if d.setting in settings]
    scale = np.array([_IP_SETTING_SCALE[DIAGS[i].setting] for i in ids])
    k = rng.poisson(_IP_RATE[band] * (1 + 0.3 * winter))
    p = np.repeat(np.arange(per.n), k)
    dg = _sample_diag(ids, scale, band[p], per.male[p], winter, rng)
    extra = []
    for j, code, rate in ((2, "J44.1", 0.006 * (1 + winter)), (0, "E11.9", 0.002), (3, "I25.1", 0.003)):
        q = np.flatnonzero(per.cond[:, j] & (rng.random(per.n) < rate))
        extra.append((q, np.full(len(q), diag_id(code, "ip"))))
    p = np.concatenate([p] + [e[0] for e in extra])
    dg = np.concatenate([dg] + [e[1] for e in extra])
    fac = np.empty(len(p), dtype=np.int64)
    setting = _DIAG_SETTING[dg]
    severe = _DIAG_SEVERE[dg]
    mint = _DIAG_MIN_TIER[dg]
    cls = np.where(setting == "ip", np.where(mint >= 3, "ip_t3", np.where(severe, "ip_sev",
                   np.where(mint >= 2, "ip_t2", "ip"))), setting)
    for c in np.unique(cls):
        sel = cls == c
        fac[sel] = router.pick(str(c), per.region[p[sel]], rng)
    mean = _DIAG_LOS[dg]
    tf = np.select([w.fac.tier[fac] == 3, w.fac.tier[fac] == 2], [0.9, 1.0], 1.15)
    shape = np.where(np.isin(setting, ("rehab", "psych")), 2.0, 3.0)
    los = np.maximum(1, np.rint(rng.gamma(shape, mean * tf / shape))).astype(np.int64)
    return make_visits(w, rng, p, fac, M21, d0 + rng.integers(0, nd, len(p)), dg, MODE_IP, los=los)
