"""冒名就医 / 出借医保卡: a set of borrowed cards used in bursts at a pharmacy (or clinic).

Trace: 8–30 cards, ~40 % of people living in other regions, each used 1–3 times within bursts of
2–4 days, buying dear chronic drugs (insulin, inhalers, statins). Parameter: bursts per month =
1 + Poisson(0.5 × intensity); share of the card set used per burst = 0.4 + 0.3 × intensity.
Evasive: no bursts — that share of the cards is used once or twice in the month, on days drawn
over the whole month, so no card comes near the frequent-visit or same-day limits.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_visits
from simulator.care import M11, M41, make_visits
from simulator.codes import diag_id
from simulator.config import month_first_day, month_n_days
from simulator.facilities import T
from simulator.lines import MODE_OP, MODE_PH

_BUNDLES = ("PH_diabetes", "PH_copd", "PH_chd")


def visits(ctx: Ctx, act: Active) -> None:
    rng, w = ctx.rng, ctx.w
    d0, nd = month_first_day(ctx.m), month_n_days(ctx.m)
    for s in act.rows:
        cards = act.sch.cards[s]
        if len(cards) == 0 or act.intensity[s] <= 0:
            continue
        inten = act.intensity[s]
        if act.sch.evasive[s]:
            p, day = _spread(cards, inten, d0, nd, rng)
        else:
            p, day = _bursts(cards, inten, d0, nd, rng)
        fac = np.full(len(p), act.sch.fac[s])
        if w.fac.ftype[act.sch.fac[s]] == T["pharmacy"]:
            tmpl = np.array([w.bd.id_of[b] for b in _BUNDLES])[rng.integers(0, len(_BUNDLES), len(p))]
            f = make_visits(w, rng, p, fac, M41, day, np.full(len(p), -1), MODE_PH, tmpl=tmpl)
        else:
            f = make_visits(w, rng, p, fac, M11, day, np.full(len(p), diag_id("I10", "op")), MODE_OP)
        f["pattern"][:] = act.pattern
        f["scheme"][:] = s
        add_visits(ctx, f)


def _bursts(cards: np.ndarray, inten: float, d0: int, nd: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """(person, day) of each use: bursts of 2–4 days, a share of the cards used 1–3 times in each."""
    people, days = [], []
    for _ in range(1 + rng.poisson(0.5 * inten)):
        start = d0 + int(rng.integers(0, max(1, nd - 4)))
        used = cards[rng.random(len(cards)) < min(1.0, 0.4 + 0.3 * inten)]
        times = rng.integers(1, 4, len(used))
        p = np.repeat(used, times)
        people.append(p)
        days.append(start + rng.integers(0, int(rng.integers(2, 5)), len(p)))
    return np.concatenate(people), np.concatenate(days)


def _spread(cards: np.ndarray, inten: float, d0: int, nd: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """(person, day) of each use: a share of the cards used once or twice, a fortnight apart."""
    used = cards[rng.random(len(cards)) < min(1.0, 0.4 + 0.3 * inten)]
    twice = rng.random(len(used)) < 0.5
    first = rng.integers(0, max(1, nd - 14), len(used))
    p = np.concatenate([used, used[twice]])
    day = d0 + np.concatenate([first, np.minimum(first[twice] + 14, nd - 1)])
    return p, day
