-- Family: cost structure. Grain: one row per facility × as_of.
-- Reads stg_visit (window visits) joined to stg_visit_fee (their fee lines summed).
WITH v AS (
    SELECT s.fixmedins_code, s.is_inpatient, s.los, f.*
    FROM stg_visit AS s
    JOIN stg_visit_fee AS f ON f.mdtrt_id = s.mdtrt_id
    WHERE s.in_win
)
SELECT
    fixmedins_code,
    SUM(fee_drug) / NULLIF(SUM(fee_total), 0) AS drug_share,
    SUM(fee_test) / NULLIF(SUM(fee_total), 0) AS test_share,
    SUM(fee_consumable) / NULLIF(SUM(fee_total), 0) AS consumable_share,
    SUM(fee_treatment) / NULLIF(SUM(fee_total), 0) AS treatment_share,
    SUM(fee_selfpay) / NULLIF(SUM(fee_total), 0) AS selfpay_item_share,
    SUM(CASE WHEN NOT is_inpatient THEN fee_total END)
        / NULLIF(SUM(CASE WHEN NOT is_inpatient THEN 1 ELSE 0 END), 0) AS cost_per_outpatient_visit,
    SUM(CASE WHEN is_inpatient THEN fee_total END)
        / NULLIF(SUM(CASE WHEN is_inpatient THEN 1 ELSE 0 END), 0) AS cost_per_admission,
    SUM(CASE WHEN is_inpatient THEN fee_total END)
        / NULLIF(SUM(CASE WHEN is_inpatient THEN los ELSE 0 END), 0) AS cost_per_bed_day,
    CAST(SUM(n_test_lines) AS DOUBLE) / COUNT(*) AS tests_per_visit
FROM v
GROUP BY fixmedins_code
