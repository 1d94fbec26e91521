-- Family: inpatient behaviour. Grain: one row per facility × as_of.
-- Reads stg_visit (inpatient window visits; days_since_discharge looks back into the previous window),
-- stg_stay_days (bed and treatment days), win_fee bed-fee lines (daily census), fixmedins (open_beds).
-- Parameters: $mild_diagnoses (ICD-10 categories: features.facts.MILD_DIAGNOSES), $window_start, $as_of.
WITH adm AS (
    SELECT s.*, d.bed_days, d.treat_days
    FROM stg_visit AS s
    LEFT JOIN stg_stay_days AS d ON d.mdtrt_id = s.mdtrt_id
    WHERE s.in_win AND s.is_inpatient
),
census AS (
    -- billed bed-days per facility and day, from bed-fee lines only
    SELECT fixmedins_code, CAST(fee_ocur_time AS DATE) AS d, COUNT(*) AS beds_billed
    FROM win_fee
    WHERE med_chrgitm_type = '01' AND fee_ocur_time >= $window_start AND fee_ocur_time < $as_of
    GROUP BY fixmedins_code, CAST(fee_ocur_time AS DATE)
),
over_capacity AS (
    SELECT c.fixmedins_code, SUM(CASE WHEN c.beds_billed > f.open_beds THEN 1 ELSE 0 END) AS over_capacity_days
    FROM census AS c
    JOIN fixmedins AS f ON f.fixmedins_code = c.fixmedins_code
    GROUP BY c.fixmedins_code
)
SELECT
    adm.fixmedins_code,
    AVG(adm.los) AS alos,
    AVG(CASE WHEN adm.los <= 2 THEN 1.0 ELSE 0.0 END) AS short_stay_share,
    AVG(CASE WHEN adm.days_since_discharge BETWEEN 0 AND 7 THEN 1.0 ELSE 0.0 END) AS readmit_0_7_rate,
    AVG(CASE WHEN adm.days_since_discharge BETWEEN 8 AND 15 THEN 1.0 ELSE 0.0 END) AS readmit_8_15_rate,
    AVG(CASE WHEN SUBSTRING(adm.dscg_maindiag_code, 1, 3) IN $mild_diagnoses AND adm.los <= 4 THEN 1.0 ELSE 0.0 END)
        AS mild_admission_share,
    SUM(GREATEST(COALESCE(adm.bed_days, 0) - COALESCE(adm.treat_days, 0), 0))
        / NULLIF(CAST(SUM(adm.bed_days) AS DOUBLE), 0) AS no_treatment_day_share,
    MAX(COALESCE(oc.over_capacity_days, 0)) AS over_capacity_days
FROM adm
LEFT JOIN over_capacity AS oc ON oc.fixmedins_code = adm.fixmedins_code
GROUP BY adm.fixmedins_code
