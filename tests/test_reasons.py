"""Reasons agree with the model and fit the facility: every feature × side × facility type, and the demo's."""

from __future__ import annotations

import math

import pytest

from explain.reasons import reason_text, side_of, theme_of
from features.schema import FIXMEDINS_TYPE, NO_INPATIENT_TYPES
from features.snapshot import registry

# (value, median, percentile) on each side of the peers, level with them, and missing
SIDES = {"high": (0.9, 0.3, 0.95), "low": (0.1, 0.3, 0.05), "level": (0.3, 0.3, 0.5), "missing": (None, 0.3, None)}


@pytest.mark.parametrize("feature", [f.name for f in registry.features()])
def test_every_feature_on_every_side_for_every_facility_type_reads_right_or_not_at_all(feature: str) -> None:
    f = registry.get(feature)
    hint = theme_of(feature).hint
    for side, (value, median, pct) in SIDES.items():
        for ftype in FIXMEDINS_TYPE:
            text = reason_text(feature, value, median, pct, hint, facility_type=ftype)
            offered = side in ("high", "low") and f.indicates_risk(side) and f.applies_to(ftype)  # type: ignore[arg-type]
            assert (text is not None) == offered, (feature, side, ftype, text)
            if text is None:
                continue
            assert text.startswith(f.label) and "—" not in text and "与同类持平" not in text
            assert ("高于同类" in text) == (side == "high") and ("低于同类" in text) == (side == "low")
            assert text.endswith(f"提示{f.hint or hint}风险") if (f.hint or hint) else True
    if f.applies == "inpatient":  # no bed-day, stay or admission reasons for a pharmacy or a clinic
        for ftype in NO_INPATIENT_TYPES:
            assert reason_text(feature, 0.9, 0.3, 0.95, hint, facility_type=ftype) is None


def test_the_wrong_readings_seen_on_the_page_are_gone() -> None:
    # fund growth far below peers is not "异常增长"; a level bed use is no reason; a pharmacy has no bed-days
    assert reason_text("fund_pay_growth", -0.373, 0.05, 0.02, theme_of("fund_pay_growth").hint) is None
    assert reason_text("beds_utilisation", 0.0, 0.0, 0.5, "挂床住院") is None
    assert reason_text("top1_physician_share", 0.332, 0.5, 0.2, theme_of("top1_physician_share").hint) is None
    assert reason_text("cost_per_bed_day", None, 300.0, None, "费用结构异常", facility_type="pharmacy") is None
    assert reason_text("alos", 9.0, 6.0, 0.9, "挂床住院", facility_type="pharmacy") is None
    text = reason_text("n_physicians_billing", 2, 6, 0.1, theme_of("n_physicians_billing").hint)
    assert text is not None and "低于同类" in text and "费用集中于少数医师" in text


def test_side_of_uses_the_percentile_when_no_median_is_known() -> None:
    assert side_of(5.0, None, 0.9) == "high" and side_of(5.0, None, 0.1) == "low"
    assert side_of(5.0, None, None) is None and side_of(math.nan, 1.0, 0.9) is None


def test_every_facilitys_reasons_agree_in_sign_with_their_contributions(explainer: object) -> None:
    """For every facility the page can plan: each reason pushes risk up, its lead feature pushes it up
    too, and the side it names is the side of the peers its value is on and a declared risk side."""
    lv = explainer.facilities  # type: ignore[attr-defined]
    S = lv.shap()
    seen = 0
    for i in range(len(lv.frame)):
        row = lv.frame.iloc[i]
        for r in lv.reasons(i, S[i], row=row):
            seen += 1
            f = registry.get(r["feature"])
            assert r["contribution"] > 0 and r["feature_contribution"] > 0, r
            assert r["value"] is not None and f.applies_to(str(row["fixmedins_type"])), r
            side = side_of(r["value"], r["peer_median"], None if r["percentile"] is None else r["percentile"] / 100)
            assert side is not None and f.indicates_risk(side), r  # type: ignore[arg-type]
            assert r["direction"] == ("高于" if side == "high" else "低于")
            assert ("高于同类" if side == "high" else "低于同类") in r["text"]
    assert seen >= 10
    for code in explainer.scored()["fixmedins_code"].head(5):  # type: ignore[attr-defined]
        assert explainer.explain(code)["reasons"], code  # type: ignore[attr-defined]  # the top of the list says why
