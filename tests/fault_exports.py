"""Small claims exports with planted faults, for the property tests and benchmarks/bench_bad_inputs.py.

`Export.build(seed)` starts from the consistent export of test_ingest_data (people renamed from the
seed, so the raw identifiers are unique strings to look for), one CSV part per table under
`<table>/`. Each entry of `FAULTS` damages it in one way: row faults edit the rows, file faults add a
part (extra rows with fresh keys, so they never collide with the base rows) or damage one. `write()`
returns, per table, the rows the files hold as written (counted after the damage) and which files
ingest cannot be expected to read.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.test_ingest_data import arrow_table, export_rows, write_csv

Rows = list[dict[str, str]]


@dataclass
class Part:
    name: str
    rows: Rows
    fmt: str = "csv"
    encoding: str = "utf-8"
    header: list[str] | None = None
    readable: bool = True  # False: ingest cannot read the file, its rows are lost (listed as not read)
    arrow: Callable[[pa.Table], pa.Table] | None = None  # Parquet: change types before writing
    damage: Callable[[Path], None] | None = None  # after writing: cut, garble


@dataclass
class Export:
    parts: dict[str, list[Part]]
    raw_ids: list[str]  # every psn_no / certno value written
    pristine: dict[str, Rows] = field(default_factory=dict)  # the rows before any fault, to copy from
    seq: int = 0
    applied: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, seed: int) -> Export:
        rnd = random.Random(seed)
        rows = export_rows()
        people = {p: f"PSN{rnd.randrange(10**9):09d}" for p in ("P001", "P002", "P003")}
        certs: list[str] = []
        for name in ("mdtrt_d", "setl_d", "fee_list_d"):
            for r in rows[name]:
                r["psn_no"] = people[r["psn_no"]]
                if "certno" in r:
                    r["certno"] = f"{rnd.randrange(10**17):017d}X"
                    certs.append(r["certno"])
        return cls(parts={n: [Part("part-0.csv", rs)] for n, rs in rows.items()},
                   raw_ids=list(people.values()) + certs,
                   pristine={n: [dict(r) for r in rs] for n, rs in rows.items()})

    def base(self, table: str) -> Rows:
        return self.parts[table][0].rows

    def fresh(self, table: str, n: int, key: str) -> Rows:
        """n copies of the table's first clean row with new keys (and new people, for identifier tables)."""
        out = []
        for _ in range(n):
            self.seq += 1
            r = dict(self.pristine[table][0], **{key: f"X{self.seq:05d}"})
            if "psn_no" in r:
                r["psn_no"] = f"PSN{900_000_000 + self.seq:09d}"
                self.raw_ids.append(r["psn_no"])
            if "certno" in r:
                r["certno"] = f"{990_000_000_000_000_00 + self.seq:017d}X"
                self.raw_ids.append(r["certno"])
            out.append(r)
        return out

    def write(self, root: Path, tables: list[str] | None = None) -> dict[str, dict[str, object]]:
        """Write the parts; returns {table: {rows, unread_files, unread_rows}} as ingest should see them."""
        out: dict[str, dict[str, object]] = {}
        for name, parts in self.parts.items():
            if tables is not None and name not in tables:
                continue
            rows, unread, unread_rows = 0, [], 0
            for p in parts:
                path = root / name / p.name
                path.parent.mkdir(parents=True, exist_ok=True)
                if p.fmt == "csv":
                    if p.rows or p.header:
                        write_csv(path, p.rows, encoding=p.encoding, header=p.header)
                    else:
                        path.write_bytes(b"")
                else:
                    t = arrow_table(name, p.rows)
                    pq.write_table(p.arrow(t) if p.arrow else t, path)
                if p.damage:
                    p.damage(path)
                if not p.readable:
                    unread.append(str(path))
                    unread_rows += len(p.rows)
                elif p.fmt == "csv":
                    data = path.read_bytes()
                    lines = data.replace(b"\r\n", b"\n").split(b"\n")
                    rows += max(0, len([x for x in lines if x]) - 1)
                else:
                    rows += len(p.rows)
            out[name] = {"rows": rows, "unread_files": unread, "unread_rows": unread_rows}
        return out


def _unquote(path: Path, old: str, new: str) -> None:
    path.write_bytes(path.read_bytes().replace(old.encode(), new.encode(), 1))


def _cut_tail(keep: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(keep(p.read_bytes()))


# --- the faults: each edits an Export in place; registered with the table it is about ---------------

FAULTS: dict[str, tuple[str, Callable[[Export], None]]] = {}


def fault(table: str) -> Callable[[Callable[[Export], None]], Callable[[Export], None]]:
    def register(fn: Callable[[Export], None]) -> Callable[[Export], None]:
        FAULTS[fn.__name__.replace("_", " ")] = (table, fn)
        return fn
    return register


@fault("mdtrt_d")
def bad_date(e: Export) -> None:
    e.base("mdtrt_d")[0]["begntime"] = "2024-13-45 25:00:00"


@fault("dr_info")
def future_date(e: Export) -> None:
    e.base("dr_info")[1]["begndate"] = "2031-01-01"


@fault("setl_d")
def non_numeric_amount(e: Export) -> None:
    e.base("setl_d")[1]["medfee_sumamt"] = "一百"


@fault("mdtrt_d")
def missing_required_value(e: Export) -> None:
    e.base("mdtrt_d")[2]["psn_no"] = ""


@fault("fee_list_d")
def unknown_facility(e: Export) -> None:
    e.base("fee_list_d")[3]["fixmedins_code"] = "H999"


@fault("fee_list_d")
def unknown_physician(e: Export) -> None:
    e.base("fee_list_d")[4]["bilg_dr_codg"] = "D99"


@fault("catalog")
def unknown_code(e: Export) -> None:
    e.base("catalog")[2]["list_type"] = "999"


@fault("dr_info")
def duplicate_key(e: Export) -> None:
    rows = e.base("dr_info")
    rows.append(dict(rows[0], dept="儿科"))


@fault("mdtrt_d")
def non_integer_int(e: Export) -> None:
    e.base("mdtrt_d")[1]["age"] = "41.5"


@fault("catalog")
def bad_boolean(e: Export) -> None:
    e.base("catalog")[0]["needs_trace_code"] = "maybe"


@fault("setl_d")
def negative_amount(e: Export) -> None:
    e.base("setl_d")[0]["acct_pay"] = "-5"


@fault("setl_d")
def implausible_amount(e: Export) -> None:
    e.base("setl_d")[2]["hifp_pay"] = "3.2e15"


@fault("setl_d")
def reconciliation_mismatch(e: Export) -> None:
    e.base("setl_d")[3]["medfee_sumamt"] = "-61.00"


@fault("fee_list_d")
def negative_fee_line(e: Export) -> None:
    r = e.base("fee_list_d")[0]
    r.update(cnt="-1", det_item_fee_sumamt="-60.00")


@fault("inspections")
def recovered_above_involved(e: Export) -> None:
    rows = e.base("inspections")
    rows.append(dict(rows[0], insp_id="I9", amount_involved="100", amount_recovered="250"))


@fault("fee_list_d")
def untidy_identifiers(e: Export) -> None:
    """Padded with ideographic and no-break spaces: accepted, linked to the same pseudonym."""
    r = e.base("fee_list_d")[1]
    r["psn_no"] = f"\u3000{r['psn_no']}\u00a0"


@fault("fixmedins")
def formula_text(e: Export) -> None:
    e.base("fixmedins")[1]["fixmedins_name"] = "=cmd|' /C calc'!A0"


@fault("mdtrt_d")
def shifted_row(e: Export) -> None:
    """An unquoted comma in the first field: psn_no and certno move one column right."""
    e.base("mdtrt_d")[3]["mdtrt_id"] = "M4,B"
    part = e.parts["mdtrt_d"][0]
    part.damage = lambda p: _unquote(p, '"M4,B"', "M4,B")


@fault("setl_d")
def short_row(e: Export) -> None:
    e.parts["setl_d"][0].damage = lambda p: _unquote(p, ",0,", ",")  # acct_pay "0" and its comma gone


@fault("fee_list_d")
def cut_mid_row(e: Export) -> None:
    e.parts["fee_list_d"][0].damage = _cut_tail(lambda b: b[: len(b) * 2 // 3])  # later lines lost, one cut


@fault("insp_dr_points")
def cut_last_field(e: Export) -> None:
    e.base("insp_dr_points")[0]["points"] = "12"
    e.parts["insp_dr_points"][0].damage = _cut_tail(lambda b: b.rstrip(b"\r\n")[:-1])


@fault("dr_info")
def unterminated_quote(e: Export) -> None:
    e.parts["dr_info"][0].damage = _cut_tail(lambda b: b[: b.rfind(b",") + 1] + b'"2016-01\r\n')


@fault("mdtrt_d")
def gbk_among_utf8(e: Export) -> None:
    rows = e.fresh("mdtrt_d", 2, "mdtrt_id")
    for r in rows:
        r["dept"] = "神经内科"
    e.parts["mdtrt_d"].append(Part("part-1.csv", rows, encoding="gbk", readable=False))


@fault("catalog")
def gbk_whole_table(e: Export) -> None:
    e.parts["catalog"][0].encoding = "gbk"
    e.parts["catalog"][0].readable = False


@fault("mdtrt_d")
def truncated_parquet(e: Export) -> None:
    rows = e.fresh("mdtrt_d", 3, "mdtrt_id")
    e.parts["mdtrt_d"].append(Part("part-2.parquet", rows, fmt="parquet", readable=False,
                                   damage=_cut_tail(lambda b: b[: len(b) // 2])))


@fault("fixmedins")
def not_parquet(e: Export) -> None:
    e.parts["fixmedins"].append(Part("part-1.parquet", e.fresh("fixmedins", 1, "fixmedins_code"), fmt="parquet",
                                     readable=False, damage=lambda p: p.write_bytes(b"PAR1 not really")))


@fault("insp_dr_points")
def zero_byte_file(e: Export) -> None:
    e.parts["insp_dr_points"].append(Part("part-1.csv", [], readable=False))


@fault("inspections")
def header_only_file(e: Export) -> None:
    e.parts["inspections"].append(Part("part-1.csv", [], header=list(e.base("inspections")[0])))


@fault("catalog")
def missing_column(e: Export) -> None:
    rows = e.fresh("catalog", 2, "med_list_codg")
    e.parts["catalog"].append(Part("part-1.csv", rows, header=[h for h in rows[0] if h != "ref_price"]))


@fault("dr_info")
def duplicated_header(e: Export) -> None:
    rows = e.fresh("dr_info", 2, "dr_code")
    e.parts["dr_info"].append(Part("part-1.csv", rows, header=[*rows[0], "dept"]))


@fault("mdtrt_d")
def mixed_parquet_types(e: Export) -> None:
    rows = e.fresh("mdtrt_d", 4, "mdtrt_id")
    texts = [rows[2]["age"], "abc"]  # the second file stores age as text, one value not a number

    def ages_as_text(t: pa.Table) -> pa.Table:
        return t.set_column(t.schema.get_field_index("age"), "age", pa.array(texts, pa.string()))

    e.parts["mdtrt_d"] += [Part("part-3.parquet", rows[:2], fmt="parquet"),
                           Part("part-4.parquet", rows[2:], fmt="parquet", arrow=ages_as_text)]


@fault("mdtrt_d")
def disallowed_parquet_type(e: Export) -> None:
    rows = e.fresh("mdtrt_d", 2, "mdtrt_id")

    def epoch(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("begntime")
        return t.set_column(i, "begntime", pa.array([1_704_445_200] * t.num_rows, pa.int64()))

    e.parts["mdtrt_d"].append(Part("part-5.parquet", rows, fmt="parquet", arrow=epoch))


@fault("fixmedins")
def bom_and_crlf(e: Export) -> None:
    """UTF-8 with a byte-order mark (Excel's 'CSV UTF-8'): accepted."""
    e.parts["fixmedins"][0].encoding = "utf-8-sig"


