-- Family: volume and growth. Grain: one row per facility × as_of.
-- Reads stg_visit (window and previous window), fixmedins (open_beds). Parameter: $window_days.
WITH win AS (
    SELECT
        fixmedins_code,
        COUNT(*) AS n_visits,
        SUM(CASE WHEN is_inpatient THEN 1 ELSE 0 END) AS n_admissions,
        COUNT(DISTINCT psn_no) AS n_patients,
        SUM(fund_pay) AS fund_pay,
        SUM(CASE WHEN is_inpatient THEN los ELSE 0 END) AS bed_days
    FROM stg_visit
    WHERE in_win
    GROUP BY fixmedins_code
),
prev AS (
    SELECT fixmedins_code, COUNT(*) AS n_visits, SUM(fund_pay) AS fund_pay
    FROM stg_visit
    WHERE NOT in_win
    GROUP BY fixmedins_code
)
SELECT
    win.fixmedins_code,
    win.n_visits,
    win.n_admissions,
    win.n_patients,
    win.fund_pay,
    CASE WHEN COALESCE(prev.fund_pay, 0) > 0 THEN win.fund_pay / prev.fund_pay - 1 ELSE 0 END AS fund_pay_growth,
    CASE WHEN COALESCE(prev.n_visits, 0) > 0 THEN CAST(win.n_visits AS DOUBLE) / prev.n_visits - 1 ELSE 0 END
        AS visits_growth,
    CAST(win.n_admissions AS DOUBLE) / NULLIF(win.n_patients, 0) AS admission_rate,
    CASE WHEN f.open_beds > 0 THEN win.bed_days / (CAST(f.open_beds AS DOUBLE) * $window_days) END
        AS beds_utilisation
FROM win
JOIN fixmedins AS f ON f.fixmedins_code = win.fixmedins_code
LEFT JOIN prev ON prev.fixmedins_code = win.fixmedins_code
