-- Family: patient mix. Grain: one row per facility × as_of.
-- Reads stg_visit (window visits) and stg_visit_fee (restricted-item line counts).
WITH v AS (
    SELECT * FROM stg_visit WHERE in_win
),
card_use AS (
    -- visits per card at each facility (one row per facility × person: the distinct counts below
    -- are row counts of this, not COUNT(DISTINCT) over every visit)
    SELECT fixmedins_code, psn_no, COUNT(*) AS n
    FROM v
    GROUP BY fixmedins_code, psn_no
),
psn_spread AS (
    -- how many facilities each person used in the window
    SELECT psn_no, COUNT(*) AS n_fac
    FROM card_use
    GROUP BY psn_no
),
psn_day_candidates AS (
    -- person-days with two or more visits: only these can span two facilities
    SELECT psn_no, visit_day
    FROM v
    GROUP BY psn_no, visit_day
    HAVING COUNT(*) >= 2
),
psn_day AS (
    -- person-days with visits at two or more facilities
    SELECT v.psn_no, v.visit_day
    FROM v
    JOIN psn_day_candidates AS c ON c.psn_no = v.psn_no AND c.visit_day = v.visit_day
    GROUP BY v.psn_no, v.visit_day
    HAVING COUNT(DISTINCT v.fixmedins_code) >= 2
),
fac_card AS (
    SELECT fixmedins_code, COUNT(*) AS n_patients
    FROM card_use
    GROUP BY fixmedins_code
),
fac_patients AS (
    SELECT c.fixmedins_code,
           AVG(CASE WHEN s.n_fac >= 4 THEN 1.0 ELSE 0.0 END) AS multi_facility_patient_share,
           SUM(CASE WHEN c.n > 30 THEN c.n ELSE 0 END) AS heavy_card_visits
    FROM card_use AS c
    JOIN psn_spread AS s ON s.psn_no = c.psn_no
    GROUP BY c.fixmedins_code
),
fac_visits AS (
    SELECT
        v.fixmedins_code,
        COUNT(*) AS n_visits,
        AVG(CASE WHEN v.gend = '2' THEN 1.0 ELSE 0.0 END) AS female_share,
        AVG(CASE WHEN v.age < 15 THEN 1.0 ELSE 0.0 END) AS child_share,
        AVG(CASE WHEN v.age >= 65 THEN 1.0 ELSE 0.0 END) AS elderly_share,
        AVG(CASE WHEN d.psn_no IS NOT NULL THEN 1.0 ELSE 0.0 END) AS same_day_multi_facility_share,
        SUM(f.n_sex_mismatch) / NULLIF(CAST(SUM(f.n_sex_lines) AS DOUBLE), 0) AS sex_item_mismatch_rate,
        SUM(f.n_age_mismatch) / NULLIF(CAST(SUM(f.n_age_lines) AS DOUBLE), 0) AS age_item_mismatch_rate
    FROM v
    LEFT JOIN psn_day AS d ON d.psn_no = v.psn_no AND d.visit_day = v.visit_day
    LEFT JOIN stg_visit_fee AS f ON f.mdtrt_id = v.mdtrt_id
    GROUP BY v.fixmedins_code
)
SELECT
    fv.fixmedins_code,
    fv.female_share,
    fv.child_share,
    fv.elderly_share,
    fv.sex_item_mismatch_rate,
    fv.age_item_mismatch_rate,
    CAST(fv.n_visits AS DOUBLE) / NULLIF(fc.n_patients, 0) AS visits_per_patient,
    fp.multi_facility_patient_share,
    fv.same_day_multi_facility_share,
    fp.heavy_card_visits / CAST(fv.n_visits AS DOUBLE) AS heavy_card_share
FROM fac_visits AS fv
JOIN fac_patients AS fp ON fp.fixmedins_code = fv.fixmedins_code
JOIN fac_card AS fc ON fc.fixmedins_code = fv.fixmedins_code
