"""Violation behaviours: the schedule of who schemes when, and one module per mechanism.

A scheme is (facility, pattern, physicians or facility-wide, start/end month, intensity,
adaptive). Each mechanism changes the claims the way the real practice would — extra visits, cut
stays, extra or swapped lines — and marks what it did in columns that only truth/ reads.
After a serious inspection finding a facility's schemes shrink for 6–12 months. An evasion preset
(simulator.evasion) can make schemes choose the mechanisms and forms no rule sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.codes import DEPT_INDEX, PATTERN_ID, PATTERNS
from simulator.config import N_MONTHS, REGIONS
from simulator.evasion import MECHANISMS, PRESETS, Evasion, rule_visible
from simulator.facilities import T
from simulator.frame import Frame, Growable
from simulator.world import State, World

if TYPE_CHECKING:
    from simulator.rings import RingPlan

HOSPITAL_PATTERNS = ("split_admission", "phantom_stay", "low_threshold_admission", "upcoding")
CARE_PATTERNS = ("over_testing", "repeat_charge", "split_charge", "over_price", "item_swap", "sex_restricted",
                 "age_restricted", "over_prescription", "fabricated")
PHARMACY_PATTERNS = ("card_misuse", "trace_resale", "over_prescription", "item_swap", "over_price")
# Patterns that may be the work of one to three physicians rather than the whole facility.
PHYSICIAN_PATTERNS = ("split_admission", "low_threshold_admission", "over_testing", "over_prescription", "upcoding",
                      "sex_restricted", "age_restricted", "item_swap", "fabricated")


@dataclass
class Schemes:
    fac: np.ndarray
    pattern: np.ndarray
    drs: np.ndarray  # (n, 3) physician indices, -1 = none; all -1 = facility-wide
    start: np.ndarray
    end: np.ndarray
    intensity: np.ndarray
    adaptive: np.ndarray
    cards: list[np.ndarray]  # card_misuse and ring: the persons whose cards are used
    evasive: np.ndarray  # the scheme uses its mechanism's evasive form (simulator.evasion)
    ring: np.ndarray  # the ring (index into rings.rings) a member's scheme row belongs to, -1 for the others
    rings: RingPlan | None = None  # the collusion rings and honest look-alikes planted (simulator.rings)

    @property
    def n(self) -> int:
        return len(self.fac)


def plan_schemes(w: World, rng: np.random.Generator, evasion: Evasion = PRESETS["normal"]) -> Schemes:
    """~15–25 % of facilities scheme; private and small ones a little more often; a few heavily.

    An evasion preset reweighs the mechanisms a schemer picks from its pool (the same draws
    otherwise), then, from a generator of its own, makes schemes evasive and scales intensities."""
    f = w.fac
    p = np.where(np.array(f.ownership) == "private", 0.26, 0.15)
    schemers = np.flatnonzero(rng.random(f.n) < p)
    rows: list[tuple] = []
    for fi in schemers:
        ty = f.ftype[fi]
        if ty == T["pharmacy"]:
            pool = PHARMACY_PATTERNS
        elif f.ip_size[fi] > 0 and ty != T["maternal_child"]:
            pool = HOSPITAL_PATTERNS + CARE_PATTERNS
        else:
            pool = CARE_PATTERNS + (("card_misuse",) if ty == T["clinic"] else ())
        k = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
        heavy = 3.0 if rng.random() < 0.15 else 1.0
        size = min(k, len(pool))
        if evasion.weight:
            wt = np.array([evasion.weight.get(p, 1.0) for p in pool])
            pats = rng.choice(pool, size=size, replace=False, p=wt / wt.sum())
        else:
            pats = rng.choice(pool, size=size, replace=False)
        for pat in pats:
            start = int(rng.integers(0, N_MONTHS - 6))
            end = min(N_MONTHS - 1, start + int(rng.integers(6, 37)))
            inten = float(np.clip(rng.lognormal(0, 0.5), 0.3, 3.0)) * heavy
            drs = np.full(3, -1, dtype=np.int64)
            if pat in PHYSICIAN_PATTERNS and rng.random() < 0.45 and w.fac_phy_count[fi] > 2:
                clinical = np.arange(w.fac_phy_start[fi], w.fac_phy_start[fi] + w.fac_phy_count[fi])
                clinical = clinical[w.phy.dept[clinical] != DEPT_INDEX["药房"]]
                if len(clinical):
                    sel = rng.choice(clinical, size=min(len(clinical), int(rng.integers(1, 4))), replace=False)
                    drs[: len(sel)] = sel
            cards = np.zeros(0, dtype=np.int64)
            if pat == "card_misuse":
                nc = int(rng.integers(8, 31))
                local = np.flatnonzero(w.per.region == f.region[fi])
                far = np.flatnonzero(w.per.region != f.region[fi])
                n_far = int(nc * 0.4) if len(far) else 0
                cards = np.concatenate([rng.choice(local, nc - n_far, replace=False),
                                        rng.choice(far, n_far, replace=False)]) if len(local) >= nc else local[:nc]
            rows.append((fi, PATTERN_ID[str(pat)], drs, start, end, inten, rng.random() < 0.3, cards))
    sch = Schemes(
        fac=np.array([r[0] for r in rows], dtype=np.int64), pattern=np.array([r[1] for r in rows], dtype=np.int8),
        drs=np.array([r[2] for r in rows], dtype=np.int64).reshape(-1, 3),
        start=np.array([r[3] for r in rows], dtype=np.int64), end=np.array([r[4] for r in rows], dtype=np.int64),
        intensity=np.array([r[5] for r in rows]), adaptive=np.array([r[6] for r in rows], dtype=bool),
        cards=[r[7] for r in rows], evasive=np.zeros(len(rows), dtype=bool),
        ring=np.full(len(rows), -1, dtype=np.int64),
    )
    if not evasion.plain:
        _evade(sch, evasion, np.random.default_rng([w.seed, 2, 1]))
    return sch


def _evade(sch: Schemes, ev: Evasion, rng: np.random.Generator) -> None:
    """Evasive forms for a share of the schemes that have one; intensities by what the rules see."""
    names = [PATTERNS[p] for p in sch.pattern]
    has_form = np.array([bool(MECHANISMS[p].evasive) for p in names], dtype=bool)
    sch.evasive = has_form & (rng.random(sch.n) < ev.evasive_share)
    visible = np.array([rule_visible(p, bool(e)) for p, e in zip(names, sch.evasive, strict=True)], dtype=bool)
    sch.intensity = sch.intensity * np.where(visible, ev.visible_intensity, ev.hidden_intensity)


@dataclass
class Active:
    """The schemes of one pattern running this month."""

    pattern: int
    rows: np.ndarray  # scheme indices
    fac_map: np.ndarray  # facility → scheme index or -1
    intensity: np.ndarray  # effective intensity per scheme index (0 when inactive)
    sch: Schemes

    def visit_mask(self, v: Frame) -> tuple[np.ndarray, np.ndarray]:
        """(mask, scheme) for visits the scheme touches: its facility and, if set, its physicians."""
        s = self.fac_map[v["fac"]]
        ok = (s >= 0) & (v["pattern"] == 0)
        idx = np.flatnonzero(ok)  # the physician test only where a scheme runs (most visits have none)
        if len(idx):
            drs = self.sch.drs[s[idx]]
            ok[idx] = (drs[:, 0] < 0) | (drs == v["dr"][idx, None]).any(axis=1)
        return ok, s

    def prob(self, s: np.ndarray, base: float, cap: float = 0.9) -> np.ndarray:
        return np.minimum(cap, base * self.intensity[np.maximum(s, 0)])


def active_schemes(sch: Schemes, st: State, m: int, pattern: str, n_fac: int) -> Active:
    pid = PATTERN_ID[pattern]
    on = (sch.pattern == pid) & (sch.start <= m) & (sch.end >= m)
    rows = np.flatnonzero(on)
    fac_map = np.full(n_fac, -1, dtype=np.int64)
    fac_map[sch.fac[rows]] = rows
    on_hold = (st.suppress_from[sch.fac] <= m) & (st.suppress_until[sch.fac] >= m)
    supp = np.where(on_hold, st.suppress_factor[sch.fac], 1.0)
    inten = np.where(on, sch.intensity * supp, 0.0)
    return Active(pid, rows, fac_map, inten, sch)


@dataclass
class Ctx:
    w: World
    st: State
    m: int
    rng: np.random.Generator
    v: Frame
    ln: Frame | None = None
    stash: dict | None = None
    vbuf: Growable | None = None  # spare capacity behind v and ln (behaviours/common.py appends)
    lbuf: Growable | None = None


Stage = Callable[[Ctx, Active], None]


def scheme_physician(act: Active, s: np.ndarray, w: World, fac: np.ndarray, rng: np.random.Generator
                     ) -> np.ndarray:
    """A physician for new visits: one of the scheme's physicians, else anyone at the facility."""
    drs = act.sch.drs[s]
    k = (drs >= 0).sum(axis=1)
    pick = drs[np.arange(len(s)), (rng.random(len(s)) * np.maximum(k, 1)).astype(np.int64)]
    anyone = w.fac_phy_start[fac] + (rng.random(len(s)) * w.fac_phy_count[fac]).astype(np.int64)
    return np.where(k > 0, pick, anyone).astype(np.int32)


def extra_visit_schemes(act: Active, rng: np.random.Generator, visits_per_fac: np.ndarray, per_visit: float,
                        base: float) -> np.ndarray:
    """The scheme row of each extra visit this month: Poisson(per_visit × intensity × the facility's
    visits + base × intensity) per active scheme."""
    inten = act.intensity[act.rows]
    n = rng.poisson(per_visit * inten * visits_per_fac[act.sch.fac[act.rows]] + base * inten)
    return np.repeat(act.rows, n)


def local_people(w: World, fac: np.ndarray, rng: np.random.Generator, min_age: int = 0, day: int = 0
                 ) -> np.ndarray:
    """A person from each facility's region (older people when min_age is set)."""
    out = np.empty(len(fac), dtype=np.int64)
    reg = w.fac.region[fac]
    pools = w.per.region_pools(day, min_age)
    for r in np.unique(reg):
        sel = reg == r
        pool = pools[r]
        out[sel] = pool[rng.integers(0, len(pool), int(sel.sum()))]
    return out


__all__ = ["PATTERNS", "REGIONS", "Active", "Ctx", "Schemes", "active_schemes", "plan_schemes"]
