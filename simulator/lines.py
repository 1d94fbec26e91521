"""Turn visits into fee lines, vectorised: one numpy pass per bundle, never a loop per line.

Inpatient stays are expanded to stay-days first (bed fee and nursing every day, the diagnosis'
daily bundle, the admission work-up on day 0, the operation on day 1, take-home drugs on the last
day). Lower-tier facilities order fewer tests and never items above their tier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.bundles import ADULT_FOR, CARE, GENERIC, Entry
from simulator.catalog import Catalog
from simulator.codes import DIAGS
from simulator.config import DAY
from simulator.frame import Frame

MODE_OP, MODE_IP, MODE_PH, MODE_BED, MODE_TEMPLATE = 0, 1, 2, 3, 4
_TEST_KEEP_ARR = np.array([0.5, 0.55, 0.8, 1.0])  # share of tests kept, by tier 0–3


@dataclass
class Bundle:
    alts: np.ndarray  # flat item indices
    off: np.ndarray  # per entry: start into alts
    nalt: np.ndarray
    prob: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


class Bundles:
    """All bundles compiled to arrays; `id_of[(code, setting, phase)]` or `id_of[name]`."""

    def __init__(self, cat: Catalog) -> None:
        self.items: list[Bundle] = []
        self.id_of: dict = {}
        for name, entries in GENERIC.items():
            self.id_of[name] = self._add(cat, entries)
        for (code, setting), phases in CARE.items():
            for phase, entries in phases.items():
                self.id_of[(code, setting, phase)] = self._add(cat, entries)
        # per diagnosis index and phase: bundle id or -1
        self.by_diag = {ph: np.array([self.id_of.get((d.code, d.setting, ph), -1) for d in DIAGS], dtype=np.int32)
                        for ph in ("op", "adm", "day", "sur", "dis")}
        self.adult_for = np.arange(len(cat.rows), dtype=np.int32)
        for child, adult in ADULT_FOR.items():
            for j, i in enumerate(cat.variants(child)):
                self.adult_for[i] = -1 if adult is None else cat.variants(adult)[j % len(cat.variants(adult))]
        self.child_only = np.array([r["lmt_age_max"] is not None for r in cat.rows])

    def _add(self, cat: Catalog, entries: list[Entry]) -> int:
        alts, off, nalt = [], [], []
        for keys, _p, _lo, _hi in entries:
            items = [i for k in keys.split("|") for i in cat.variants(k)]
            off.append(len(alts))
            nalt.append(len(items))
            alts.extend(items)
        self.items.append(Bundle(np.array(alts, dtype=np.int32), np.array(off, dtype=np.int64),
                                 np.array(nalt, dtype=np.int64), np.array([e[1] for e in entries]),
                                 np.array([e[2] for e in entries]), np.array([e[3] for e in entries])))
        return len(self.items) - 1

    def draw(self, rows: np.ndarray, bundle: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each row with bundle id ≥ 0, draw its entries: returns (row, item, cnt)."""
        ok = bundle >= 0
        rows, bundle = rows[ok], bundle[ok]
        if len(bundle) == 0:
            z = np.zeros(0, dtype=np.int64)
            return z, z.astype(np.int32), z
        order = np.argsort(bundle, kind="stable")
        rows, bundle = rows[order], bundle[order]
        uniq, starts = np.unique(bundle, return_index=True)
        ends = np.append(starts[1:], len(bundle))
        out_r, out_i, out_c = [], [], []
        for b, s, e in zip(uniq, starts, ends, strict=True):
            bd = self.items[b]
            rr = rows[s:e]
            hit = rng.random((len(rr), len(bd.prob))) < bd.prob
            r, c = np.nonzero(hit)
            pick = bd.off[c] + (rng.random(len(c)) * bd.nalt[c]).astype(np.int64)
            cnt = bd.lo[c] + (rng.random(len(c)) * (bd.hi[c] - bd.lo[c] + 1)).astype(np.int64)
            out_r.append(rr[r])
            out_i.append(bd.alts[pick])
            out_c.append(cnt)
        if not out_r:
            z = np.zeros(0, dtype=np.int64)
            return z, z.astype(np.int32), z
        return np.concatenate(out_r), np.concatenate(out_i), np.concatenate(out_c)


def price_matrix(cat: Catalog, tier: np.ndarray, is_pharmacy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Price in cents per (facility, item): services by tier, drugs at reference (pharmacies vary)."""
    svc_factor = np.select([tier == 3, tier == 2], [1.0, 0.9], 0.8)
    drug_factor = np.where(is_pharmacy, rng.uniform(0.95, 1.12, len(tier)), 1.0)
    consum = np.array([r["list_type"] == "301" for r in cat.rows])
    f = np.where(cat.is_drug[None, :] | consum[None, :], drug_factor[:, None], svc_factor[:, None])
    p = np.rint(cat.ref_cents[None, :] * f).astype(np.int64)
    cap = np.where(cat.cap_cents < 0, np.iinfo(np.int64).max, cat.cap_cents)
    return np.minimum(p, cap[None, :])


def expand(v: Frame, age: np.ndarray, ftier: np.ndarray, cat: Catalog, bd: Bundles,
           rng: np.random.Generator) -> Frame:
    """Fee lines for every visit in `v` (columns: visit row, item, cnt, day offset, line time)."""
    n = len(v["mode"])
    mode = v["mode"]
    diag = v["diag"]
    child = age < 14
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(rows: np.ndarray, bundle: np.ndarray, day: np.ndarray) -> None:
        r, i, c = bd.draw(np.arange(len(rows)), bundle, rng)
        parts.append((rows[r], i, c, day[r]))

    zero = np.zeros(n, dtype=np.int64)
    # outpatient-like visits: registration, diagnosis bundle, HbA1c when due, paediatric add-ons
    op = np.flatnonzero(mode == MODE_OP)
    dg = diag[op]
    reg = np.where(v["med"][op] == 1, bd.id_of["REG_EMG"],
                   np.where(ftier[v["fac"][op]] >= 2, bd.id_of["REG_HOSP"], bd.id_of["REG_PRIM"]))
    add(op, reg, zero[op])
    add(op, bd.by_diag["op"][np.maximum(dg, 0)] * (dg >= 0) - (dg < 0), zero[op])
    a1 = op[v["a1c"][op] > 0]
    add(a1, np.full(len(a1), bd.id_of["A1C"]), zero[a1])
    kid = op[child[op]]
    add(kid, np.full(len(kid), bd.id_of["PEDS_OP"]), zero[kid])
    # pharmacy purchases: the bundle chosen by the visit generator
    ph = np.flatnonzero(mode == MODE_PH)
    add(ph, v["tmpl"][ph].astype(np.int32), zero[ph])
    # inpatient stays → stay-days
    ip = np.flatnonzero((mode == MODE_IP) | (mode == MODE_BED))
    los = np.maximum(v["los"][ip], 1).astype(np.int64)
    srow = np.repeat(ip, los)
    first = np.cumsum(los) - los
    sday = np.arange(len(srow), dtype=np.int64) - np.repeat(first, los)
    add(srow, np.full(len(srow), bd.id_of["IP_DAY"]), sday)
    full = mode[srow] == MODE_IP
    sd = diag[srow]
    d0 = full & (sday == 0) & (v["adm"][srow] > 0)
    add(srow[d0], np.full(int(d0.sum()), bd.id_of["IP_ADM"]), sday[d0])
    add(srow[d0], bd.by_diag["adm"][sd[d0]], sday[d0])
    add(srow[full], bd.by_diag["day"][sd[full]], sday[full])
    last = np.repeat(los, los) - 1
    sur_day = np.minimum(1, last)
    su = full & (sday == sur_day) & (v["adm"][srow] > 0)
    add(srow[su], bd.by_diag["sur"][sd[su]], sday[su])
    di = full & (sday == last)
    add(srow[di], bd.by_diag["dis"][sd[di]], sday[di])
    kd = full & child[srow]
    add(srow[kd], np.full(int(kd.sum()), bd.id_of["PEDS_DAY"]), sday[kd])
    row = np.concatenate([p[0] for p in parts])
    item = np.concatenate([p[1] for p in parts]).astype(np.int32)
    cnt = np.concatenate([p[2] for p in parts]).astype(np.float64)
    day = np.concatenate([p[3] for p in parts])
    # adults never get child-only items from a generic bundle; low tiers order fewer tests
    adult = ~child[row] & bd.child_only[item]
    item = np.where(adult, bd.adult_for[item], item)
    ft = ftier[v["fac"][row]]
    is_test = cat.is_test[np.maximum(item, 0)]
    keep_p = np.where(is_test & (v["a1c"][row] == 0), _TEST_KEEP_ARR[ft], 1.0)
    keep = (item >= 0) & (rng.random(len(item)) < keep_p) & (cat.min_tier[np.maximum(item, 0)] <= np.maximum(ft, 1))
    a1c_line = np.isin(item, cat.variants("A1C")) & (v["a1c"][row] > 0)
    keep |= a1c_line
    row, item, cnt, day = row[keep], item[keep], cnt[keep], day[keep]
    return {"row": row, "item": item, "cnt": cnt, "time": line_times(v, row, day, rng)}


def line_times(v: Frame, row: np.ndarray, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fee times inside [begintime, endtime]: daytime hours on the stay-day, minutes after a visit."""
    b, e = v["begin"][row], v["end"][row]
    inp = v["los"][row] > 0
    t_ip = (b // DAY + day) * DAY + 8 * 3600 + (rng.random(len(row)) * 10 * 3600).astype(np.int64)
    t_op = b + (rng.random(len(row)) * np.maximum(e - b, 1)).astype(np.int64)
    return np.clip(np.where(inp, t_ip, t_op), b, e)
