"""Explanations: SHAP equals shap's, reasons state the right numbers, evidence links exist, caching."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shap

from explain import contrib as cb
from features.snapshot.registry import PEER_PCT, get
from feijian.errors import InputError
from serving.explain import DeclarationMismatchError, Explainer, UnknownTargetError
from tests.serving_setup import N_BAD, Setup


def test_pred_contrib_equals_shap_tree_explainer(explainer: Explainer) -> None:
    lv = explainer.facilities
    X = lv.frame[lv.columns].astype(float)
    expected = shap.TreeExplainer(explainer.bundle.facility_risk).shap_values(X)
    expected = expected[1] if isinstance(expected, list) else expected
    np.testing.assert_allclose(lv.shap(), expected, atol=1e-6)
    # local accuracy: contributions + bias = the raw score
    raw = explainer.bundle.facility_risk.predict(X, raw_score=True)
    total = lv.shap().sum(axis=1) + lv.frame[cb.SHAP_PREFIX + cb.BIAS].to_numpy()
    np.testing.assert_allclose(total, raw, atol=1e-6)


def test_scored_ranks_the_planted_facilities_first(explainer: Explainer) -> None:
    s = explainer.scored()
    assert len(s) == 40 and s["fixmedins_code"].is_unique
    assert set(s["fixmedins_code"].head(N_BAD)) == {f"B{i:02d}" for i in range(1, N_BAD + 1)}
    assert (s["recovery_low"] <= s["expected_recovery"] + 1e-9).all()
    assert (s["expected_recovery"] <= s["recovery_high"] + 1e-9).all()
    assert s["fixmedins_name"].str.startswith("测试机构").all()
    assert all(len(r) >= 1 for r in s["top_reasons"].head(N_BAD))
    assert s.attrs["snapshot_id"] == explainer.snapshot_id


def test_reason_states_value_peer_median_and_percentile(explainer: Explainer, bundled: Setup) -> None:
    x = explainer.explain("B01")
    facility = pd.read_parquet(bundled.snapshot / "facility.parquet").set_index("fixmedins_code")
    assert x["reasons"], "a planted facility must have reasons"
    for r in x["reasons"]:
        f = get(r["feature"])
        value = facility.at["B01", r["feature"]]
        peers = facility[facility["peer_group"] == facility.at["B01", "peer_group"]][r["feature"]].dropna()
        median = float(np.median(peers))
        assert r["value"] == pytest.approx(value)
        assert r["peer_median"] == pytest.approx(median)
        pct = round(100 * facility.at["B01", r["feature"] + PEER_PCT])
        assert f"{f.label} {f.render(value)}" in r["text"]
        assert f"同类同级机构中位数 {f.render(median)}" in r["text"]
        assert f"第{pct}百分位" in r["text"]
        assert r["direction"] == ("高于" if value > median else "低于" if value < median else "持平")
        assert "提示" in r["text"] and "骗保" not in r["text"]
    assert x["reasons"] == sorted(x["reasons"], key=lambda r: -r["contribution"])
    # the split stays are what separates B01: a readmission-related reason links the readmission rule
    linked = {e["rule_id"] for r in x["reasons"] for e in r["evidence"]}
    assert "R-ZY-01" in linked


def test_readmission_reason_text_by_hand(explainer: Explainer) -> None:
    lv = explainer.facilities
    i = lv.row("B01")
    values = np.zeros(len(lv.columns))
    values[lv.columns.index("readmit_0_7_rate")] = 1.0  # force the readmission theme to lead
    (r,) = lv.reasons(i, values)
    row = lv.frame.iloc[i]
    assert r["theme"] == "readmission" and r["feature"] == "readmit_0_7_rate"
    assert re.fullmatch(
        r"7日内再入院率 \d+\.\d%，同类同级机构中位数 \d+\.\d%（第\d+百分位），高于同类，提示分解住院风险", r["text"]
    ), r["text"]
    assert f"{100 * row['readmit_0_7_rate']:.1f}%" in r["text"]


def test_every_linked_evidence_row_exists(explainer: Explainer, bundled: Setup) -> None:
    ev = pd.read_parquet(bundled.snapshot / "evidence.parquet")
    keys = set(zip(ev["rule_id"], ev["fixmedins_code"], ev["mdtrt_id"], ev["feedetl_sn"].fillna(""), strict=True))
    n = 0
    for code in ("B01", "B02", "G17"):
        x = explainer.explain(code)
        for link in [e for r in x["reasons"] for e in r["evidence"]] + x["evidence_summary"]:
            assert link["n_hits"] == int(((ev["fixmedins_code"] == code) & (ev["rule_id"] == link["rule_id"])).sum())
            for row in link["rows"]:
                assert (link["rule_id"], code, row["mdtrt_id"], row["feedetl_sn"] or "") in keys
                n += 1
    assert n > 0
    assert explainer.evidence("G17", "R-XB-01")["rule_id"].eq("R-XB-01").all()
    assert len(explainer.evidence("G17", "R-XB-01")) == 2


def test_unknown_codes_are_named(explainer: Explainer) -> None:
    with pytest.raises(UnknownTargetError, match="NOPE") as exc:
        explainer.explain("NOPE")
    assert isinstance(exc.value, InputError)
    with pytest.raises(InputError, match="R-XX-99"):
        explainer.evidence("B01", "R-XX-99")


def test_history_stops_at_as_of_and_physicians_are_ranked(explainer: Explainer) -> None:
    assert explainer.explain("B01")["inspections"] == []  # its only inspection is after as_of
    (h,) = explainer.explain("G16")["inspections"]
    assert h["amount_recovered"] == 90_000
    docs = explainer.explain("B01")["physicians"]
    assert [d["dr_code"] for d in docs] and sorted(d["dr_code"] for d in docs) == ["B01D1", "B01D2"]
    assert docs[0]["exposure"] >= docs[-1]["exposure"]  # ranked by exposure: facility risk × billing
    p_fac = explainer.explain("B01")["risk"]["p_serious"]
    assert all(d["exposure"] == pytest.approx(p_fac * d["amount"]) for d in docs)
    p = explainer.explain_physician("B01D2")
    assert p["risk"]["p_risk"] is not None
    assert "R-ZY-01" in {e["rule_id"] for e in p["evidence_summary"]}


def test_declaration_mismatch_is_refused(bundled: Setup) -> None:
    import copy

    other = copy.copy(bundled.bundle)
    other.features = {**bundled.bundle.features, "declaration_version": "000000000000"}
    with pytest.raises(DeclarationMismatchError, match="000000000000"):
        Explainer.build(bundled.workspace, other)


def test_contributions_are_cached(explainer: Explainer, bundled: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = cb.cache_dir(bundled.workspace, explainer.snapshot_id, explainer.model_version)
    assert (folder / "facility.parquet").is_file()

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("contributions recomputed although cached")

    monkeypatch.setattr(cb, "contributions", boom)
    again = Explainer.build(bundled.workspace, bundled.bundle)
    np.testing.assert_array_equal(again.facilities.shap(), explainer.facilities.shap())


def test_rule_kinds_carry_the_themes_and_shares_explain_reads() -> None:
    from explain.reasons import THEMES
    from features.rules.kinds import HIT_SHARES, KINDS, kinds_counted_in

    ids = {t.id for t in THEMES}
    assert {k.theme for k in KINDS.values() if k.theme} <= ids
    for share in HIT_SHARES:
        get(share)  # each share is a declared feature
        theme = next(t for t in THEMES if share in t.features)
        assert set(kinds_counted_in(share)) <= set(theme.kinds), share


def test_evidence_a_past_inspection_already_covered_is_marked_and_kept_out_of_the_uncovered_total() -> None:
    from explain.evidence_links import evidence_totals, mark_covered

    ev = pd.DataFrame({
        "rule_id": ["R1", "R1", "R2"], "amount_at_risk": [100.0, 40.0, 7.0],
        "event_time": pd.to_datetime(["2024-02-10", "2024-08-01", "2023-12-31"]),
    })  # fmt: skip
    insp = pd.DataFrame({
        "insp_id": ["I1", "I2"], "insp_date": [date(2024, 5, 3), date(2024, 3, 1)],
        "period_begn": [date(2024, 1, 1), date(2023, 1, 1)], "period_end": [date(2024, 3, 31), date(2023, 12, 31)],
    })  # fmt: skip
    marked = mark_covered(ev, insp)
    assert list(marked["covered_by"]) == ["已于 2024-05-03 检查覆盖（I1）", None, "已于 2024-03-01 检查覆盖（I2）"]
    assert evidence_totals(marked) == {"n_hits": 3, "n_covered": 2, "amount_at_risk": 147.0,
                                       "amount_covered": 107.0, "amount_uncovered": 40.0}  # fmt: skip
    assert mark_covered(ev, insp.head(0))["covered_by"].isna().all()


def test_explanations_mark_covered_evidence_only_from_inspections_before_as_of(explainer: Explainer) -> None:
    for code in ("G14", "B01"):  # G14 inspected 60 days before as_of; B01 only after it
        ev = explainer.evidence(code)
        x = explainer.explain(code)
        covered = ev["covered_by"].notna()
        assert x["evidence_totals"]["n_covered"] == int(covered.sum())
        assert x["evidence_totals"]["amount_uncovered"] == pytest.approx(ev.loc[~covered, "amount_at_risk"].sum())
        if code == "B01":
            assert not covered.any()
        per_rule = {s["rule_id"]: s for s in x["evidence_summary"]}
        assert sum(s["n_covered"] for s in per_rule.values()) == int(covered.sum())
