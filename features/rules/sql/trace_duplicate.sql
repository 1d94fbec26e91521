-- Rule kind: trace_duplicate (追溯码重复结算)
-- Grain: one row per fee line carrying a drug trace code (fee_list_d.trace_code) that an earlier fee
--        line already settled; the first settlement is not a hit, every later one is.
-- Parameters: none.
-- Method: a group-by finds repeated codes first, only their lines are ordered.
-- Amount at risk: the later line's amount.
WITH repeated_codes AS (
    SELECT trace_code, COUNT(*) AS n_settled
    FROM rule_lines
    WHERE trace_code IS NOT NULL AND trace_code <> ''
    GROUP BY trace_code
    HAVING COUNT(*) >= 2
),

settlements AS (
    SELECT
        l.*, r.n_settled,
        ROW_NUMBER() OVER (PARTITION BY l.trace_code ORDER BY l.fee_ocur_time, l.feedetl_sn) AS settle_no,
        FIRST_VALUE(l.fixmedins_code) OVER (
            PARTITION BY l.trace_code ORDER BY l.fee_ocur_time, l.feedetl_sn
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS first_fixmedins,
        MIN(l.fee_ocur_time) OVER (PARTITION BY l.trace_code) AS first_date
    FROM rule_lines AS l
    INNER JOIN repeated_codes AS r ON l.trace_code = r.trace_code
),

flagged AS (
    SELECT *, det_item_fee_sumamt AS amount_at_risk FROM settlements WHERE settle_no > 1
)
