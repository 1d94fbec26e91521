"""Insured people: age pyramid, sex, insurance type, chronic conditions, home facilities.

Chronic conditions drive the steady part of the claims (门诊慢特病 visits, quarterly HbA1c for
diabetics, monthly pharmacy refills); the home facility and pharmacy make most care local.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from simulator.config import REGION_WEIGHTS, REGIONS, month_first_day
from simulator.facilities import Facilities, T

# 5-year age bands 0–4 … 85+ (share of people), close to the 2020 census shape.
_PYRAMID = np.array([5.5, 6.3, 6.0, 5.3, 5.4, 6.6, 8.8, 7.0, 6.5, 8.0, 8.7, 7.0, 5.2, 5.5, 3.7, 2.4, 1.5, 1.0])
CONDITIONS = ("diabetes", "hypertension", "copd", "chd")
# Prevalence by age band (<30, 30–44, 45–64, 65+).
_PREV = {
    "diabetes": (0.002, 0.04, 0.10, 0.18),
    "hypertension": (0.01, 0.08, 0.25, 0.45),
    "copd": (0.0, 0.01, 0.04, 0.10),
    "chd": (0.0, 0.005, 0.04, 0.12),
}
_CHECK_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK_C = np.frombuffer(b"10X98765432", dtype=np.uint8)


@dataclass
class Persons:
    region: np.ndarray
    male: np.ndarray
    birth_day: np.ndarray
    insutype310: np.ndarray
    cond: np.ndarray  # (n, 4) bool, CONDITIONS order
    home: np.ndarray  # home outpatient facility
    pharmacy: np.ndarray  # home pharmacy (-1 none in region)
    psn_no: pa.Array
    certno: pa.Array
    # Everyone's age on one day, and people per region of at least some age on that day: asked for by
    # legitimate care and by four behaviours each month, so kept for the month's first day.
    _ages: tuple[int, np.ndarray] | None = field(default=None, init=False, repr=False)
    _pools: dict[int, list[np.ndarray]] = field(default_factory=dict, init=False, repr=False)  # by min_age
    _by_region: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)
    _region_ages: np.ndarray | None = field(default=None, init=False, repr=False)  # ages in _by_region order

    @property
    def n(self) -> int:
        return len(self.region)

    def age_at(self, day: int) -> np.ndarray:
        """Everyone's age in whole years on `day` (read-only; the same array for repeated calls)."""
        day = int(day)
        if self._ages is None or self._ages[0] != day:
            ages = ((day - self.birth_day) // 365.25).astype(np.int64)
            ages.flags.writeable = False
            self._ages = (day, ages)
            self._pools.clear()
            self._region_ages = None
        return self._ages[1]

    def region_pools(self, day: int, min_age: int) -> list[np.ndarray]:
        """Per region, the people at least `min_age` on `day` (everyone in the region when nobody is)."""
        ages = self.age_at(day)  # a new day clears the pools
        if self._by_region is None:  # people ordered by region, then index: one slice per region
            order = np.argsort(self.region, kind="stable")
            self._by_region = (order, np.searchsorted(self.region[order], np.arange(len(REGIONS) + 1)))
        if min_age not in self._pools:
            order, bounds = self._by_region
            if self._region_ages is None:
                self._region_ages = ages[order]
            old = self._region_ages >= min_age
            pools = []
            for r in range(len(REGIONS)):
                seg = slice(bounds[r], bounds[r + 1])
                p = order[seg][old[seg]]
                pools.append(p if len(p) else order[seg])
            self._pools[min_age] = pools
        return self._pools[min_age]


def _digits(x: np.ndarray, width: int) -> np.ndarray:
    pw = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (x[:, None] // pw[None, :]) % 10


def _strings(mat: np.ndarray) -> pa.Array:
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(mat)))


def build_persons(n: int, fac: Facilities, rng: np.random.Generator) -> Persons:
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS).astype(np.int16)
    male = rng.random(n) < 0.51
    band = rng.choice(len(_PYRAMID), size=n, p=_PYRAMID / _PYRAMID.sum())
    age_days = (band * 5 + rng.random(n) * 5) * 365.25
    birth = (month_first_day(0) - age_days).astype(np.int64)
    age = age_days / 365.25
    p310 = np.where((age >= 18) & (age < 60), 0.55, np.where(age >= 60, 0.35, 0.0))
    ins = rng.random(n) < p310
    ab = np.digitize(age, (30, 45, 65))
    cond = np.zeros((n, len(CONDITIONS)), dtype=bool)
    for j, c in enumerate(CONDITIONS):
        p = np.array(_PREV[c])[ab] * (np.where(male, 1.5, 0.7) if c == "copd" else 1.0)
        cond[:, j] = rng.random(n) < p
    home = np.full(n, -1, dtype=np.int32)
    pharm = np.full(n, -1, dtype=np.int32)
    is_ph = fac.ftype == T["pharmacy"]
    local = (fac.ftype == T["primary"]) | (fac.ftype == T["clinic"]) | ((fac.ftype == T["general"]) & (fac.tier < 3))
    for r in range(len(REGIONS)):
        sel = region == r
        for pool, out in ((np.flatnonzero(local & (fac.region == r)), home),
                          (np.flatnonzero(is_ph & (fac.region == r)), pharm)):
            if len(pool) == 0:
                pool = np.flatnonzero(local if out is home else is_ph)
            w = fac.op_size[pool] / fac.op_size[pool].sum()
            out[sel] = pool[rng.choice(len(pool), size=int(sel.sum()), p=w)]
    seq = np.arange(n, dtype=np.int64) + 1
    reg_code = np.array([int(x) for x in REGIONS], dtype=np.int64)[region]
    psn = np.concatenate([_digits(reg_code, 6), _digits(seq * 7919 % 10**14, 14)], axis=1)
    y = 1970 + (birth / 365.25).astype(np.int64)
    ymd = _birth_ymd(birth)
    order = (seq % 500) * 2 + np.where(male, 1, 0)
    body = np.concatenate([_digits(reg_code, 6), _digits(ymd, 8), _digits(order, 3)], axis=1)
    check = _CHECK_C[(body * _CHECK_W).sum(axis=1) % 11]
    cert = np.concatenate([(body + 48).astype(np.uint8), check[:, None]], axis=1)
    del y
    return Persons(region=region, male=male, birth_day=birth, insutype310=ins, cond=cond, home=home,
                   pharmacy=pharm, psn_no=_strings((psn + 48).astype(np.uint8)), certno=_strings(cert))


def _birth_ymd(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    mo = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + mo * 100 + dd
