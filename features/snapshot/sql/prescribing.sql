-- Family: prescribing. Grain: one row per facility × as_of.
-- Reads stg_visit + stg_visit_fee (days of supply, over-supply lines) and the rule evidence table
-- `evidence` (duplicate trace codes are the rule base's kind `trace_duplicate`), and win_fee for the
-- denominator of traced drug lines.
WITH v AS (
    SELECT s.fixmedins_code, s.psn_no, f.days_supply, f.n_drug_lines, f.n_over_supply
    FROM stg_visit AS s
    JOIN stg_visit_fee AS f ON f.mdtrt_id = s.mdtrt_id
    WHERE s.in_win
),
traced AS (
    SELECT fixmedins_code, COUNT(*) AS n_traced
    FROM win_fee
    WHERE trace_code IS NOT NULL AND fee_ocur_time >= $window_start AND fee_ocur_time < $as_of
    GROUP BY fixmedins_code
),
dup AS (
    SELECT fixmedins_code, COUNT(*) AS n_dup
    FROM evidence
    WHERE kind = 'trace_duplicate'
    GROUP BY fixmedins_code
)
SELECT
    v.fixmedins_code,
    SUM(v.days_supply) / NULLIF(CAST(COUNT(DISTINCT CASE WHEN v.n_drug_lines > 0 THEN v.psn_no END) AS DOUBLE), 0)
        AS days_supply_per_patient,
    SUM(v.n_over_supply) / NULLIF(CAST(SUM(v.n_drug_lines) AS DOUBLE), 0) AS over_supply_line_share,
    MAX(COALESCE(dup.n_dup, 0)) / NULLIF(CAST(MAX(traced.n_traced) AS DOUBLE), 0) AS trace_dup_share
FROM v
LEFT JOIN traced ON traced.fixmedins_code = v.fixmedins_code
LEFT JOIN dup ON dup.fixmedins_code = v.fixmedins_code
GROUP BY v.fixmedins_code
