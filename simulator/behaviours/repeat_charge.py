"""重复收费: a package billed together with one of its components, or one line billed twice.

Trace: on the same visit and time, a package (e.g. 肝功能组合) and a component whose
package_codg is that package; or two identical lines (item, time, count). Parameters: share of
package lines with a component added = 0.4 × intensity; share of other lines duplicated =
0.03 × intensity. Evasive: no package + component, and only drug lines with neither a days-supply
nor a daily limit are duplicated (the duplicate-line rule reads services and consumables only).
"""

from __future__ import annotations

import numpy as np

from simulator.behaviours import Active, Ctx
from simulator.behaviours.common import add_lines, chosen, touched_lines
from simulator.catalog import PACKAGES


def components(ctx: Ctx) -> dict[int, np.ndarray]:
    cat = ctx.w.cat
    out = {}
    for p in PACKAGES:
        code = cat.rows[cat.first(p)]["med_list_codg"]
        out[cat.first(p)] = np.array([i for i, r in enumerate(cat.rows) if r["package_codg"] == code])
    return out


def lines(ctx: Ctx, act: Active) -> None:
    rng = ctx.rng
    vmask, s = act.visit_mask(ctx.v)
    assert ctx.ln is not None
    n0 = len(ctx.ln["row"])
    touched = touched_lines(ctx, vmask)  # lines added below are not legitimate, so never candidates
    # masks, not draws: `chosen` draws for every fee line, so the draws stay those of the plain form
    evasive = act.sch.evasive[s[ctx.ln["row"][touched]]]
    cat = ctx.w.cat
    free = cat.is_drug & (cat.max_days == 0) & np.array([r["max_cnt_per_day"] is None for r in cat.rows])
    for pkg, comp in components(ctx).items():
        ln = ctx.ln
        assert ln is not None
        hit = chosen(ctx, act, touched[(ln["item"][touched] == pkg) & ~evasive], s, 0.4)
        if len(hit):
            add_lines(ctx, ln["row"][hit], comp[rng.integers(0, len(comp), len(hit))], np.ones(len(hit)),
                      ln["time"][hit], act.pattern, s[ln["row"][hit]])
    ln = ctx.ln
    assert ln is not None
    item = ln["item"][touched]
    dup = chosen(ctx, act, touched[~evasive | free[item]], s, 0.03, n=n0)
    if len(dup):
        add_lines(ctx, ln["row"][dup], ln["item"][dup], ln["cnt"][dup], ln["time"][dup], act.pattern,
                  s[ln["row"][dup]])
