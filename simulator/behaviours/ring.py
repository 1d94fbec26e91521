"""医患串通/团伙套取: a ring's pool of recruited cards billed at its member facilities together.

Trace: on each trip day a share of the pool (12–45 local adults) is billed at every active member
(2–5 clinics and pharmacies of one region) on that day or the next, so the same cards appear at
several member facilities within two days; the clinics bill an outpatient chronic diagnosis (I10,
E11) through their colluding physician, the pharmacies dear chronic drugs. Parameter: trip days per
month = 1 + Poisson(0.7 × intensity); share of the pool per trip ~ U(0.4, 0.8). A member whose
scheme is suppressed after a finding joins a trip with probability (its effective intensity / the
ring's). No evasive form.

The honest look-alikes (simulator.rings) make their visits here too, as legitimate care (pattern 0,
no scheme): a household at its clinic and pharmacy together on 1–2 days a month, and a hospital's
chronic patients, ~30 % of them each week on its follow-up weekday, then at the pharmacy beside it.
All of it draws from a generator of (seed, 23, month), never from the month's.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_visits
from simulator.care import M11, M14, M41, make_visits
from simulator.codes import diag_id
from simulator.config import month_first_day, month_n_days
from simulator.facilities import T
from simulator.frame import Frame
from simulator.lines import MODE_OP, MODE_PH
from simulator.population import CONDITIONS
from simulator.rings import Group

_BUNDLES = ("PH_diabetes", "PH_copd", "PH_chd")
_RING_DIAGS = (("I10", "op"), ("E11.9", "chronic"))
_FAMILY_DIAGS = ("J06.9", "J20.9", "A09.9", "K29.7", "L30.9")  # common complaints, either sex
_CHRONIC_CODES = ("E11.9", "I10.X", "J44.9")  # 门诊慢特病 diagnosis of CONDITIONS[:3]
_FOLLOW_UP_SHARE = 0.3


def visits(ctx: Ctx, act: Active) -> None:
    plan = act.sch.rings
    if plan is None:
        return
    rng = np.random.default_rng([ctx.w.seed, 23, ctx.m])
    for k, g in enumerate(plan.rings):
        rows = act.rows[act.sch.ring[act.rows] == k]
        if len(rows):
            _trips(ctx, act, g, rows, rng)
    for g in plan.lookalikes:
        if g.kind == "family":
            _family(ctx, g, rng)
        else:
            _chronic_pharmacy(ctx, g, rng)


def _trips(ctx: Ctx, act: Active, g: Group, rows: np.ndarray, rng: np.random.Generator) -> None:
    """This month's trip days of one ring: its pool billed at every member that joins."""
    w = ctx.w
    d0, nd = month_first_day(ctx.m), month_n_days(ctx.m)
    eff = act.intensity[rows]
    people, days, srow = [], [], []
    for _ in range(1 + rng.poisson(0.7 * eff.max())):
        d = d0 + int(rng.integers(0, nd - 1))  # the day after stays in the month
        share = rng.uniform(0.4, 0.8)
        used = g.persons[rng.random(len(g.persons)) < share]
        joins = rng.random(len(rows)) < np.minimum(1.0, eff / g.intensity)
        for s in rows[joins]:
            people.append(used)
            days.append(d + (rng.random(len(used)) < 0.5))
            srow.append(np.full(len(used), s, dtype=np.int64))
    if not people:
        return
    p, day, s = np.concatenate(people), np.concatenate(days), np.concatenate(srow)
    fac = act.sch.fac[s]
    ph = w.fac.ftype[fac] == T["pharmacy"]
    if ph.any():
        tmpl = np.array([w.bd.id_of[b] for b in _BUNDLES])[rng.integers(0, len(_BUNDLES), int(ph.sum()))]
        f = make_visits(w, rng, p[ph], fac[ph], M41, day[ph], np.full(int(ph.sum()), -1), MODE_PH, tmpl=tmpl)
        _mark(ctx, f, act.pattern, s[ph])
    op = ~ph
    if op.any():
        dg = np.array([diag_id(c, st) for c, st in _RING_DIAGS])[rng.integers(0, len(_RING_DIAGS), int(op.sum()))]
        f = make_visits(w, rng, p[op], fac[op], M11, day[op], dg, MODE_OP)
        colluder = act.sch.drs[s[op], 0]
        f["dr"] = np.where(colluder >= 0, colluder, f["dr"]).astype(np.int32)
        _mark(ctx, f, act.pattern, s[op])


def _mark(ctx: Ctx, f: Frame, pattern: int, s: np.ndarray) -> None:
    f["pattern"][:] = pattern
    f["scheme"] = s.astype(np.int32)
    add_visits(ctx, f)


def _family(ctx: Ctx, g: Group, rng: np.random.Generator) -> None:
    """1–2 days this month on which the whole household sees both its facilities (honest care)."""
    w = ctx.w
    d0, nd = month_first_day(ctx.m), month_n_days(ctx.m)
    for _ in range(1 + int(rng.random() < 0.5)):
        d = np.full(len(g.persons), d0 + int(rng.integers(0, nd)))
        for i in g.fac:
            fac = np.full(len(g.persons), i)
            if w.fac.ftype[i] == T["pharmacy"]:
                f = make_visits(w, rng, g.persons, fac, M41, d, np.full(len(d), -1), MODE_PH,
                                tmpl=_own_bundle(ctx, g.persons, rng))
            else:
                dg = np.array([diag_id(c, "op") for c in _FAMILY_DIAGS])[rng.integers(0, len(_FAMILY_DIAGS), len(d))]
                f = make_visits(w, rng, g.persons, fac, M11, d, dg, MODE_OP)
            add_visits(ctx, f)


def _own_bundle(ctx: Ctx, persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A pharmacy bundle for each person: for one of their conditions, else acute medicines."""
    cond = ctx.w.per.cond[persons]
    pick = (rng.random(cond.shape) * cond).argmax(axis=1)
    ids = np.array([ctx.w.bd.id_of[f"PH_{c}"] for c in CONDITIONS] + [ctx.w.bd.id_of["PH_ACUTE"]])
    return ids[np.where(cond.any(axis=1), pick, len(CONDITIONS))]


def _chronic_pharmacy(ctx: Ctx, g: Group, rng: np.random.Generator) -> None:
    """Each follow-up weekday of the month: a share of the patients at the hospital (门诊慢特病, their
    condition's diagnosis), then at the pharmacy for that condition's drugs (honest care)."""
    w = ctx.w
    assert g.cond is not None
    d0, nd = month_first_day(ctx.m), month_n_days(ctx.m)
    hosp, pharm = sorted(g.fac, key=lambda i: w.fac.ftype[i] == T["pharmacy"])
    codes = np.array([diag_id(c, "chronic") for c in _CHRONIC_CODES])
    bundles = np.array([w.bd.id_of[f"PH_{c}"] for c in CONDITIONS[:3]])
    for d in range(d0, d0 + nd):
        if d % 7 != g.weekday:
            continue
        sel = rng.random(len(g.persons)) < _FOLLOW_UP_SHARE
        p, c = g.persons[sel], g.cond[sel]
        if len(p) == 0:
            continue
        day = np.full(len(p), d)
        op = make_visits(w, rng, p, np.full(len(p), hosp), M14, day, codes[c], MODE_OP)
        ph = make_visits(w, rng, p, np.full(len(p), pharm), M41, day, np.full(len(p), -1), MODE_PH, tmpl=bundles[c])
        # the pharmacy after the clinic: 10–60 minutes after the follow-up ends
        took = ph["end"] - ph["begin"]
        ph["begin"] = op["end"] + (600 + rng.random(len(p)) * 3000).astype(np.int64)
        ph["end"] = ph["begin"] + took
        add_visits(ctx, op)
        add_visits(ctx, ph)
