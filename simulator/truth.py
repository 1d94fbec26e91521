"""What really happened, kept apart in truth/ for evaluation only (the pipeline never reads it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.behaviours import Schemes
from simulator.codes import PATTERN_ID, PATTERNS
from simulator.config import N_MONTHS, month_label
from simulator.frame import take_str
from simulator.population import CONDITIONS
from simulator.world import State, World

_PAT = pa.array(list(PATTERNS), type=pa.string())


class TruthRecorder:
    """Collects per-month truth (lines, visits, per physician) and writes the files at the end."""

    def __init__(self, w: World, out: Path, keep_ids: bool = False) -> None:
        self.w, self.out = w, out
        self.keep_ids = keep_ids  # keep each month's fraudulent ids for `fraudulent` (a campaign's inspectors)
        out.mkdir(parents=True, exist_ok=True)
        self.lines_writer: pq.ParquetWriter | None = None
        self.visits: list[pa.Table] = []
        self.phys: list[tuple[int, np.ndarray, np.ndarray]] = []
        nf = w.fac.n
        self.n_lines = np.zeros((nf, N_MONTHS, len(PATTERNS)), dtype=np.int64)
        self.n_visits = np.zeros((nf, N_MONTHS, len(PATTERNS)), dtype=np.int64)
        self._ids: list[tuple[pa.Array, pa.Array]] = []  # each month's (fraudulent fee lines, their visits)
        self._sets: tuple[set[str], set[str], int] = (set(), set(), 0)

    def add_month(self, m: int, t: dict) -> None:
        lines = t["lines"]
        tbl = pa.table({
            "feedetl_sn": lines["feedetl_sn"], "mdtrt_id": lines["mdtrt_id"], "fixmedins_code": lines["fixmedins_code"],
            "pattern": _PAT.take(pa.array(lines["pattern"])), "amount": pa.array(lines["amount"], type=pa.float64()),
        })
        if self.lines_writer is None:
            self.lines_writer = pq.ParquetWriter(self.out / "fraud_lines.parquet", tbl.schema, compression="zstd")
        self.lines_writer.write_table(tbl)
        np.add.at(self.n_lines, (lines["_fac"], m, lines["pattern"]), 1)
        # distinct (visit, pattern) per facility
        key, first = np.unique(lines["_row"] * 32 + lines["pattern"], return_index=True)
        np.add.at(self.n_visits, (lines["_fac"][first], m, key % 32), 1)
        vis = t["visits"]
        if self.keep_ids:
            self._ids.append((tbl.column("feedetl_sn").combine_chunks(),
                              pa.concat_arrays([tbl.column("mdtrt_id").combine_chunks(), pa.array(vis["mdtrt_id"])])))
        self.visits.append(pa.table({"mdtrt_id": vis["mdtrt_id"], "fixmedins_code": vis["fixmedins_code"],
                                     "pattern": _PAT.take(pa.array(vis["pattern"]))}))
        upc = t["upcoding"]
        dr = np.concatenate([lines["_dr"].astype(np.int64), upc["dr"].astype(np.int64)])
        pat = np.concatenate([lines["pattern"], np.full(len(upc["dr"]), PATTERNS.index("upcoding"))])
        amt = np.concatenate([lines["amount"], upc["amount"]])
        key = dr * 32 + pat
        uk, inv = np.unique(key, return_inverse=True)
        self.phys.append((m, uk, np.bincount(inv, weights=amt)))

    def fraudulent(self) -> tuple[set[str], set[str]]:
        """(fee lines, visits) fraudulent in the months recorded so far: a fraudulent fee line's visit
        counts as fraudulent too. The sets grow with each call by the months added since. Needs keep_ids."""
        if not self.keep_ids:
            raise RuntimeError("the truth recorder keeps no ids: make the Province with answers=True")
        lines, visits, seen = self._sets
        for sn, mdtrt in self._ids[seen:]:
            lines.update(sn.to_pylist())
            visits.update(mdtrt.to_pylist())
        self._sets = (lines, visits, len(self._ids))
        return lines, visits

    def finish(self, st: State, sch: Schemes, with_evasion: bool = False) -> dict[str, int]:
        """Write the files; `with_evasion` adds schemes.evasive (an evasion preset other than normal);
        planted rings (sch.rings) add rings.parquet and schemes.ring_id."""
        w, out = self.w, self.out
        if self.lines_writer is not None:
            self.lines_writer.close()
        pq.write_table(pa.concat_tables(self.visits), out / "fraud_visits.parquet", compression="zstd")
        f, mo, p = np.nonzero((st.taken > 0) | (self.n_lines > 0))
        fm = pa.table({
            "fixmedins_code": take_str(w.fac.code, f), "month": take_str([month_label(i) for i in range(N_MONTHS)], mo),
            "pattern": _PAT.take(pa.array(p)), "amount_taken": np.round(st.taken[f, mo, p], 2),
            "n_lines": self.n_lines[f, mo, p], "n_visits": self.n_visits[f, mo, p],
        })
        pq.write_table(fm, out / "facility_month.parquet", compression="zstd")
        ms = np.concatenate([np.full(len(k), m) for m, k, _ in self.phys]) if self.phys else np.zeros(0, int)
        ks = np.concatenate([k for _, k, _ in self.phys]) if self.phys else np.zeros(0, int)
        am = np.concatenate([a for _, _, a in self.phys]) if self.phys else np.zeros(0)
        dr = ks // 32
        pm = pa.table({
            "dr_code": take_str(w.phy.code, dr), "fixmedins_code": take_str(w.fac.code, w.phy.fac[dr]),
            "month": take_str([month_label(i) for i in range(N_MONTHS)], ms), "pattern": _PAT.take(pa.array(ks % 32)),
            "amount_taken": np.round(am, 2),
        })
        pq.write_table(pm, out / "physician_month.parquet", compression="zstd")
        s_dr = [";".join(w.phy.code[d] for d in row if d >= 0) or None for row in sch.drs]
        schemes = pa.table({
            "scheme_id": [f"SCH{i:05d}" for i in range(sch.n)], "fixmedins_code": take_str(w.fac.code, sch.fac),
            "dr_code": pa.array(s_dr, type=pa.string()), "pattern": _PAT.take(pa.array(sch.pattern.astype(np.int64))),
            "start_month": [month_label(int(i)) for i in sch.start],
            "end_month": [month_label(int(i)) for i in sch.end],
            "intensity": np.round(sch.intensity, 3), "adaptive": sch.adaptive,
            **({"evasive": sch.evasive} if with_evasion else {}),
            **({"ring_id": pa.array([f"R{k + 1:03d}" if k >= 0 else None for k in sch.ring], type=pa.string())}
               if sch.rings is not None else {}),
        })
        pq.write_table(schemes, out / "schemes.parquet", compression="zstd")
        n_rings = self._rings(st, sch) if sch.rings is not None else 0
        per = w.per
        byear = 1970 + np.floor(per.birth_day / 365.2425).astype(np.int64)
        conds = [";".join(c for c, h in zip(CONDITIONS, row, strict=True) if h) or None for row in per.cond.tolist()]
        persons = pa.table({
            "psn_no": per.psn_no, "gend": take_str(["2", "1"], per.male.astype(np.int64)), "birth_year": byear,
            "admdvs": take_str([f"9901{i + 1:02d}" for i in range(8)], per.region.astype(np.int64)),
            "insutype": take_str(["390", "310"], per.insutype310.astype(np.int64)),
            "chronic_conditions": pa.array(conds, type=pa.string()),
            **{c: per.cond[:, j] for j, c in enumerate(CONDITIONS)},
        })
        pq.write_table(persons, out / "persons.parquet", compression="zstd")
        return {"schemes": sch.n, "facility_month": fm.num_rows, "physician_month": pm.num_rows,
                "fraud_visits": sum(t.num_rows for t in self.visits), **({"rings": n_rings} if n_rings else {})}

    def _rings(self, st: State, sch: Schemes) -> int:
        """truth/rings.parquet: one row per collusion ring (R001…) and per honest look-alike (L001…)."""
        w, plan = self.w, sch.rings
        assert plan is not None
        groups = [(f"R{k + 1:03d}", g) for k, g in enumerate(plan.rings)]
        groups += [(f"L{k + 1:03d}", g) for k, g in enumerate(plan.lookalikes)]
        ring_taken = st.taken[:, :, PATTERN_ID["ring"]].sum(axis=1)  # a facility is a member of one ring at most
        tbl = pa.table({
            "ring_id": [i for i, _ in groups], "kind": [g.kind for _, g in groups],
            "honest": pa.array([g.honest for _, g in groups], type=pa.bool_()),
            "facilities": [";".join(w.fac.code[i] for i in g.fac) for _, g in groups],
            "physicians": pa.array([";".join(w.phy.code[d] for d in g.drs if d >= 0) or None for _, g in groups],
                                   type=pa.string()),
            "persons": [";".join(w.per.psn_no.take(pa.array(g.persons)).to_pylist()) for _, g in groups],
            "start_month": [month_label(g.start) for _, g in groups],
            "end_month": [month_label(g.end) for _, g in groups],
            "amount_taken": pa.array([0.0 if g.honest else round(float(ring_taken[g.fac].sum()), 2)
                                      for _, g in groups], type=pa.float64()),
        })
        pq.write_table(tbl, self.out / "rings.parquet", compression="zstd")
        return tbl.num_rows
