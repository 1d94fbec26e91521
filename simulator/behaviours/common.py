"""Helpers the mechanisms share: appending visits and fee lines with their truth marks."""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx, extra_visit_schemes, scheme_physician
from simulator.config import month_first_day, month_n_days
from simulator.frame import Frame, Growable


def add_visits(ctx: Ctx, f: Frame) -> np.ndarray:
    """Append visits; returns their row numbers in ctx.v."""
    n0 = len(ctx.v["person"])
    if ctx.vbuf is None or not ctx.vbuf.holds(ctx.v):
        ctx.vbuf = Growable(ctx.v, spare=0.05)
    ctx.v = ctx.vbuf.append(f)
    return np.arange(n0, len(ctx.v["person"]))


def extra_visits(ctx: Ctx, act: Active, visits_per_fac: np.ndarray, per_visit: float, base: float
                 ) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """This month's extra visits of the active schemes (see extra_visit_schemes): each one's scheme row,
    its facility, and the month's first day and length; None when there are none."""
    if len(act.rows) == 0:
        return None
    s = extra_visit_schemes(act, ctx.rng, visits_per_fac, per_visit=per_visit, base=base)
    if len(s) == 0:
        return None
    return s, act.sch.fac[s], month_first_day(ctx.m), month_n_days(ctx.m)


def add_scheme_visits(ctx: Ctx, act: Active, f: Frame) -> None:
    """Append visits made by the active schemes at their facilities, each by one of its physicians."""
    f["pattern"][:] = act.pattern
    f["scheme"] = act.fac_map[f["fac"]].astype(np.int32)
    f["dr"] = scheme_physician(act, f["scheme"].astype(np.int64), ctx.w, f["fac"], ctx.rng)
    add_visits(ctx, f)


def add_lines(ctx: Ctx, row: np.ndarray, item: np.ndarray, cnt: np.ndarray, time: np.ndarray, pattern: int,
              scheme: np.ndarray, fraud: bool = True, tser: np.ndarray | None = None) -> None:
    """Append fee lines to visits `row`; their whole amount is improper when `fraud`."""
    assert ctx.ln is not None
    n = len(row)
    fac = ctx.v["fac"][row]
    pric = ctx.w.price[fac, item]
    cnt = np.asarray(cnt, dtype=np.float64)
    new = {
        "row": row.astype(np.int64), "item": item.astype(np.int32), "cnt": cnt, "time": time.astype(np.int64),
        "pric": pric, "pattern": np.full(n, pattern, dtype=np.int8),
        "fraud": np.rint(cnt * pric).astype(np.int64) if fraud else np.zeros(n, dtype=np.int64),
        "scheme": np.broadcast_to(np.asarray(scheme, dtype=np.int64), (n,)).copy(),
        "dr": ctx.v["dr"][row], "tser": np.full(n, -1, dtype=np.int64) if tser is None else tser,
        "titem": item.astype(np.int32),
    }
    if ctx.lbuf is None or not ctx.lbuf.holds(ctx.ln):
        ctx.lbuf = Growable(ctx.ln, spare=0.1)
    ctx.ln = ctx.lbuf.append(new)


def touched_lines(ctx: Ctx, vmask: np.ndarray) -> np.ndarray:
    """Indices of the legitimate fee lines on the visits a scheme touches (few of the month's)."""
    assert ctx.ln is not None
    idx = np.flatnonzero(vmask[ctx.ln["row"]])
    return idx[ctx.ln["pattern"][idx] == 0]


def chosen(ctx: Ctx, act: Active, cand: np.ndarray, s: np.ndarray, base: float, n: int | None = None
           ) -> np.ndarray:
    """The candidate lines a scheme acts on, each with probability min(0.9, base × intensity).

    One uniform is drawn for each of the month's first `n` fee lines (all of them by default) and
    only the candidates' are compared, so the draws are those of a full-length mask but the
    arithmetic is on the candidates alone.
    """
    assert ctx.ln is not None
    r = ctx.rng.random(len(ctx.ln["row"]) if n is None else n)
    return cand[r[cand] < act.prob(s[ctx.ln["row"][cand]], base)]


def variants(ctx: Ctx, keys: tuple[str, ...]) -> np.ndarray:
    return np.array([i for k in keys for i in ctx.w.cat.variants(k)], dtype=np.int32)


def pick(arr: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return arr[rng.integers(0, len(arr), n)]
