"""The synthetic province: contract, identities, determinism, and the trace each mechanism leaves."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.schema import TABLES
from simulator import simulate

_TYPES = {"string": pa.string(), "code": pa.string(), "int": pa.int64(), "float": pa.float64(),
          "date": pa.date32(), "timestamp": pa.timestamp("s"), "bool": pa.bool_()}


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    simulate(out, seed=7, scale=80)
    return out


@pytest.fixture(scope="module")
def con(province: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for t in TABLES:
        c.sql(f"create view {t} as select * from read_parquet('{province}/input/{t}/*.parquet')")
    for t in ("fraud_lines", "fraud_visits", "facility_month", "schemes", "persons"):
        c.sql(f"create view truth_{t} as select * from read_parquet('{province}/truth/{t}.parquet')")
    return c


def one(con: duckdb.DuckDBPyConnection, q: str):
    return con.sql(q).fetchall()[0]


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, seed=3, scale=40)
    simulate(b, seed=3, scale=40)
    files = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
    assert len(files) > 8
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_every_table_matches_the_contract(province: Path) -> None:
    for name, t in TABLES.items():
        parts = sorted((province / "input" / name).glob("part-*.parquet"))
        assert parts, name
        schema = pq.read_schema(parts[0])
        assert tuple(schema.names) == t.column_names, name
        for c in t.columns:
            typ = schema.field(c.name).type
            if c.type == "timestamp":  # Parquet has no seconds unit: written as [s], read back as [ms]
                assert pa.types.is_timestamp(typ) and typ.tz is None, (name, c.name)
            else:
                assert typ == _TYPES[c.type], (name, c.name)
    meta = (province / "meta.json").read_text()
    assert '"next_round_date": "2025-01-01"' in meta and '"export_end": "2024-12-31"' in meta


def test_codes_and_references_are_valid(con: duckdb.DuckDBPyConnection) -> None:
    for name, t in TABLES.items():
        for c in t.columns:
            if c.codes:
                bad = one(con, f"select count(*) from {name} where {c.name} is not null and {c.name} not in "
                               f"({', '.join(repr(x) for x in c.codes)})")[0]
                assert bad == 0, (name, c.name)
            if c.references:
                rt, rc = c.references
                bad = one(con, f"select count(*) from {name} where {c.name} is not null and {c.name} not in "
                               f"(select {rc} from {rt})")[0]
                assert bad == 0, (name, c.name)
    assert one(con, "select count(*) from fee_list_d f join mdtrt_d m using (mdtrt_id) "
                    "where f.fee_ocur_time < m.begntime or f.fee_ocur_time > m.endtime")[0] == 0


def test_amount_identities(con: duckdb.DuckDBPyConnection) -> None:
    q = "select count(*) from fee_list_d where abs(round(cnt * pric, 2) - det_item_fee_sumamt) > 0.005"
    assert one(con, q)[0] == 0
    bad = one(con, """with l as (select setl_id, sum(det_item_fee_sumamt) s from fee_list_d group by 1)
        select count(*) from setl_d left join l using (setl_id) where abs(coalesce(l.s, 0) - medfee_sumamt) > 0.005""")
    assert bad[0] == 0
    assert one(con, "select count(*) from setl_d where abs(medfee_sumamt - fund_pay_sumamt - acct_pay - psn_cash_pay)"
                    " > 0.005 or abs(hifp_pay) > abs(fund_pay_sumamt) + 0.001")[0] == 0
    n, refunds, neg_ok = one(con, """select count(*), sum((refd_setl_flag = '1')::int),
        sum((refd_setl_flag = '1' and medfee_sumamt <= 0)::int) from setl_d""")
    assert 0 < refunds < 0.02 * n and neg_ok == refunds
    assert one(con, "select count(*) from setl_d where refd_setl_flag = '0' and medfee_sumamt < 0")[0] == 0


def test_truth_is_apart(province: Path, con: duckdb.DuckDBPyConnection) -> None:
    assert sorted(p.name for p in (province / "input").iterdir()) == sorted(TABLES)
    for name in TABLES:
        cols = {c.lower() for c in con.sql(f"select * from {name} limit 0").columns}
        assert not cols & {"pattern", "fraud", "scheme", "scheme_id", "amount_taken"}, name
    amt = one(con, "select sum(amount_taken) from truth_facility_month")[0]
    assert amt > 0


def test_split_admission_facility_readmits_far_more(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql("""
        with s as (select fixmedins_code f, psn_no p, begntime b, endtime e from mdtrt_d where med_type = '21'),
        r as (select f, p, b, lag(e) over (partition by f, p order by b) prev from s),
        rate as (select f, avg(case when date_diff('day', prev, b) between 0 and 7 then 1 else 0 end) rr, count(*) n
                 from r group by f)
        select rate.f, rr, n, f in (select fixmedins_code from truth_schemes where pattern = 'split_admission'
                                   and dr_code is null and intensity > 0.5) sch
        from rate where n >= 20""").fetchall()
    schemers = [rr for _, rr, _, sch in rows if sch]
    peers = [rr for _, rr, _, sch in rows if not sch]
    if not schemers:
        pytest.skip("no facility-wide split_admission scheme in this seed")
    assert np.median(schemers) > 3 * np.median(peers) + 0.01


def test_sex_restricted_items_go_to_the_wrong_sex_only_under_a_scheme(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql("""
        select f.feedetl_sn in (select feedetl_sn from truth_fraud_lines where pattern = 'sex_restricted') fr,
               count(*)
        from fee_list_d f join mdtrt_d m using (mdtrt_id) join catalog c using (med_list_codg)
        where c.lmt_gend is not null and c.lmt_gend <> m.gend group by 1""").fetchall()
    counts = dict(rows)
    assert counts.get(False, 0) == 0
    women = one(con, """select sum((m.gend = '2')::int), count(*) from fee_list_d f join mdtrt_d m using (mdtrt_id)
        join catalog c using (med_list_codg) join fixmedins x on x.fixmedins_code = m.fixmedins_code
        where c.lmt_gend = '2' and x.fixmedins_type = 'maternal_child'
          and f.feedetl_sn not in (select feedetl_sn from truth_fraud_lines)""")
    assert women[1] > 0 and women[0] == women[1]


def test_hba1c_gaps(con: duckdb.DuckDBPyConnection) -> None:
    gaps = con.sql("""
        with a as (select f.psn_no, f.fee_ocur_time t, f.feedetl_sn in (select feedetl_sn from truth_fraud_lines
                   where pattern = 'over_testing') ot
                   from fee_list_d f join catalog c using (med_list_codg)
                   where c.name = '糖化血红蛋白测定' and f.cnt > 0),
        g as (select ot, date_diff('day', lag(t) over (partition by psn_no order by t), t) gap from a)
        select ot, min(gap), max(gap), count(gap) from g where gap is not null group by 1""").fetchall()
    res = {ot: (lo, hi, n) for ot, lo, hi, n in gaps}
    assert res[False][0] >= 90
    if True in res:
        assert res[True][0] < 90 and res[True][1] <= 90


def test_trace_code_twice_only_under_resale(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql("""
        with t as (select trace_code, feedetl_sn, row_number() over (partition by trace_code order by fee_ocur_time,
                   feedetl_sn) k from fee_list_d where trace_code is not null and cnt > 0)
        select t.feedetl_sn in (select feedetl_sn from truth_fraud_lines where pattern = 'trace_resale') resale,
               count(*)
        from t where k > 1 group by 1""").fetchall()
    assert dict(rows).get(False, 0) == 0


def test_selection_is_biased_towards_fraud(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql("""
        select i.selection, avg(case when coalesce(t.taken, 0) > 0 then 1 else 0 end) rate, count(*)
        from inspections i left join lateral (
            select sum(amount_taken) taken from truth_facility_month fm
            where fm.fixmedins_code = i.fixmedins_code
              and fm.month between strftime(i.period_begn, '%Y-%m') and strftime(i.period_end, '%Y-%m')) t on true
        group by 1""").fetchall()
    rate = {s: r for s, r, _ in rows}
    assert max(rate["targeted"], rate["tip_off"]) > rate["random"]
    assert one(con, "select count(*) from inspections where amount_involved + 0.001 < amount_recovered")[0] == 0


def test_numeric_scale_is_proportional(tmp_path: Path) -> None:
    r = simulate(tmp_path, seed=1, scale=40)
    assert r["counts"]["fixmedins"] == 40
    assert r["counts"]["fee_list_d"] > 50_000


def test_block_built_ids_equal_the_general_builder() -> None:
    from simulator.frame import fixed_ids, seq_ids

    runs = [(9_995, 12), (123_456_789, 25_003), (0, 0), (10_000, 1), (99_999_999_990, 30)]
    expected = pa.concat_arrays([fixed_ids("S", np.arange(s, s + n), 13) for s, n in runs])
    assert seq_ids("S", runs, 13).equals(expected)
    assert seq_ids("S", [(5, 3), (998, 4)], 3).equals(fixed_ids("S", np.r_[5:8, 998:1002], 3))


def test_code_dictionaries_give_the_listed_values() -> None:
    from simulator.frame import Codes

    values = ["301", "101", "301", "201", "101"]  # repeated values share a dictionary entry
    idx = np.array([0, 2, -1, 4, 3, 1, -1])
    got = Codes(values).take(idx)
    assert len(got.dictionary) == 3
    assert got.cast(pa.string()).to_pylist() == [values[i] if i >= 0 else None for i in idx]
    assert Codes(pa.array(["a", "b"])).take(np.array([1, 1, 0])).cast(pa.string()).to_pylist() == ["b", "b", "a"]
