-- Family: rule hits, from the evidence table the rule base wrote for this window.
-- Amounts are summed as DECIMAL: exact, so the sums do not depend on row order (see staging.sql).
-- Grain: one row per facility × as_of. Reads evidence, stg_visit, stg_visit_fee.
-- Parameters: the kinds each hit_*_share counts ($hit_admission_kinds, …), which each rule kind
-- declares (features/rules/kinds.py, hit_share).
WITH base AS (
    SELECT s.fixmedins_code,
           COUNT(*) AS n_visits,
           SUM(CASE WHEN s.is_inpatient THEN 1 ELSE 0 END) AS n_admissions,
           SUM(f.fee_total) AS fee_total,
           SUM(f.fee_drug) AS fee_drug
    FROM stg_visit AS s
    LEFT JOIN stg_visit_fee AS f ON f.mdtrt_id = s.mdtrt_id
    WHERE s.in_win
    GROUP BY s.fixmedins_code
),
hits AS (
    SELECT
        fixmedins_code,
        COUNT(*) AS rule_hit_lines,
        SUM(CAST(amount_at_risk AS DECIMAL(38, 4))) AS rule_hit_amount,
        COUNT(DISTINCT rule_id) AS n_rules_hit,
        COUNT(DISTINCT CASE WHEN kind IN $hit_admission_kinds THEN mdtrt_id END) AS adm_hit,
        COUNT(DISTINCT CASE WHEN kind IN $hit_restricted_kinds THEN mdtrt_id END) AS restricted_hit,
        SUM(CASE WHEN kind IN $hit_charge_kinds THEN CAST(amount_at_risk AS DECIMAL(38, 4)) ELSE 0 END) AS charge_amt,
        SUM(CASE WHEN kind IN $hit_drug_kinds THEN CAST(amount_at_risk AS DECIMAL(38, 4)) ELSE 0 END) AS drug_amt,
        COUNT(DISTINCT CASE WHEN kind IN $hit_visit_pattern_kinds THEN mdtrt_id END) AS pattern_hit
    FROM evidence
    GROUP BY fixmedins_code
)
SELECT
    base.fixmedins_code,
    COALESCE(hits.rule_hit_lines, 0) AS rule_hit_lines,
    COALESCE(hits.rule_hit_amount, 0) AS rule_hit_amount,
    COALESCE(hits.rule_hit_amount, 0) / NULLIF(base.fee_total, 0) AS rule_hit_amount_share,
    COALESCE(hits.n_rules_hit, 0) AS n_rules_hit,
    COALESCE(hits.adm_hit, 0) / NULLIF(CAST(base.n_admissions AS DOUBLE), 0) AS hit_admission_share,
    COALESCE(hits.restricted_hit, 0) / NULLIF(CAST(base.n_visits AS DOUBLE), 0) AS hit_restricted_share,
    COALESCE(hits.charge_amt, 0) / NULLIF(base.fee_total, 0) AS hit_charge_share,
    COALESCE(hits.drug_amt, 0) / NULLIF(base.fee_drug, 0) AS hit_drug_share,
    COALESCE(hits.pattern_hit, 0) / NULLIF(CAST(base.n_visits AS DOUBLE), 0) AS hit_visit_pattern_share
FROM base
LEFT JOIN hits ON hits.fixmedins_code = base.fixmedins_code
