"""过度检查: tests without indication, and HbA1c repeated inside 90 days for diabetics.

Trace: 1–3 extra tests per visit (inflammation markers, cardiac enzymes, CT, colour Doppler …)
far above peers; diabetics at the facility get HbA1c every 30–80 days instead of 91–110.
Parameters: share of touched visits = 0.3 × intensity (adaptive: 0.15, one test); share of
diabetics put on a short HbA1c interval = 0.5 × intensity (set in the engine before care).
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_lines, pick, variants
from simulator.lines import MODE_IP, MODE_OP

_PANEL = ("CRP", "PCT", "BNP", "TNI", "CEA", "RESP_PANEL", "HOLTER", "ECHO", "CT_CHEST", "US_COLOR", "LIPID_P",
          "COAG", "UACR")


def lines(ctx: Ctx, act: Active) -> None:
    v, ln, rng = ctx.v, ctx.ln, ctx.rng
    assert ln is not None
    a1c = np.isin(ln["item"], ctx.w.cat.variants("A1C")) & (v["a1c"][ln["row"]] == 2) & (ln["pattern"] == 0)
    if a1c.any():
        ln["pattern"][a1c] = act.pattern
        ln["scheme"][a1c] = v["scheme"][ln["row"][a1c]]
        ln["fraud"][a1c] = np.rint(ln["cnt"][a1c] * ln["pric"][a1c]).astype(np.int64)
    mask, s = act.visit_mask(v)
    mask &= np.isin(v["mode"], (MODE_OP, MODE_IP))
    adaptive = act.sch.adaptive[np.maximum(s, 0)]
    p = act.prob(s, 0.3) * np.where(adaptive, 0.5, 1.0)
    sel = np.flatnonzero(mask & (rng.random(len(mask)) < p))
    if len(sel) == 0:
        return
    k = np.where(adaptive[sel], 1, rng.integers(1, 4, len(sel)))
    rows = np.repeat(sel, k)
    items = pick(variants(ctx, _PANEL), len(rows), rng)
    add_lines(ctx, rows, items, np.ones(len(rows)), v["begin"][rows] + 300, act.pattern, s[rows])
