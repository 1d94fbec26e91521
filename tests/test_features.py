"""Feature pipeline: registry, point-in-time correctness, hand-checked values, peer normalisation, errors."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.snapshot import peer, registry
from features.snapshot.build import build_snapshot, latest_snapshot
from feijian.errors import MissingColumnError, MissingTableError
from tests.builders import Province

AS_OF = date(2024, 1, 1)
CJK = re.compile(r"[\u4e00-\u9fff]")


def make_province() -> Province:
    """Five tertiary general hospitals (one splits stays), one primary clinic; three physicians at H1."""
    p = Province()
    for i in range(1, 6):
        p.facility(f"H{i}", "general", "02", beds=50)
        p.physician(f"D{i}A", f"H{i}")
        p.physician(f"D{i}B", f"H{i}")
    p.physician("D1C", "H1")
    p.facility("C1", "primary", "08", beds=0)
    p.physician("DC1", "C1")
    start = datetime(2023, 1, 10, 9)
    for i in range(1, 6):
        for k in range(8):
            psn = f"P{i}{k:02d}"
            admit = start + timedelta(days=30 * k)
            p.stay(psn, f"H{i}", f"D{i}A", admit, days=4)
            # H1 readmits every patient 3 days after discharge; the others after 40 days
            gap = 3 if i == 1 else 40
            p.stay(psn, f"H{i}", f"D{i}B", admit + timedelta(days=4 + gap), days=4)
            p.visit(psn, f"H{i}", f"D{i}A", admit - timedelta(days=2), lines=[("TRT_IV", 1, 20.0)])
    # H1's third physician bills heavily
    for k in range(10):
        p.visit(f"Q{k}", "H1", "D1C", start + timedelta(days=k), lines=[("SRG_CARD", 1, 9000.0)])
    for k in range(6):
        p.visit(f"C{k}", "C1", "DC1", start + timedelta(days=20 * k), lines=[("DRG_AMOX", 14, 1.5)], gend="2", age=8)
    p.inspection("H2", date(2023, 6, 1), recovered=80_000)
    p.inspection("H2", date(2024, 3, 1), recovered=1_000)  # after as_of: must not count
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    ws = make_province().write(tmp_path_factory.mktemp("ws"))
    snap = build_snapshot(ws, AS_OF, 12)
    return ws, snap.facility.set_index("fixmedins_code"), snap.physician.set_index("dr_code")


# --- registry ---------------------------------------------------------------------------------------


def test_registry_names_unique_labelled_and_families_known() -> None:
    names = [f.name for f in registry.FEATURES]
    assert len(names) == len(set(names))
    for f in registry.FEATURES:
        assert CJK.search(f.label), f"{f.name} has no Chinese label"
        assert f.family in registry.FAMILIES
        assert f.unit and f.description
    assert set(registry.FAMILIES) == {f.family for f in registry.features("facility")}


def test_sql_output_columns_equal_declarations(built: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    _, fac, dr = built
    assert [c for c in fac.columns if c in {f.name for f in registry.FEATURES}] == [
        f.name for f in registry.features("facility")
    ]
    assert set(registry.model_columns("facility")) <= set(fac.columns)
    assert set(registry.model_columns("physician")) <= set(dr.columns)


def test_column_labels_for_derived_columns() -> None:
    assert registry.column_label("readmit_0_7_rate__pct") == "7日内再入院率（同类百分位）"
    with pytest.raises(KeyError):
        registry.get("no_such_feature")


# --- values -----------------------------------------------------------------------------------------


def test_readmission_and_stay_features_by_hand(built: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    _, fac, _ = built
    # H1: 16 admissions, 8 of them 3 days after a discharge; H2: readmissions after 40 days
    assert fac.loc["H1", "n_admissions"] == 16
    assert fac.loc["H1", "readmit_0_7_rate"] == pytest.approx(0.5)
    assert fac.loc["H2", "readmit_0_7_rate"] == 0
    assert fac.loc["H1", "alos"] == pytest.approx(4.0)
    assert fac.loc["H1", "no_treatment_day_share"] == pytest.approx(0.0)
    # H1 is far above its four peers: top of the peer group
    assert fac.loc["H1", "readmit_0_7_rate__pct"] > 0.95
    assert fac.loc["H2", "readmit_0_7_rate__pct"] < 0.5
    assert fac.loc["H1", "readmit_0_7_rate__pz"] > 3


def test_patient_mix_and_prescribing(built: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    _, fac, _ = built
    assert fac.loc["C1", "child_share"] == pytest.approx(1.0)
    assert fac.loc["C1", "female_share"] == pytest.approx(1.0)
    assert fac.loc["C1", "days_supply_per_patient"] == pytest.approx(7.0)  # 14 units × 0.5 day
    assert fac.loc["C1", "over_supply_line_share"] == 0


def test_physician_rollup_and_concentration(built: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    _, fac, dr = built
    h1 = dr[dr["fixmedins_code"] == "H1"]
    assert set(h1.index) == {"D1A", "D1B", "D1C"}
    assert dr.loc["D1C", "dr_amount"] == pytest.approx(90_000.0)
    assert dr.loc["D1C", "dr_patients"] == 10
    top = h1["dr_amount"].max() / h1["dr_amount"].sum()
    assert fac.loc["H1", "top1_physician_share"] == pytest.approx(top)
    assert fac.loc["H1", "n_physicians_billing"] == 3
    assert h1["dr_facility_share"].sum() == pytest.approx(1.0)


def test_inspection_history_stops_at_as_of(built: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    _, fac, _ = built
    assert fac.loc["H2", "prior_inspections"] == 1
    assert fac.loc["H2", "prior_serious_findings"] == 1
    assert fac.loc["H2", "days_since_inspection"] == (AS_OF - date(2023, 6, 1)).days
    assert fac.loc["H3", "days_since_inspection"] == 3650


# --- point in time ----------------------------------------------------------------------------------


def test_later_data_does_not_move_features(tmp_path: Path) -> None:
    """Build, then add and change data dated on/after as_of: every feature stays exactly the same."""
    p = make_province()
    before = build_snapshot(p.write(tmp_path / "a"), AS_OF, 12)

    later = datetime(2024, 1, 1, 0, 0)  # exactly as_of counts as "after"
    for k in range(30):
        p.stay(f"P1{k % 8:02d}", "H2", "D2A", later + timedelta(days=k), days=2)
        p.visit(f"P2{k % 8:02d}", "H3", "D3A", later + timedelta(days=k), lines=[("SRG_CARD", 3, 11000.0)])
    # a stay that began before as_of but ends after it is not complete at as_of
    p.stay("P300", "H3", "D3B", datetime(2023, 12, 30), days=5)
    p.inspection("H4", date(2024, 1, 1), recovered=500_000)
    after = build_snapshot(p.write(tmp_path / "b"), AS_OF, 12)

    pd.testing.assert_frame_equal(before.facility, after.facility)
    pd.testing.assert_frame_equal(before.physician, after.physician)
    assert before.n_evidence == after.n_evidence


def test_snapshot_written_with_meta(built: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    ws, fac, _ = built
    snap = latest_snapshot(ws)
    meta = __import__("json").loads((snap / "meta.json").read_text())
    assert meta["as_of"] == "2024-01-01" and meta["window_months"] == 12
    assert meta["declaration_version"] == registry.declaration_version()
    assert len(meta["fingerprint"]) == 64
    assert pq.read_table(snap / "facility.parquet").num_rows == len(fac)
    assert (snap / "evidence.parquet").exists()


# --- peer normalisation ----------------------------------------------------------------------------


def test_peer_z_and_percentile_within_group() -> None:
    rows = []
    for i, v in enumerate([1.0, 2.0, 3.0, 4.0, 100.0]):
        rows.append(
            {"fixmedins_code": f"T{i}", "peer_group": "general|3", **{f.name: v for f in registry.features("facility")}}
        )
    for i, v in enumerate([50.0, 50.0, 51.0, 49.0, 50.0]):
        rows.append(
            {"fixmedins_code": f"P{i}", "peer_group": "primary|1", **{f.name: v for f in registry.features("facility")}}
        )
    frame = pd.DataFrame(rows)
    stats = peer.fit(frame, "facility")
    out = peer.transform(frame, stats).set_index("fixmedins_code")
    # median 3, MAD 1 → scale 1.4826; 100 is clipped at Z_CLIP
    assert out.loc["T3", "alos__pz"] == pytest.approx(1 / 1.4826)
    assert out.loc["T4", "alos__pz"] == peer.Z_CLIP
    assert out.loc["T2", "alos__pct"] == pytest.approx(0.5)
    # 50 is ordinary among primary peers even though it would be extreme among tertiary ones
    assert abs(out.loc["P0", "alos__pz"]) < 1e-9
    assert out.loc["T4", "alos__pct"] > 0.95
    assert out.loc["P0", "alos__pct"] == pytest.approx(0.5, abs=0.1)


def test_peer_percentiles_ignore_float_noise_in_the_last_bits() -> None:
    """Parallel sums differ between runs in the last bits; equal amounts must keep equal ranks."""
    names = [f.name for f in registry.features("facility")]
    values = [7.3, 7.3, 7.3, 1.0, 2.0, 9.0, 12.5, 7.3]
    noisy = [v * (1 + k * 1e-15) for k, v in enumerate(values)]
    out = []
    for vals in (values, noisy):
        rows = [
            {"fixmedins_code": f"T{i}", "peer_group": "general|3", **dict.fromkeys(names, v)}
            for i, v in enumerate(vals)
        ]
        frame = pd.DataFrame(rows)
        out.append(peer.transform(frame, peer.fit(frame, "facility"))["alos__pct"].to_numpy())
    assert np.array_equal(out[0], out[1])


def test_small_peer_group_falls_back() -> None:
    base = {f.name: 1.0 for f in registry.features("facility")}
    rows = [{"fixmedins_code": f"G{i}", "peer_group": "general|3", **base, "alos": float(i)} for i in range(6)]
    rows.append({"fixmedins_code": "S0", "peer_group": "specialty|3", **base, "alos": 50.0})
    out = peer.transform(pd.DataFrame(rows), peer.fit(pd.DataFrame(rows), "facility")).set_index("fixmedins_code")
    assert np.isfinite(out.loc["S0", "alos__pz"])  # compared with all tier-3 hospitals
    assert out.loc["S0", "alos__pct"] > 0.95


def test_the_scratch_database_is_removed_after_a_build(tmp_path: Path) -> None:
    ws = make_province().write(tmp_path)
    build_snapshot(ws, AS_OF)
    shutil.rmtree(ws / "raw" / "fee_list_d")
    with pytest.raises(MissingTableError):
        build_snapshot(ws, AS_OF)  # a failed build cleans up too
    assert (ws / ".tmp" / "duckdb").is_dir()
    assert not list((ws / ".tmp" / "duckdb").glob("build-*")), "scratch database left behind"


# --- errors -----------------------------------------------------------------------------------------


def test_missing_table_is_named(tmp_path: Path) -> None:
    ws = make_province().write(tmp_path)
    shutil.rmtree(ws / "raw" / "fee_list_d")
    with pytest.raises(MissingTableError, match="fee_list_d"):
        build_snapshot(ws, AS_OF, 12)


def test_missing_column_is_named(tmp_path: Path) -> None:
    ws = make_province().write(tmp_path)
    path = ws / "raw" / "fixmedins" / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["open_beds"]), path)
    with pytest.raises(MissingColumnError, match="open_beds"):
        build_snapshot(ws, AS_OF, 12)


def test_features_do_not_depend_on_the_order_rows_arrive_in(small_province, tmp_path: Path) -> None:
    """Another pseudonym key, or another export order, reorders the rows; the features must stay
    identical to the bit (float sums in a different order differ in the last bits, and equal peers
    then swap ranks, which changed the model between two demo runs of the same seed)."""
    shuffled = tmp_path / "workspace"
    shutil.copytree(small_province.workspace, shuffled)
    rng = np.random.default_rng(0)
    for table in ("fee_list_d", "setl_d", "mdtrt_d"):
        for part in sorted((shuffled / "raw" / table).rglob("*.parquet")):
            data = pq.read_table(part)
            pq.write_table(data.take(rng.permutation(data.num_rows)), part)
    as_of = date.fromisoformat(small_province.meta["next_round_date"])
    a = build_snapshot(small_province.workspace, as_of)
    b = build_snapshot(shuffled, as_of)
    for x, y in ((a.facility, b.facility), (a.physician, b.physician)):
        key = x.columns[0]
        pd.testing.assert_frame_equal(
            x.sort_values(key).reset_index(drop=True), y.sort_values(key).reset_index(drop=True), check_exact=True
        )
