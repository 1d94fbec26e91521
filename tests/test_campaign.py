"""The stepping province (simulator.campaign): `run` unchanged, rounds planned from outside, choosers, truth."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.schema import TABLES
from feijian.errors import InputError, NotReadyError
from simulator import simulate
from simulator.campaign import Province

# sha256 over input/ and truth/ (see `digest`) of `simulate(seed=7, scale=40)` at commit 3c4e18f, before
# the month loop became a stepping province. It pins the bytes pyarrow and zstd write with the locked
# requirements: after an upgrade of those, recompute it from that commit's simulator.
BASE_DIGEST_S7_40 = "868485b5a7e222f1f4b6ea0cb1eb11b6c8088f754bf93988f2a6d15e914cf1fd"
ADDED_SINCE_BASE = ("admdvs",)  # tables the simulator writes that did not exist at that commit
SEED, SCALE = 7, 40
LATE = "P99010100011"  # opens in 2023-08 (month 19) in this province


def digest(root: Path, skip: tuple[str, ...] = ()) -> str:
    h = hashlib.sha256()
    files = (q for d in ("input", "truth") for q in (root / d).rglob("*") if q.is_file())
    for p in sorted(q for q in files if not set(skip) & set(q.relative_to(root).parts)):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


@pytest.fixture(scope="module")
def run_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    simulate(out, seed=SEED, scale=SCALE, evasion="normal")
    return out


@pytest.fixture(scope="module")
def run_digest(run_out: Path) -> str:
    return digest(run_out)


def test_run_writes_the_bytes_it_wrote_before_the_split(tmp_path: Path) -> None:
    """Without the rings planted since (`rings="none"`), the province is byte for byte the old one."""
    simulate(tmp_path, seed=SEED, scale=SCALE, evasion="normal", rings="none")
    assert digest(tmp_path, skip=ADDED_SINCE_BASE) == BASE_DIGEST_S7_40
    assert digest(tmp_path) != digest(tmp_path, skip=ADDED_SINCE_BASE)  # the added tables are written


def test_stepping_with_the_historical_chooser_equals_run(tmp_path: Path, run_digest: str) -> None:
    with Province(tmp_path, seed=SEED, scale=SCALE) as p:
        for m in p.round_months:
            p.advance(m)
            rows, _ = p.inspect(m, p.historical(m))
            assert len(rows) == p.scale.capacity
        p.finish()
    assert digest(tmp_path) == run_digest


def test_the_export_is_as_of_the_month_reached(tmp_path: Path) -> None:
    with Province(tmp_path, seed=SEED, scale=SCALE) as p:
        p.advance(12)
        rows, pts = p.inspect(12, p.historical(12))
        p.advance(15)
        inp = tmp_path / "input"
        assert pq.read_table(inp / "inspections").to_pylist() == rows  # what inspect answered is what is exported
        assert pq.read_table(inp / "insp_dr_points").to_pylist() == pts
        assert sorted(f.name for f in (inp / "fee_list_d").iterdir()) == [f"part-{m:05d}.parquet" for m in range(15)]
        fix = pq.read_table(inp / "fixmedins").column("fixmedins_code").to_pylist()
        assert LATE not in fix and len(fix) == SCALE - 2  # two pharmacies open later
        insp = pq.read_table(inp / "inspections").to_pylist()
        assert len(insp) == p.scale.capacity and {r["batch"] for r in insp} == {"2023Q1"}
        assert all(r["insp_date"] < dt.date(2023, 4, 1) for r in insp)
        p.advance(21)
        fix = pq.read_table(inp / "fixmedins").column("fixmedins_code").to_pylist()
        assert LATE in fix


def test_inspect_answers_in_the_contract_and_deters(tmp_path: Path) -> None:
    cols = TABLES["inspections"].columns
    with Province(tmp_path / "a", seed=SEED, scale=SCALE) as p, Province(tmp_path / "b", seed=SEED, scale=SCALE) as q:
        p.advance(12)
        q.advance(12)
        picks = [(code, "tip_off") for code, _ in p.oracle(12, 8)]
        rows, pts = p.inspect(12, picks)
        q.inspect(12, [])
        assert [r["fixmedins_code"] for r in rows] == [c for c, _ in picks]
        for r in rows:
            assert tuple(r) == TABLES["inspections"].column_names
            for c in cols:
                v = r[c.name]
                if c.type == "date":
                    assert type(v) is dt.date
                if c.codes:
                    assert v in c.codes, (c.name, v)
                if c.type == "float":
                    assert isinstance(v, float) and v >= 0
            assert r["period_end"] == dt.date(2022, 12, 31) and r["insp_date"] > r["period_end"]
            assert r["amount_recovered"] <= r["amount_involved"]
        ids = {r["insp_id"] for r in rows}
        assert all(x["insp_id"] in ids and x["points"] > 0 for x in pts)
        idx = [p._index[c] for c, _ in picks]
        deterred = [i for i in idx if p.state.suppress_from[i] < 10**6]
        assert deterred, "a tip-off round on the biggest takers finds something serious"
        assert all(p.state.suppress_factor[i] < 1 for i in deterred)
        p.advance(24)
        q.advance(24)
        after_p = p.state.taken[deterred, 14:20].sum()
        after_q = q.state.taken[deterred, 14:20].sum()
        assert after_q > 0 and after_p < 0.5 * after_q  # the same facilities uninspected kept taking


def test_inspect_refuses_what_cannot_be_inspected(tmp_path: Path) -> None:
    with Province(tmp_path, seed=SEED, scale=SCALE) as p:
        with pytest.raises(NotReadyError, match="advance"):
            p.inspect(12, [])
        p.advance(12)
        code = p.world.fac.code[0]
        with pytest.raises(InputError, match="not a facility"):
            p.inspect(12, [("H000", "random")])
        with pytest.raises(InputError, match="random, targeted, tip_off"):
            p.inspect(12, [(code, "hunch")])
        with pytest.raises(InputError, match="opens on 2023-08"):
            p.inspect(12, [(LATE, "random")])
        with pytest.raises(InputError, match="twice"):
            p.inspect(12, [(code, "random"), (code, "targeted")])
        assert p.inspect(12, []) == ([], [])
        p.advance(13)
        with pytest.raises(InputError, match="already at"):
            p.inspect(12, [(code, "random")])


def test_oracle_picks_took_more_than_random_picks(tmp_path: Path) -> None:
    with Province(tmp_path, seed=SEED, scale=SCALE) as p:
        p.advance(18)

        def taken(picks: list[tuple[str, str]]) -> float:
            return sum(p.taken(c, "2022-06-01", "2023-05-31") for c, _ in picks)

        oracle = taken(p.oracle(18, 5))
        randoms = [taken(p.random(18, 5, seed=s)) for s in range(5)]
        assert oracle > max(randoms) and oracle > 0
        assert len(set(map(tuple, (p.random(18, 5, seed=s) for s in range(5))))) > 1
        assert p.random(18, 5, seed=1) == p.random(18, 5, seed=1)
        # what a policy may not pick (inspected lately) the choosers do not pick either
        top = [c for c, _ in p.oracle(18, 5)]
        assert [c for c, _ in p.oracle(18, 3, exclude=top[:2])] == top[2:5]
        assert not set(top) & {c for c, _ in p.random(18, 20, seed=2, exclude=top)}


def test_taken_is_the_truth_of_the_period(tmp_path: Path) -> None:
    with Province(tmp_path, seed=SEED, scale=SCALE) as p:
        p.advance(12)
        with pytest.raises(NotReadyError, match="advance"):
            p.taken(p.world.fac.code[0], "2022-01-01", "2023-01-01")
        code = p.oracle(12, 1)[0][0]
        i = p._index[code]
        whole = p.taken(code, "2022-01-01", "2022-12-31")
        assert whole == pytest.approx(p.state.taken[i, :12, 1:].sum(), abs=0.01)
        half = p.taken(code, "2022-01-01", "2022-01-16")
        assert half == pytest.approx(p.state.taken[i, 0, 1:].sum() * 16 / 31, abs=0.01)
        p.finish()
    fm = pq.read_table(tmp_path / "truth" / "facility_month.parquet").to_pandas()
    assert fm[(fm.fixmedins_code == code) & (fm.month < "2023-01")].amount_taken.sum() == pytest.approx(whole, abs=1)


def test_same_seed_and_picks_give_the_same_files(tmp_path: Path) -> None:
    def campaign(out: Path) -> str:
        with Province(out, seed=SEED, scale=SCALE) as p:
            for m in p.round_months[:3]:
                p.advance(m)
                p.inspect(m, p.oracle(m, 3) + [(c, "random") for c, _ in p.random(m, 2, seed=m)
                                                if c not in {x for x, _ in p.oracle(m, 3)}])
            p.finish()
        return digest(out)

    assert campaign(tmp_path / "a") == campaign(tmp_path / "b")



def test_ingest_accepts_the_export_as_of_a_round(tmp_path: Path) -> None:
    from features.ingest import ensure_demo_key, ingest

    ws = tmp_path / "ws"
    ensure_demo_key(ws)
    with Province(tmp_path / "p", seed=SEED, scale=SCALE) as p:
        p.advance(12)
        p.inspect(12, p.historical(12))
        p.advance(15)
        # `now` stays today: a stay admitted before the cut is in its admission month's part with its
        # discharge and late fee lines, as `simulate` writes it (windows read nothing on or after as_of)
        report = ingest(tmp_path / "p" / "input", ws)
    assert report.status != "failed"
    assert all(t.quarantined == 0 for t in report.tables.values())
    assert report.tables["inspections"].accepted == p.scale.capacity
    assert report.tables["fee_list_d"].accepted == p.counts["fee_list_d"]


def test_an_inspectors_answer_is_the_truth_of_the_line_flipped_by_their_error(tmp_path: Path) -> None:
    import duckdb

    with Province(tmp_path, seed=SEED, scale=SCALE, answers=True) as p:
        p.advance(8)
        fees = duckdb.sql(f"SELECT feedetl_sn, mdtrt_id FROM read_parquet('{tmp_path}/input/fee_list_d/*.parquet') "
                          "ORDER BY feedetl_sn").df()
        fee = fees.assign(hit_level="fee_line")
        visit = fees.drop_duplicates("mdtrt_id").assign(hit_level="visit", feedetl_sn=None)
        asked = pd.concat([fee, visit], ignore_index=True)
        honest = p.answer(asked, 0.0)
        flipped = p.answer(asked, 1.0)
        noisy = p.answer(asked, 0.2, seed=(1,))
        assert (p.answer(asked, 0.2, seed=(1,)) == noisy).all()  # a seed gives the same verdicts
        p.finish()
    lines = duckdb.sql(f"SELECT feedetl_sn, mdtrt_id FROM read_parquet('{tmp_path}/truth/fraud_lines.parquet')").df()
    visits = duckdb.sql(f"SELECT mdtrt_id FROM read_parquet('{tmp_path}/truth/fraud_visits.parquet')").df()
    bad_visits = set(lines["mdtrt_id"]) | set(visits["mdtrt_id"])
    truth = (asked["hit_level"].eq("fee_line") & asked["feedetl_sn"].isin(set(lines["feedetl_sn"]))) | asked[
        "mdtrt_id"].isin(bad_visits)
    assert 0 < truth.sum() < len(asked)  # both kinds of line are asked about
    assert (honest == truth.to_numpy()).all() and (flipped == ~truth.to_numpy()).all()
    assert 0.15 < (noisy != honest).mean() < 0.25
