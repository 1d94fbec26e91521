-- Family: temporal shape against the facility's own past. Grain: one row per facility × as_of.
-- Reads stg_visit (both windows; fund payout by visit month) and stg_visit_fee (fee mix).
-- Parameters: $window_start, $recent_start (as_of − 3 months), $recent_prev_start (as_of − 6 months).
WITH monthly AS (
    SELECT fixmedins_code,
           DATE_TRUNC('month', visit_day) AS m,
           MAX(CASE WHEN in_win THEN 1 ELSE 0 END) AS in_win,
           SUM(fund_pay) AS fund_pay
    FROM stg_visit
    GROUP BY fixmedins_code, DATE_TRUNC('month', visit_day)
),
own_past AS (
    SELECT fixmedins_code, MEDIAN(CAST(fund_pay AS DOUBLE)) AS past_median
    FROM monthly
    WHERE in_win = 0
    GROUP BY fixmedins_code
),
shift AS (
    SELECT m.fixmedins_code, MAX(m.fund_pay) / NULLIF(MAX(p.past_median), 0) AS level_shift
    FROM monthly AS m
    JOIN own_past AS p ON p.fixmedins_code = m.fixmedins_code
    WHERE m.in_win = 1
    GROUP BY m.fixmedins_code
),
recent AS (
    SELECT fixmedins_code,
           SUM(CASE WHEN visit_day >= $recent_start THEN fund_pay ELSE 0 END) AS last3,
           SUM(CASE WHEN visit_day >= $recent_prev_start AND visit_day < $recent_start THEN fund_pay ELSE 0 END)
               AS prev3
    FROM stg_visit
    WHERE visit_day >= $recent_prev_start
    GROUP BY fixmedins_code
),
mix AS (
    SELECT s.fixmedins_code,
           CASE WHEN s.visit_day >= $recent_start THEN 1 ELSE 0 END AS is_recent,
           SUM(f.fee_drug) AS drug, SUM(f.fee_test) AS test, SUM(f.fee_consumable) AS consumable,
           SUM(f.fee_treatment) AS treatment, SUM(f.fee_selfpay) AS selfpay,
           SUM(f.fee_total) AS total
    FROM stg_visit AS s
    JOIN stg_visit_fee AS f ON f.mdtrt_id = s.mdtrt_id
    GROUP BY s.fixmedins_code, CASE WHEN s.visit_day >= $recent_start THEN 1 ELSE 0 END
),
mix_shares AS (
    SELECT fixmedins_code, is_recent,
           drug / NULLIF(total, 0) AS p_drug, test / NULLIF(total, 0) AS p_test,
           consumable / NULLIF(total, 0) AS p_cons, treatment / NULLIF(total, 0) AS p_treat,
           selfpay / NULLIF(total, 0) AS p_self,
           (total - drug - test - consumable - treatment) / NULLIF(total, 0) AS p_other
    FROM mix
),
mix_shift AS (
    SELECT r.fixmedins_code,
           0.5 * (ABS(r.p_drug - b.p_drug) + ABS(r.p_test - b.p_test) + ABS(r.p_cons - b.p_cons)
                  + ABS(r.p_treat - b.p_treat) + ABS(r.p_other - b.p_other)) AS code_mix_shift
    FROM mix_shares AS r
    JOIN mix_shares AS b ON b.fixmedins_code = r.fixmedins_code AND b.is_recent = 0
    WHERE r.is_recent = 1
)
SELECT
    recent.fixmedins_code,
    shift.level_shift,
    mix_shift.code_mix_shift,
    CASE WHEN recent.prev3 > 0 THEN recent.last3 / recent.prev3 - 1 END AS recent_growth
FROM recent
LEFT JOIN shift ON shift.fixmedins_code = recent.fixmedins_code
LEFT JOIN mix_shift ON mix_shift.fixmedins_code = recent.fixmedins_code
