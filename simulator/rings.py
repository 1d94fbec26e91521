"""Collusion rings (医患串通/团伙套取) and the honest groups that look like them.

A card-pool ring is a few clinics and pharmacies of one region, a colluding physician at each
clinic, and a pool of recruited local adults whose cards the members bill on the same or adjacent
days (behaviours/ring.py). Its members are scheme rows of pattern `ring`, appended after those of
`plan_schemes`; the truth is the ring (truth/rings.parquet), not only its members.

The look-alikes are honest: a household that sees the same two local facilities together, and a
hospital's chronic patients who fill their prescriptions at the pharmacy next door after a weekly
follow-up. They leave the same trace of shared cards across facilities but take nothing.

Everything is drawn from generators of its own ([seed, 23] for the plan, [seed, 23, month] for
the visits), so `rings="none"` leaves the province exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from feijian.errors import InputError
from simulator.behaviours import Schemes
from simulator.codes import DEPT_INDEX, PATTERN_ID
from simulator.config import N_MONTHS, REGIONS, month_first_day
from simulator.facilities import T
from simulator.world import World

RING_OPTIONS = ("planted", "none")
KINDS = ("card_pool", "family", "chronic_pharmacy")
_HOSPITAL_TYPES = (T["general"], T["tcm"], T["primary"])  # a chronic follow-up's hospital (not maternal-child)


@dataclass
class Group:
    """One ring or look-alike: who, where, when."""

    kind: str  # one of KINDS
    fac: np.ndarray  # facilities, in fixmedins_code order
    drs: np.ndarray  # per facility: the colluding clinical physician, -1 for none
    persons: np.ndarray  # the pool, the household or the patients
    start: int  # first and last month (look-alikes: the whole period)
    end: int
    intensity: float = 0.0  # card_pool: the ring's drive (its members' scheme intensity)
    weekday: int = -1  # chronic_pharmacy: follow-ups on the days where day number % 7 == weekday
    cond: np.ndarray | None = None  # chronic_pharmacy: each patient's condition (CONDITIONS index)

    @property
    def honest(self) -> bool:
        return self.kind != "card_pool"


@dataclass
class RingPlan:
    rings: list[Group]  # card pools, truth ids R001…
    lookalikes: list[Group]  # honest, truth ids L001…


def parse_rings(name: str) -> str:
    key = str(name).strip().lower()
    if key not in RING_OPTIONS:
        raise InputError(f"--rings {name!r} is not valid: use {' or '.join(RING_OPTIONS)}")
    return key


def plan_rings(w: World, seed: int, busy: Iterable[int] = ()) -> RingPlan:
    """max(3, n_facilities / 40) card-pool rings; about as many households and half as many chronic
    pharmacies beside a hospital. `busy`: facilities that scheme already — the look-alikes keep out
    of them (and of the rings), so every claim of theirs is honest."""
    rng = np.random.default_rng([seed, 23])
    n = max(3, round(w.fac.n / 40))
    used = np.zeros(w.fac.n, dtype=bool)  # ring members: one ring per facility
    taken = np.zeros(w.per.n, dtype=bool)  # persons already in a group
    rings = [g for g in (_card_pool(w, rng, used, taken) for _ in range(n)) if g is not None]
    avoid = used.copy()
    avoid[np.fromiter(busy, dtype=np.int64)] = True
    looks = [_family(w, rng, avoid, taken) for _ in range(n)]
    looks += [_chronic_pharmacy(w, rng, avoid, taken) for _ in range(max(2, round(n / 2)))]
    return RingPlan(rings, [g for g in looks if g is not None])


def plant(sch: Schemes, plan: RingPlan) -> Schemes:
    """The schemes with one row per ring member appended (pattern ring, the ring's pool as its cards)
    and the plan kept on them; the rows before keep their ids."""
    mem = [(k, int(i), int(d)) for k, g in enumerate(plan.rings) for i, d in zip(g.fac, g.drs, strict=True)]
    k = np.array([r[0] for r in mem], dtype=np.int64)
    drs = np.full((len(mem), 3), -1, dtype=np.int64)
    drs[:, 0] = [r[2] for r in mem]
    g = [plan.rings[r[0]] for r in mem]
    return Schemes(
        fac=np.concatenate([sch.fac, np.array([r[1] for r in mem], dtype=np.int64)]),
        pattern=np.concatenate([sch.pattern, np.full(len(mem), PATTERN_ID["ring"], dtype=np.int8)]),
        drs=np.concatenate([sch.drs, drs]),
        start=np.concatenate([sch.start, np.array([x.start for x in g], dtype=np.int64)]),
        end=np.concatenate([sch.end, np.array([x.end for x in g], dtype=np.int64)]),
        intensity=np.concatenate([sch.intensity, np.array([x.intensity for x in g], dtype=np.float64)]),
        adaptive=np.concatenate([sch.adaptive, np.zeros(len(mem), dtype=bool)]),
        cards=[*sch.cards, *(x.persons for x in g)],
        evasive=np.concatenate([sch.evasive, np.zeros(len(mem), dtype=bool)]),
        ring=np.concatenate([sch.ring, k]), rings=plan,
    )


def _card_pool(w: World, rng: np.random.Generator, used: np.ndarray, taken: np.ndarray) -> Group | None:
    """A ring of 2–5 clinics and pharmacies of one region (at least one clinic), open before it starts."""
    f = w.fac
    start = int(rng.integers(0, N_MONTHS - 11))
    end = min(N_MONTHS - 1, start + int(rng.integers(12, 31)))
    small = np.isin(f.ftype, (T["clinic"], T["pharmacy"])) & (f.begin_day < month_first_day(start)) & ~used
    clinic = small & (f.ftype == T["clinic"])
    ok = [r for r in range(len(REGIONS)) if (clinic & (f.region == r)).any() and (small & (f.region == r)).sum() >= 2]
    if not ok:
        return None
    r = int(rng.choice(ok))
    first = int(rng.choice(np.flatnonzero(clinic & (f.region == r))))
    rest = np.flatnonzero(small & (f.region == r))
    rest = rest[rest != first]
    k = min(len(rest), int(rng.integers(1, 5)))
    fac = _code_order(w, np.concatenate([[first], rng.choice(rest, k, replace=False)]))
    used[fac] = True
    drs = np.array([_colluder(w, int(i), rng) for i in fac], dtype=np.int64)
    age = (month_first_day(start) - w.per.birth_day) // 365.25
    adults = np.flatnonzero((w.per.region == r) & (age >= 25) & ~taken)
    pool = np.sort(rng.choice(adults, min(len(adults), int(rng.integers(12, 46))), replace=False))
    taken[pool] = True
    inten = float(np.clip(rng.lognormal(0, 0.4), 0.5, 2.0))
    return Group("card_pool", fac, drs, pool, start, end, intensity=inten)


def _colluder(w: World, i: int, rng: np.random.Generator) -> int:
    """A clinical (non-pharmacy) physician of facility i, -1 for a pharmacy or none."""
    if w.fac.ftype[i] == T["pharmacy"]:
        return -1
    phy = np.arange(w.fac_phy_start[i], w.fac_phy_start[i] + w.fac_phy_count[i])
    phy = phy[w.phy.dept[phy] != DEPT_INDEX["药房"]]
    return int(rng.choice(phy)) if len(phy) else -1


def _family(w: World, rng: np.random.Generator, avoid: np.ndarray, taken: np.ndarray) -> Group | None:
    """A household of 3–8 people of one region and the two facilities it uses: a clinic (or community
    centre) and a pharmacy, or two clinics, open all period."""
    f = w.fac
    open_ = (f.begin_day < month_first_day(0)) & ~avoid
    clinic = open_ & np.isin(f.ftype, (T["clinic"], T["primary"]))
    pharm = open_ & (f.ftype == T["pharmacy"])
    ok = [r for r in range(len(REGIONS))
          if (clinic & (f.region == r)).any() and ((clinic | pharm) & (f.region == r)).sum() >= 2]
    if not ok:
        return None
    r = int(rng.choice(ok))
    cl, ph = np.flatnonzero(clinic & (f.region == r)), np.flatnonzero(pharm & (f.region == r))
    first = int(rng.choice(cl))
    other = cl[cl != first]
    second = int(rng.choice(ph)) if len(ph) and (len(other) == 0 or rng.random() < 0.6) else int(rng.choice(other))
    people = np.flatnonzero((w.per.region == r) & ~taken)
    hh = np.sort(rng.choice(people, min(len(people), int(rng.integers(3, 9))), replace=False))
    taken[hh] = True
    fac = _code_order(w, np.array([first, second]))
    return Group("family", fac, np.full(2, -1, dtype=np.int64), hh, 0, N_MONTHS - 1)


def _chronic_pharmacy(w: World, rng: np.random.Generator, avoid: np.ndarray, taken: np.ndarray) -> Group | None:
    """A hospital and a pharmacy of its region, open all period, and 20–60 of the region's people with
    diabetes, hypertension or COPD who see the hospital on a fixed weekday and then the pharmacy."""
    f = w.fac
    open_ = (f.begin_day < month_first_day(0)) & ~avoid
    hosp = open_ & np.isin(f.ftype, _HOSPITAL_TYPES) & (f.ip_size > 0)
    pharm = open_ & (f.ftype == T["pharmacy"])
    ok = [r for r in range(len(REGIONS)) if (hosp & (f.region == r)).any() and (pharm & (f.region == r)).any()]
    if not ok:
        return None
    r = int(rng.choice(ok))
    h = int(rng.choice(np.flatnonzero(hosp & (f.region == r))))
    p = int(rng.choice(np.flatnonzero(pharm & (f.region == r))))
    chronic3 = w.per.cond[:, :3]
    people = np.flatnonzero((w.per.region == r) & chronic3.any(axis=1) & ~taken)
    pts = np.sort(rng.choice(people, min(len(people), int(rng.integers(20, 61))), replace=False))
    taken[pts] = True
    cond = (rng.random((len(pts), 3)) * chronic3[pts]).argmax(axis=1)
    return Group("chronic_pharmacy", _code_order(w, np.array([h, p])), np.full(2, -1, dtype=np.int64), pts, 0,
                 N_MONTHS - 1, weekday=int(rng.integers(0, 7)), cond=cond)


def _code_order(w: World, fac: np.ndarray) -> np.ndarray:
    return np.array(sorted((int(i) for i in fac), key=lambda i: w.fac.code[i]), dtype=np.int64)


__all__ = ["KINDS", "RING_OPTIONS", "Group", "RingPlan", "parse_rings", "plan_rings", "plant"]
