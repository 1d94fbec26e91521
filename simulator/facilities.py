"""Designated facilities and their physicians.

The mix follows a typical prefecture: a few tertiary hospitals concentrated in the capital region,
secondary hospitals per county, many primary centres, clinics and pharmacies, private ownership
more common among the small ones. Some facilities open mid-period or grow, and a few honest ones
are outliers (a long-stay rehabilitation or psychiatric hospital, a very busy general hospital).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.codes import DEPT_INDEX, DEPTS
from simulator.config import REGION_WEIGHTS, REGIONS, Scale, day_of, month_first_day

TYPES = ("general", "tcm", "maternal_child", "specialty", "primary", "clinic", "pharmacy")
T = {name: i for i, name in enumerate(TYPES)}
REGION_NAMES = ("东城区", "西城区", "南山县", "北湖县", "青川县", "白水县", "临江市", "安平县")
# (type, tier, share of facilities, outpatient size, inpatient size, physicians lo/hi)
_MIX = (
    ("general", 3, 0.030, 40.0, 40.0, 40, 70),
    ("general", 2, 0.070, 12.0, 12.0, 15, 30),
    ("general", 1, 0.040, 3.0, 2.5, 5, 10),
    ("tcm", 3, 0.010, 20.0, 14.0, 25, 40),
    ("tcm", 2, 0.030, 6.0, 4.0, 10, 18),
    ("maternal_child", 3, 0.006, 15.0, 10.0, 20, 30),
    ("maternal_child", 2, 0.014, 5.0, 3.0, 8, 15),
    ("specialty", 2, 0.030, 1.0, 6.0, 6, 15),
    ("primary", 1, 0.250, 2.0, 0.3, 3, 8),
    ("clinic", 0, 0.160, 0.6, 0.0, 1, 3),
    ("pharmacy", 0, 0.360, 1.0, 0.0, 1, 3),
)
_DEPT_MIX = {
    "general": {"内科": 6, "外科": 4, "妇产科": 2, "儿科": 2, "急诊科": 1.5, "中医科": 1, "检验科": 1, "影像科": 1,
                "眼科": 0.7, "康复医学科": 0.5, "药房": 0.6},
    "tcm": {"中医科": 7, "内科": 3, "外科": 1, "急诊科": 0.7, "检验科": 0.7, "影像科": 0.7, "康复医学科": 1,
            "药房": 0.6},
    "maternal_child": {"妇产科": 6, "儿科": 5, "检验科": 1, "影像科": 1, "药房": 0.5},
    "primary": {"全科医疗科": 4, "中医科": 1, "内科": 1, "检验科": 0.5, "药房": 0.3},
    "clinic": {"全科医疗科": 3, "内科": 1},
    "pharmacy": {"药房": 1},
}
_SPECIALTY = {"rehab": ("康复医院", "康复医学科"), "psych": ("精神卫生中心", "精神科"), "eye": ("眼科医院", "眼科")}
TITLES = ("主任医师", "副主任医师", "主治医师", "住院医师", "医师")
PHARM_TITLES = ("主管药师", "药师", "药士")


@dataclass
class Facilities:
    code: list[str]
    name: list[str]
    ftype: np.ndarray  # index into TYPES
    tier: np.ndarray
    hosp_lv: list[str]
    ownership: list[str]
    region: np.ndarray
    op_size: np.ndarray
    ip_size: np.ndarray
    subtype: list[str]
    begin_day: np.ndarray
    growth: np.ndarray  # volume multiplier reached by the last month

    @property
    def n(self) -> int:
        return len(self.code)

    def active(self, m: int) -> np.ndarray:
        return self.begin_day <= month_first_day(m + 1) - 1

    def volume(self, m: int, n_months: int) -> np.ndarray:
        return 1.0 + (self.growth - 1.0) * (m / max(1, n_months - 1))


@dataclass
class Physicians:
    code: list[str]
    fac: np.ndarray
    dept: np.ndarray
    title: list[str]
    begin_day: np.ndarray
    lookup_start: np.ndarray  # (n_fac, n_dept)
    lookup_count: np.ndarray

    @property
    def n(self) -> int:
        return len(self.code)


def _counts(n: int) -> list[int]:
    raw = [max(1, round(n * share)) if ftype not in ("primary", "clinic", "pharmacy") else 0
           for ftype, _, share, *_ in _MIX]
    rest = n - sum(raw)
    small = [share for ftype, _, share, *_ in _MIX if ftype in ("primary", "clinic", "pharmacy")]
    k = 0
    for i, (ftype, *_x) in enumerate(_MIX):
        if ftype in ("primary", "clinic", "pharmacy"):
            raw[i] = max(1, round(rest * small[k] / sum(small)))
            k += 1
    raw[-1] += n - sum(raw)
    return raw


def build_facilities(scale: Scale, rng: np.random.Generator) -> Facilities:
    rows: list[dict] = []
    seq = np.zeros(len(REGIONS), dtype=int)
    for (ftype, tier, _share, ops, ips, _lo, _hi), cnt in zip(_MIX, _counts(scale.n_facilities), strict=True):
        for j in range(cnt):
            capital = 0.6 if tier == 3 else 0.0
            reg = 0 if rng.random() < capital else int(rng.choice(len(REGIONS), p=REGION_WEIGHTS))
            sub = ("rehab", "psych", "eye")[j % 3] if ftype == "specialty" else ""
            priv_p = {3: 0.05, 2: 0.3, 1: 0.5}.get(tier, 0.8)
            priv_p = {"primary": 0.1, "pharmacy": 0.85, "specialty": 0.5}.get(ftype, priv_p)
            if ftype == "primary":
                lv = ("08", "09", "11")[int(rng.choice(3, p=(0.3, 0.4, 0.3)))]
            elif tier == 0:
                lv = "11"
            else:
                lv = {3: ("02", "03"), 2: ("05", "06"), 1: ("08", "09")}[tier][int(rng.random() < 0.35)]
            begin = day_of(__import__("datetime").date(1985, 1, 1)) + int(rng.integers(0, 36 * 365))
            if tier < 3 and rng.random() < 0.06:  # opens during the period
                begin = month_first_day(int(rng.integers(3, 30))) + int(rng.integers(0, 28))
            growth = float(rng.uniform(1.5, 2.6)) if rng.random() < 0.08 else float(rng.uniform(0.9, 1.15))
            size = ops * float(rng.lognormal(0, 0.35))
            ipsz = ips * float(rng.lognormal(0, 0.3)) * (rng.random() < 0.5 if ftype == "primary" else 1.0)
            rows.append(dict(ftype=ftype, tier=tier, lv=lv, reg=reg, sub=sub, begin=begin, growth=growth,
                             op=size, ip=ipsz, own="private" if rng.random() < priv_p else "public"))
    # one honest very-high-volume general hospital
    big = next(i for i, r in enumerate(rows) if r["ftype"] == "general")
    rows[big]["op"] *= 2.5
    rows[big]["ip"] *= 2.5
    codes, names = [], []
    for r in rows:
        seq[r["reg"]] += 1
        prefix = "P" if r["ftype"] == "pharmacy" else "H"
        codes.append(f"{prefix}{REGIONS[r['reg']]}{seq[r['reg']]:05d}")
        names.append(_name(r, int(seq[r["reg"]])))
    return Facilities(
        code=codes, name=names, ftype=np.array([T[r["ftype"]] for r in rows], dtype=np.int8),
        tier=np.array([r["tier"] for r in rows], dtype=np.int8), hosp_lv=[r["lv"] for r in rows],
        ownership=[r["own"] for r in rows], region=np.array([r["reg"] for r in rows], dtype=np.int16),
        op_size=np.array([r["op"] for r in rows]), ip_size=np.array([r["ip"] for r in rows]),
        subtype=[r["sub"] for r in rows], begin_day=np.array([r["begin"] for r in rows], dtype=np.int64),
        growth=np.array([r["growth"] for r in rows]),
    )


def _name(r: dict, k: int) -> str:
    rn = REGION_NAMES[r["reg"]]
    ftype = r["ftype"]
    if ftype == "general":
        return f"{rn}第{k}人民医院" if r["tier"] < 3 else f"{rn}中心医院{k}院区"
    if ftype == "tcm":
        return f"{rn}中医医院{k}"
    if ftype == "maternal_child":
        return f"{rn}妇幼保健院{k}"
    if ftype == "specialty":
        return f"{rn}{_SPECIALTY[r['sub']][0]}{k}"
    if ftype == "primary":
        return f"{rn}第{k}社区卫生服务中心" if k % 2 else f"{rn}{k}号镇卫生院"
    if ftype == "clinic":
        return f"{rn}仁和诊所{k}" if r["own"] == "private" else f"{rn}卫生室{k}"
    return f"{rn}康民大药房第{k}分店"


def build_physicians(fac: Facilities, rng: np.random.Generator) -> Physicians:
    """Physicians per facility in proportion to its size; core departments always staffed."""
    f_idx, d_idx, titles, begins = [], [], [], []
    for i in range(fac.n):
        ftype = TYPES[fac.ftype[i]]
        mix_row = next(x for x in _MIX if x[0] == ftype and (x[1] == fac.tier[i] or ftype == "primary"))
        lo, hi = mix_row[5], mix_row[6]
        n = int(rng.integers(lo, hi + 1) * max(1.0, fac.op_size[i] / mix_row[3]) ** 0.5)
        if ftype == "specialty":
            mix = {_SPECIALTY[fac.subtype[i]][1]: 6, "内科": 1, "检验科": 0.5, "影像科": 0.5, "药房": 0.3}
        else:
            mix = _DEPT_MIX[ftype]
        names = list(mix)
        p = np.array([mix[d] for d in names])
        core = [d for d in names if mix[d] >= 1][:n]
        depts = core + list(rng.choice(names, size=max(0, n - len(core)), p=p / p.sum()))
        for d in depts:
            f_idx.append(i)
            d_idx.append(DEPT_INDEX[d])
            titles.append(PHARM_TITLES[int(rng.integers(0, 3))] if d == "药房"
                          else TITLES[int(rng.choice(5, p=(0.1, 0.2, 0.35, 0.25, 0.1)))])
            b = day_of(__import__("datetime").date(1990, 1, 1)) + int(rng.integers(0, 31 * 365))
            begins.append(max(b, int(fac.begin_day[i])) if fac.begin_day[i] > month_first_day(0) else b)
    f = np.array(f_idx, dtype=np.int32)
    d = np.array(d_idx, dtype=np.int16)
    order = np.lexsort((d, f))
    f, d = f[order], d[order]
    titles = [titles[k] for k in order]
    begins_arr = np.array(begins, dtype=np.int64)[order]
    nd = len(DEPTS)
    key = f.astype(np.int64) * nd + d
    start = np.full(fac.n * nd, -1, dtype=np.int64)
    count = np.zeros(fac.n * nd, dtype=np.int64)
    uniq, first, cnt = np.unique(key, return_index=True, return_counts=True)
    start[uniq] = first
    count[uniq] = cnt
    seq = np.zeros(fac.n, dtype=int)
    codes = []
    for k in range(len(f)):
        seq[f[k]] += 1
        codes.append(f"D{fac.code[f[k]][1:]}{seq[f[k]]:03d}")
    return Physicians(code=codes, fac=f, dept=d, title=titles, begin_day=begins_arr,
                      lookup_start=start.reshape(fac.n, nd), lookup_count=count.reshape(fac.n, nd))
