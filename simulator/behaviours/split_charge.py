"""分解收费: a package's components billed one by one instead of the cheaper package.

Trace: two or more components of one package on the same visit and day with no package line;
their sum exceeds the package price (e.g. 肝功能组合 60 yuan vs 80 for its four parts). The
improper amount is Σ components − package. Parameter: share of package lines split = 0.5 × intensity.
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_lines, chosen, touched_lines
from simulator.behaviours.repeat_charge import components


def lines(ctx: Ctx, act: Active) -> None:
    vmask, s = act.visit_mask(ctx.v)
    touched = touched_lines(ctx, vmask)
    for pkg, comp in components(ctx).items():
        ln = ctx.ln
        assert ln is not None
        cand = touched[(ln["pattern"][touched] == 0) & (ln["item"][touched] == pkg)]
        hit = chosen(ctx, act, cand, s, 0.5)
        if len(hit) == 0:
            continue
        sl = s[ln["row"][hit]]
        pkg_amt = np.rint(ln["cnt"][hit] * ln["pric"][hit]).astype(np.int64)
        # the package line becomes its first component; the others are added
        ln["item"][hit] = comp[0]
        ln["pric"][hit] = ctx.w.price[ctx.v["fac"][ln["row"][hit]], comp[0]]
        ln["titem"][hit] = comp[0]
        rows = np.repeat(ln["row"][hit], len(comp) - 1)
        add_lines(ctx, rows, np.tile(comp[1:], len(hit)), np.repeat(ln["cnt"][hit], len(comp) - 1),
                  np.repeat(ln["time"][hit], len(comp) - 1), act.pattern, np.repeat(sl, len(comp) - 1))
        # improper: Σ components − package, carried on the first component line
        ln = ctx.ln
        assert ln is not None
        comp_sum = np.rint(ln["cnt"][hit] * ctx.w.price[ctx.v["fac"][ln["row"][hit]]][:, comp].sum(axis=1))
        ln["pattern"][hit] = act.pattern
        ln["scheme"][hit] = sl
        ln["fraud"][hit] = np.maximum(comp_sum.astype(np.int64) - pkg_amt, 0)
        added = np.arange(len(ln["row"]) - len(rows), len(ln["row"]))
        ln["fraud"][added] = 0
