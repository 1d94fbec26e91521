"""Collusion rings and their honest look-alikes (simulator.rings): truth at ring level, the trace a
ring leaves across its members, look-alikes that are honest, and `rings="none"` leaving no trace."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from feijian.errors import InputError
from simulator import simulate
from simulator.rings import parse_rings

_SEED, _SCALE = 3, 40


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rings")
    simulate(out, seed=_SEED, scale=_SCALE)
    return out


@pytest.fixture(scope="module")
def con(province: Path) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.sql(f"create view mdtrt_d as select * from read_parquet('{province}/input/mdtrt_d/*.parquet')")
    for t in ("fraud_visits", "rings", "schemes"):
        c.sql(f"create view truth_{t} as select * from read_parquet('{province}/truth/{t}.parquet')")
    # one row per (group, person) and per (group, facility)
    c.sql("create view members as select ring_id, kind, honest, unnest(string_split(persons, ';')) as psn_no "
          "from truth_rings")
    c.sql("create view places as select ring_id, unnest(string_split(facilities, ';')) as fixmedins_code "
          "from truth_rings")
    # every visit a group's person made at one of the group's facilities, with its truth pattern
    c.sql("""create view group_visits as
             select m.ring_id, m.kind, m.honest, v.mdtrt_id, v.psn_no, v.fixmedins_code,
                    cast(v.begntime as date) as day, f.pattern
             from members m join mdtrt_d v using (psn_no) join places p
               on p.ring_id = m.ring_id and p.fixmedins_code = v.fixmedins_code
             left join truth_fraud_visits f using (mdtrt_id)""")
    return c


def test_rings_and_lookalikes_are_in_the_truth(province: Path) -> None:
    rings = pd.read_parquet(province / "truth" / "rings.parquet")
    assert list(rings.columns) == ["ring_id", "kind", "honest", "facilities", "physicians", "persons", "start_month",
                                   "end_month", "amount_taken"]
    pools = rings[rings["kind"] == "card_pool"]
    looks = rings[rings["honest"]]
    assert len(pools) >= 2 and pools["ring_id"].str.match(r"^R\d{3}$").all() and not pools["honest"].any()
    assert (pools["amount_taken"] > 0).all()
    assert set(looks["kind"]) == {"family", "chronic_pharmacy"}
    assert looks["ring_id"].str.match(r"^L\d{3}$").all() and (looks["amount_taken"] == 0).all()
    assert looks["physicians"].isna().all() and pools["physicians"].notna().all()
    assert pools["facilities"].str.split(";").map(len).between(2, 5).all()
    assert pools["persons"].str.split(";").map(len).between(12, 45).all()
    persons = set(pd.read_parquet(province / "truth" / "persons.parquet", columns=["psn_no"])["psn_no"])
    assert all(set(p.split(";")) <= persons for p in rings["persons"])
    # the members' scheme rows carry the ring id, come after the ordinary schemes, and match the facilities
    sch = pd.read_parquet(province / "truth" / "schemes.parquet")
    ring_rows = sch[sch["ring_id"].notna()]
    assert (ring_rows["pattern"] == "ring").all() and sch["ring_id"].isna().sum() == (sch["pattern"] != "ring").sum()
    assert ring_rows.index.min() > sch[sch["ring_id"].isna()].index.max()
    for r in pools.itertuples():
        got = ring_rows[ring_rows["ring_id"] == r.ring_id]
        assert ";".join(got["fixmedins_code"]) == r.facilities
        assert set(got["start_month"]) == {r.start_month} and set(got["end_month"]) == {r.end_month}
    # amount_taken is the ring pattern's taken amount at its members
    fm = pd.read_parquet(province / "truth" / "facility_month.parquet")
    assert pools["amount_taken"].sum() == pytest.approx(fm.loc[fm["pattern"] == "ring", "amount_taken"].sum(), abs=1)
    meta = json.loads((province / "meta.json").read_text(encoding="utf-8"))
    assert meta["rings"] == "planted"


def test_a_ring_pool_is_billed_at_several_members_within_a_day(con: duckdb.DuckDBPyConnection) -> None:
    ring = con.sql("select * from group_visits where kind = 'card_pool' and pattern = 'ring'").df()
    assert len(ring) > 100
    # every ring visit is in fraud_visits (the join gave its pattern) and of a pool person at a member
    assert (con.sql("select count(*) from truth_fraud_visits where pattern = 'ring'").fetchall()[0][0] == len(ring))
    # persons whose card appears at ≥ 2 members on the same or adjacent days
    pairs = con.sql("""
        select distinct a.ring_id, a.psn_no from group_visits a join group_visits b
          on a.ring_id = b.ring_id and a.psn_no = b.psn_no and a.fixmedins_code < b.fixmedins_code
         and abs(a.day - b.day) <= 1
        where a.pattern = 'ring' and b.pattern = 'ring'""").df()
    # the clinics bill through their colluding physician
    dr = con.sql("""select v.atddr_no, r.physicians from group_visits g join mdtrt_d v using (mdtrt_id)
                    join truth_rings r using (ring_id) where g.pattern = 'ring' and v.med_type = '11'""").df()
    assert len(dr) and all(a in p.split(";") for a, p in zip(dr["atddr_no"], dr["physicians"], strict=True))
    per_ring = pairs.groupby("ring_id").size()
    assert len(per_ring) == con.sql("select count(*) from truth_rings where kind = 'card_pool'").fetchall()[0][0]
    assert (per_ring >= 5).all(), per_ring


def test_lookalikes_look_alike_but_are_honest(con: duckdb.DuckDBPyConnection) -> None:
    looks = con.sql("select * from group_visits where honest").df()
    assert looks["pattern"].isna().all(), looks[looks["pattern"].notna()].head()
    assert set(looks["kind"]) == {"family", "chronic_pharmacy"}
    # the same cards at both of the group's facilities on the same day
    both = looks.groupby(["ring_id", "psn_no", "day"])["fixmedins_code"].nunique()
    per_group = (both >= 2).groupby("ring_id").sum()
    assert len(per_group) == len(looks["ring_id"].unique()) and (per_group >= 20).all(), per_group
    # a household is seen every month, together
    fam = looks[looks["kind"] == "family"]
    months = fam.assign(month=pd.to_datetime(fam["day"]).dt.to_period("M")).groupby("ring_id")["month"].nunique()
    assert (months == 36).all(), months


def test_same_seed_same_bytes_with_rings(province: Path, tmp_path: Path) -> None:
    simulate(tmp_path, seed=_SEED, scale=_SCALE)
    files = sorted(p.relative_to(province) for p in province.rglob("*") if p.is_file())
    assert Path("truth/rings.parquet") in files
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for f in files:
        assert (province / f).read_bytes() == (tmp_path / f).read_bytes(), f


def test_no_rings_leaves_no_trace(tmp_path: Path) -> None:
    simulate(tmp_path, seed=_SEED, scale=_SCALE, rings="none")
    truth = tmp_path / "truth"
    assert not (truth / "rings.parquet").exists()
    assert "ring_id" not in pq.read_schema(truth / "schemes.parquet").names
    for name in ("schemes", "fraud_visits", "fraud_lines", "facility_month", "physician_month"):
        assert "ring" not in set(pd.read_parquet(truth / f"{name}.parquet", columns=["pattern"])["pattern"]), name
    insp = pd.read_parquet(tmp_path / "input" / "inspections", columns=["violation_types"])
    assert not insp["violation_types"].fillna("").str.contains("ring").any()
    assert "rings" not in json.loads((tmp_path / "meta.json").read_text(encoding="utf-8"))


def test_the_rings_option_is_checked() -> None:
    assert parse_rings(" Planted ") == "planted" and parse_rings("none") == "none"
    with pytest.raises(InputError, match=r"--rings 'some'.*planted or none"):
        parse_rings("some")
