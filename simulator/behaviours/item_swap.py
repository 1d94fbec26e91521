"""串换项目: a cheap or self-pay item actually given, a dearer covered code billed.

Trace: the code mix shifts — safety syringes and precision infusion sets instead of plain ones,
colour Doppler instead of plain ultrasound, 碳酸钙D3 (covered) sold where health food was
(pharmacies). Pairs are catalogue.SWAPS. Parameter: share of source lines swapped = 0.6 ×
intensity; pharmacies add swapped lines to 0.3 × intensity of purchases.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_lines, chosen, pick, touched_lines, variants
from simulator.facilities import T
from simulator.lines import MODE_PH


def lines(ctx: Ctx, act: Active) -> None:
    ln, rng, w = ctx.ln, ctx.rng, ctx.w
    assert ln is not None
    vmask, s = act.visit_mask(ctx.v)
    cand = touched_lines(ctx, vmask)
    hit = chosen(ctx, act, cand[w.cat.swap_to[ln["item"][cand]] >= 0], s, 0.6)
    if len(hit):
        to = w.cat.swap_to[ln["item"][hit]]
        fac = ctx.v["fac"][ln["row"][hit]]
        old = np.rint(ln["cnt"][hit] * ln["pric"][hit]).astype(np.int64)
        ln["item"][hit] = to
        ln["titem"][hit] = to
        ln["pric"][hit] = w.price[fac, to]
        old_lv3 = w.cat.lv[to] == 3
        new = np.rint(ln["cnt"][hit] * ln["pric"][hit]).astype(np.int64)
        ln["fraud"][hit] = np.where(old_lv3, new, np.maximum(new - old, 0))
        ln["pattern"][hit] = act.pattern
        ln["scheme"][hit] = s[ln["row"][hit]]
    ph = np.flatnonzero(vmask & (ctx.v["mode"] == MODE_PH) & (w.fac.ftype[ctx.v["fac"]] == T["pharmacy"])
                        & (rng.random(len(vmask)) < act.prob(s, 0.3)))
    if len(ph):
        add_lines(ctx, ph, pick(variants(ctx, ("CALD",)), len(ph), rng), rng.integers(1, 4, len(ph)),
                  ctx.v["begin"][ph], act.pattern, s[ph])
