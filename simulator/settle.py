"""Money: prices, fund shares, settlements, refunds, and the Arrow tables of one month.

All amounts are integer cents until written, so Σ fee lines = medfee_sumamt to the cent and
medfee = fund + account + cash exactly. Truth amounts are the fund's share of the improper
billing (what the bureau would recover), never written to input/.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.care import MED
from simulator.codes import DEPTS, DIAGS, DRG_SUFFIX_FACTOR, PATTERN_ID, VISIT_PATTERNS, WHOLE_VISIT_PATTERNS
from simulator.config import DAY, export_end_day
from simulator.frame import Codes, Frame, cents_to_float, fixed_ids, seq_ids, take_str
from simulator.world import State, World

_DIAG_CODES = [d.code for d in DIAGS] + [d.heavy or d.code for d in DIAGS]
_SFX = (1, 3, 5)
_DRG_CODES = [f"{d.adrg}{s}" if d.adrg else "" for d in DIAGS for s in _SFX]
_DEPT_CODES = Codes([c for _, c in DEPTS])
_DEPT_NAMES = Codes([n for n, _ in DEPTS])
_MED = Codes(list(MED))
_DIAG = Codes(_DIAG_CODES)
_DRG = Codes(_DRG_CODES)
_GEND = Codes(["2", "1"])  # by male
_INSUTYPE = Codes(["390", "310"])  # by insutype310
_REFUND_FLAG = Codes(["0", "1"])
_DRG_W = np.array([d.weight * DRG_SUFFIX_FACTOR[s] for d in DIAGS for s in _SFX])
_LV_FACTOR = np.array([0.0, 1.0, 0.9, 0.0])  # by chrgitm_lv 1/2/3
_VISIT_PAT = np.zeros(32, dtype=bool)
_VISIT_PAT[[PATTERN_ID[p] for p in VISIT_PATTERNS]] = True
_WHOLE_PAT = np.zeros(32, dtype=bool)
_WHOLE_PAT[[PATTERN_ID[p] for p in WHOLE_VISIT_PATTERNS]] = True


def _row_time_order(row: np.ndarray, t: np.ndarray) -> np.ndarray:
    """np.lexsort((t, row)) — by row, then time, stable — as one radix-friendly 64-bit key sort."""
    if len(row) == 0:
        return np.zeros(0, dtype=np.int64)
    t0, span = int(t.min()), int(t.max()) - int(t.min())
    if row.min() < 0 or row.max() >= 1 << 30 or span >= 1 << 32:
        return np.lexsort((t, row))
    key = (row.astype(np.int64) << 32) | (t.astype(np.int64) - t0)
    return np.argsort(key, kind="stable")


def fund_rate(w: World, v: Frame) -> np.ndarray:
    """Statutory fund share per visit (before item class): by care type, insurance and tier."""
    ins = w.per.insutype310[v["person"]]
    tier = w.fac.tier[v["fac"]]
    med = v["med"]
    ip = np.isin(med, (3, 7))
    r_ip = np.where(ins, np.select([tier == 3, tier == 2], [0.80, 0.85], 0.90),
                    np.select([tier == 3, tier == 2], [0.60, 0.70], 0.80))
    r_op = np.where(ins, 0.55, 0.5) + np.where(tier <= 1, 0.1, 0.0)
    r = np.where(ip, r_ip, np.where(med == 2, np.where(ins, 0.75, 0.6), np.where(med == 5, np.where(ins, 0.5, 0.4),
                                                                                  r_op)))
    return r


def settle_month(w: World, st: State, m: int, v: Frame, ln: Frame, rng: np.random.Generator) -> dict:
    """Finalise amounts and ids; return input tables and this month's truth rows."""
    cat = w.cat
    order = _row_time_order(ln["row"], ln["time"])
    ln = {k: a[order] for k, a in ln.items()}
    nv, nl = len(v["person"]), len(ln["row"])
    amt = np.rint(ln["cnt"] * ln["pric"]).astype(np.int64)
    vpat = v["pattern"][ln["row"]]
    whole = _WHOLE_PAT[vpat]
    ln["pattern"] = np.where(whole, vpat, ln["pattern"]).astype(np.int8)
    ln["scheme"] = np.where(whole, v["scheme"][ln["row"]], ln["scheme"])
    fraud_c = np.where(whole, amt, ln["fraud"])
    rate = fund_rate(w, v)
    lvf = _LV_FACTOR[cat.lv[ln["item"]]]
    line_fund = np.floor(amt * rate[ln["row"]] * lvf).astype(np.int64)
    fraud_fund = np.floor(fraud_c * rate[ln["row"]] * lvf) / 100.0
    medfee = np.bincount(ln["row"], weights=amt, minlength=nv).astype(np.int64)
    fund = np.bincount(ln["row"], weights=line_fund, minlength=nv).astype(np.int64)
    ins = w.per.insutype310[v["person"]]
    ip = v["los"] > 0
    acct = np.where(ins, np.floor((medfee - fund) * np.where(ip, 0.3, 0.8)), 0).astype(np.int64)
    cash = medfee - fund - acct
    hshare = np.where(medfee > 1_000_000, rng.uniform(0.8, 0.95, nv), 1.0)
    hifp = np.floor(fund * hshare).astype(np.int64)
    # ids
    vid0 = st.visit_seq
    st.visit_seq += nv
    sid0 = st.setl_seq
    st.setl_seq += nv
    # refunds: ~0.5 % of legitimate settlements are reversed in full
    tainted = np.bincount(ln["row"], weights=ln["pattern"] > 0, minlength=nv) > 0
    refund = np.flatnonzero((v["pattern"] == 0) & ~tainted & (rng.random(nv) < 0.005))
    rsid0 = st.setl_seq
    st.setl_seq += len(refund)
    setl_time = np.minimum(v["end"] + (rng.random(nv) * 600).astype(np.int64), (export_end_day() + 1) * DAY - 1)
    r_time = np.minimum(setl_time[refund] + (3600 + rng.random(len(refund)) * 2 * DAY).astype(np.int64),
                        (export_end_day() + 1) * DAY - 1)
    rmap = np.full(nv, -1, dtype=np.int64)
    rmap[refund] = np.arange(len(refund))
    lref = np.flatnonzero(rmap[ln["row"]] >= 0)
    # trace codes
    tser = ln["tser"]
    # fee line table (originals then refund negatives)
    rows_all = np.concatenate([ln["row"], ln["row"][lref]])
    sign = np.concatenate([np.ones(nl), -np.ones(len(lref))])
    setl_of_line = np.concatenate([ln["row"], nv + rmap[ln["row"][lref]]])  # row of the setl table
    setl_ids = seq_ids("S", [(sid0, nv), (rsid0, len(refund))], 13)
    idx_all = np.concatenate([np.arange(nl), lref])
    n_all = len(rows_all)
    fsn0 = st.line_seq
    st.line_seq += n_all
    mdtrt_ids = seq_ids("M", [(vid0, nv)], 13)
    psn = take_str(w.per.psn_no, v["person"])
    item = ln["item"][idx_all]
    dr = ln["dr"][idx_all]
    valid_t = tser[idx_all] >= 0
    fee = {
        "feedetl_sn": seq_ids("F", [(fsn0, n_all)], 15),
        "mdtrt_id": take_str(mdtrt_ids, rows_all),
        "setl_id": take_str(setl_ids, setl_of_line),
        "psn_no": take_str(psn, rows_all),
        "fixmedins_code": w.code_list("fac").take(v["fac"][rows_all]),
        "fee_ocur_time": ln["time"][idx_all],
        "med_list_codg": w.code_list("item").take(item),
        "list_type": w.code_list("list_type").take(item),
        "med_chrgitm_type": w.code_list("med_chrgitm_type").take(item),
        "chrgitm_lv": w.code_list("chrgitm_lv").take(item),
        "cnt": ln["cnt"][idx_all] * sign,
        "pric": cents_to_float(ln["pric"][idx_all]),
        "det_item_fee_sumamt": cents_to_float(amt[idx_all] * sign.astype(np.int64)),
        "bilg_dr_codg": w.code_list("phy").take(dr),
        "bilg_dept_codg": _DEPT_CODES.take(w.phy.dept[dr]),
        "trace_code": fixed_ids("8", ln["titem"][idx_all].astype(np.int64) * 10**13 + np.maximum(tser[idx_all], 0),
                                19, valid=valid_t),
    }
    # visits
    inp = v["los"] > 0
    sfx_pos = np.select([v["sfx"] == 1, v["sfx"] == 3], [0, 1], 2)
    drg_idx = np.where(inp, v["diag"].astype(np.int64) * 3 + sfx_pos, -1)
    dcode = np.where(v["diag"] < 0, -1, v["diag"] + np.where(v["pattern"] == PATTERN_ID["upcoding"], len(DIAGS), 0))
    drg_w = np.where(inp, _DRG_W[np.maximum(drg_idx, 0)], np.nan)
    mdtrt = {
        "mdtrt_id": mdtrt_ids, "psn_no": psn, "certno": take_str(w.per.certno, v["person"]),
        "fixmedins_code": w.code_list("fac").take(v["fac"]), "med_type": _MED.take(v["med"]),
        "begntime": v["begin"], "endtime": v["end"],
        "dscg_maindiag_code": _DIAG.take(dcode),
        "drg_code": _DRG.take(drg_idx),
        "drg_weight": pa.array(np.round(drg_w, 4), mask=~inp),
        "atddr_no": w.code_list("phy").take(v["dr"]),
        "dept": _DEPT_NAMES.take(v["dept"]),
        "gend": _GEND.take(w.per.male[v["person"]].astype(np.int64)),
        "age": v["age"],
        "insutype": _INSUTYPE.take(ins.astype(np.int64)),
    }
    vrow = np.concatenate([np.arange(nv), refund])
    sg = np.concatenate([np.ones(nv, dtype=np.int64), -np.ones(len(refund), dtype=np.int64)])
    setl = {
        "setl_id": setl_ids,
        "mdtrt_id": take_str(mdtrt_ids, vrow),
        "psn_no": take_str(psn, vrow),
        "fixmedins_code": w.code_list("fac").take(v["fac"][vrow]),
        "setl_time": np.concatenate([setl_time, r_time]),
        "medfee_sumamt": cents_to_float(medfee[vrow] * sg),
        "hifp_pay": cents_to_float(hifp[vrow] * sg),
        "fund_pay_sumamt": cents_to_float(fund[vrow] * sg),
        "acct_pay": cents_to_float(acct[vrow] * sg),
        "psn_cash_pay": cents_to_float(cash[vrow] * sg),
        "refd_setl_flag": _REFUND_FLAG.take((sg < 0).astype(np.int64)),
    }
    truth = _truth(w, st, m, v, ln, fraud_fund, fee, mdtrt_ids, fund)
    return {"mdtrt_d": mdtrt, "setl_d": setl, "fee_list_d": fee, "truth": truth, "n_visits": nv,
            "medfee": medfee, "fund": fund}


def _truth(w: World, st: State, m: int, v: Frame, ln: Frame, fraud_fund: np.ndarray, fee: dict,
           mdtrt_ids: pa.Array, fund: np.ndarray) -> dict:
    nl = len(ln["row"])
    fl = np.flatnonzero(ln["pattern"][:nl] > 0)
    fac_l = v["fac"][ln["row"][fl]]
    pat_l = ln["pattern"][fl].astype(np.int64)
    amt_l = fraud_fund[fl]
    np.add.at(st.taken, (fac_l, m, pat_l), amt_l)
    upc = np.flatnonzero(v["upc"] > 0)
    np.add.at(st.taken, (v["fac"][upc], m, PATTERN_ID["upcoding"]), v["upc"][upc])
    np.add.at(st.n_visits, (v["fac"], m), 1)
    np.add.at(st.fund, (v["fac"], m), fund / 100.0)
    lines = {"feedetl_sn": fee["feedetl_sn"].take(pa.array(fl)), "mdtrt_id": take_str(mdtrt_ids, ln["row"][fl]),
             "fixmedins_code": take_str(w.fac.code, fac_l), "pattern": pat_l, "amount": np.round(amt_l, 2),
             "_fac": fac_l, "_dr": ln["dr"][fl], "_row": ln["row"][fl]}
    fv = np.flatnonzero(_VISIT_PAT[v["pattern"]])
    visits = {"mdtrt_id": take_str(mdtrt_ids, fv), "fixmedins_code": take_str(w.fac.code, v["fac"][fv]),
              "pattern": v["pattern"][fv].astype(np.int64)}
    upc_rows = {"fac": v["fac"][upc], "dr": v["dr"][upc], "amount": v["upc"][upc]}
    return {"lines": lines, "visits": visits, "upcoding": upc_rows}
