-- Physicians: one row per physician × as_of (physicians who billed or attended in the window).
-- Reads win_fee (window lines, a second pass grouped by physician × patient), catalog, stg_visit
-- (admissions attended), evidence (rule hits by billing physician), dr_info, fixmedins.
-- Peer group: department × facility tier (an internist at a tertiary hospital is compared with
-- tertiary internists).
WITH lines AS (
    SELECT
        f.bilg_dr_codg AS dr_code, f.psn_no, f.det_item_fee_sumamt AS amt,
        CASE WHEN f.list_type IN ('101', '102') THEN f.det_item_fee_sumamt ELSE 0 END AS drug_amt,
        CASE WHEN f.med_chrgitm_type IN ('03', '04') THEN f.det_item_fee_sumamt ELSE 0 END AS test_amt,
        CASE WHEN f.list_type IN ('101', '102') THEN f.cnt * COALESCE(c.days_per_unit, 0) ELSE 0 END AS supply
    FROM win_fee AS f
    LEFT JOIN catalog AS c ON c.med_list_codg = f.med_list_codg
    WHERE f.bilg_dr_codg IS NOT NULL AND f.fee_ocur_time >= $window_start AND f.fee_ocur_time < $as_of
),
per_patient AS (
    SELECT dr_code, psn_no, SUM(amt) AS amt, SUM(drug_amt) AS drug_amt, SUM(test_amt) AS test_amt,
           SUM(supply) AS supply, COUNT(*) AS n_lines, MAX(CASE WHEN drug_amt <> 0 THEN 1 ELSE 0 END) AS got_drug
    FROM lines
    GROUP BY dr_code, psn_no
),
billing AS (
    SELECT dr_code, SUM(amt) AS dr_amount, SUM(n_lines) AS dr_lines, COUNT(*) AS dr_patients,
           SUM(drug_amt) AS drug_amt, SUM(test_amt) AS test_amt, SUM(supply) AS supply,
           SUM(got_drug) AS drug_patients
    FROM per_patient
    GROUP BY dr_code
),
attending AS (
    SELECT atddr_no AS dr_code,
           COUNT(*) AS dr_admissions,
           AVG(CASE WHEN days_since_discharge BETWEEN 0 AND 7 THEN 1.0 ELSE 0.0 END) AS dr_readmit_0_7_rate,
           AVG(CASE WHEN los <= 2 THEN 1.0 ELSE 0.0 END) AS dr_short_stay_share
    FROM stg_visit
    WHERE in_win AND is_inpatient AND atddr_no IS NOT NULL
    GROUP BY atddr_no
),
hits AS (
    SELECT dr_code, SUM(CAST(amount_at_risk AS DECIMAL(38, 4))) AS dr_rule_hit_amount, COUNT(DISTINCT rule_id) AS dr_n_rules_hit
    FROM evidence
    WHERE dr_code IS NOT NULL
    GROUP BY dr_code
),
active AS (
    SELECT dr_code FROM billing
    UNION
    SELECT dr_code FROM attending
),
joined AS (
    SELECT
        d.dr_code, d.fixmedins_code, d.dept,
        d.dept || '|' || CAST(COALESCE(t.hosp_tier, 0) AS VARCHAR) AS peer_group,
        COALESCE(b.dr_amount, 0) AS dr_amount,
        COALESCE(b.dr_lines, 0) AS dr_lines,
        COALESCE(b.dr_patients, 0) AS dr_patients,
        b.dr_amount / NULLIF(b.dr_patients, 0) AS dr_amount_per_patient,
        b.drug_amt / NULLIF(b.dr_amount, 0) AS dr_drug_share,
        b.test_amt / NULLIF(b.dr_amount, 0) AS dr_test_share,
        COALESCE(a.dr_admissions, 0) AS dr_admissions,
        a.dr_readmit_0_7_rate,
        a.dr_short_stay_share,
        b.supply / NULLIF(b.drug_patients, 0) AS dr_days_supply_per_patient,
        COALESCE(h.dr_rule_hit_amount, 0) AS dr_rule_hit_amount,
        COALESCE(h.dr_rule_hit_amount, 0) / NULLIF(b.dr_amount, 0) AS dr_rule_hit_share,
        COALESCE(h.dr_n_rules_hit, 0) AS dr_n_rules_hit
    FROM active
    JOIN dr_info AS d ON d.dr_code = active.dr_code
    LEFT JOIN fac_tier AS t ON t.fixmedins_code = d.fixmedins_code
    LEFT JOIN billing AS b ON b.dr_code = active.dr_code
    LEFT JOIN attending AS a ON a.dr_code = active.dr_code
    LEFT JOIN hits AS h ON h.dr_code = active.dr_code
)
SELECT
    joined.*,
    joined.dr_amount / NULLIF(SUM(joined.dr_amount) OVER (PARTITION BY joined.fixmedins_code), 0)
        AS dr_facility_share
FROM joined
