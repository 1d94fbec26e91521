"""The static province (catalogue, facilities, physicians, people) and the state carried across months."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.catalog import Catalog, build_catalog
from simulator.codes import DEPTS, N_PATTERNS_PLUS_ONE
from simulator.config import N_MONTHS, Scale, export_end_day, month_first_day
from simulator.facilities import Facilities, Physicians, T, build_facilities, build_physicians
from simulator.frame import Codes
from simulator.lines import Bundles, price_matrix
from simulator.population import Persons, build_persons


@dataclass
class World:
    scale: Scale
    seed: int
    cat: Catalog
    bd: Bundles
    fac: Facilities
    phy: Physicians
    per: Persons
    price: np.ndarray  # cents, (n_fac, n_items)
    fac_phy_start: np.ndarray
    fac_phy_count: np.ndarray
    codes: dict[str, Codes] = field(default_factory=dict, repr=False)  # code lists as Arrow dictionaries

    def code_list(self, name: str) -> Codes:
        """The Arrow dictionary of one code list (built on first use): facilities, physicians,
        catalogue items and their classes."""
        if name not in self.codes:
            if name in ("fac", "phy", "item"):
                values = {"fac": self.fac.code, "phy": self.phy.code, "item": self.cat.codes}[name]
            else:  # a catalogue column: list_type, med_chrgitm_type, chrgitm_lv
                values = [r[name] for r in self.cat.rows]
            self.codes[name] = Codes(values)
        return self.codes[name]

    @property
    def ftier(self) -> np.ndarray:
        return self.fac.tier


@dataclass
class State:
    """Everything that changes month to month: id counters, schedules, running aggregates."""

    next_a1c: np.ndarray  # day the next HbA1c is due per person (-1: not diabetic)
    a1c_fraud_scheme: np.ndarray  # scheme id that shortened the pending interval, or -1
    visit_seq: int = 0
    line_seq: int = 0
    setl_seq: int = 0
    trace_seq: int = 0
    # per facility and month: visits, fund paid, inpatient admissions (for crude indicators)
    n_visits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fund: np.ndarray = field(default_factory=lambda: np.zeros(0))
    taken: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (n_fac, n_months, n_patterns+1) truth
    suppress_until: np.ndarray = field(default_factory=lambda: np.zeros(0))  # month index, per facility
    suppress_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    suppress_from: np.ndarray = field(default_factory=lambda: np.zeros(0))
    census: np.ndarray = field(default_factory=lambda: np.zeros(0))  # legit inpatient census diff (n_fac, days)
    trace_pool: dict = field(default_factory=dict)  # facility → (item, serial) recently settled


def build_world(scale: Scale, seed: int) -> World:
    rng = np.random.default_rng([seed, 1])
    cat = build_catalog(rng)
    fac = build_facilities(scale, rng)
    phy = build_physicians(fac, rng)
    per = build_persons(scale.persons, fac, rng)
    price = price_matrix(cat, fac.tier, fac.ftype == T["pharmacy"], rng)
    nd = len(DEPTS)
    starts = np.where(phy.lookup_start < 0, np.iinfo(np.int64).max, phy.lookup_start).min(axis=1)
    counts = phy.lookup_count.sum(axis=1)
    del nd
    return World(scale, seed, cat, Bundles(cat), fac, phy, per, price, starts, counts)


def initial_state(w: World, rng: np.random.Generator) -> State:
    diab = w.per.cond[:, 0]
    due = np.where(diab, month_first_day(0) + rng.integers(0, 100, w.per.n), -1)
    nf = w.fac.n
    n_days = export_end_day() - month_first_day(0) + 2
    return State(
        next_a1c=due.astype(np.int64), a1c_fraud_scheme=np.full(w.per.n, -1, dtype=np.int64),
        n_visits=np.zeros((nf, N_MONTHS)), fund=np.zeros((nf, N_MONTHS)),
        taken=np.zeros((nf, N_MONTHS, N_PATTERNS_PLUS_ONE)), suppress_until=np.full(nf, -1),
        suppress_factor=np.ones(nf), suppress_from=np.full(nf, 10**6), census=np.zeros((nf, n_days), dtype=np.int32),
    )
