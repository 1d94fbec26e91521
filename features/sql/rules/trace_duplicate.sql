-- Rule kind: trace_duplicate (追溯码重复结算)
-- Grain: one row per fee line carrying a drug trace code (fee_list_d.trace_code) that an earlier fee
--        line already settled; the first settlement is not a hit, every later one is.
-- Parameters: none.
-- Method: a group-by finds repeated codes first, only their lines are ordered.
-- Amount at risk: the later line's amount.
WITH repeated_codes AS (
    SELECT trace_code, COUNT(*) AS n_settled
    FROM fee_list_d
    WHERE trace_code IS NOT NULL AND trace_code <> '' AND cnt > 0
    GROUP BY trace_code
    HAVING COUNT(*) >= 2
),

settlements AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg, f.trace_code, r.n_settled,
        ROW_NUMBER() OVER (PARTITION BY f.trace_code ORDER BY f.fee_ocur_time, f.feedetl_sn) AS settle_no,
        FIRST_VALUE(f.fixmedins_code) OVER (
            PARTITION BY f.trace_code ORDER BY f.fee_ocur_time, f.feedetl_sn
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS first_fixmedins,
        MIN(f.fee_ocur_time) OVER (PARTITION BY f.trace_code) AS first_date
    FROM fee_list_d AS f
    INNER JOIN repeated_codes AS r ON f.trace_code = r.trace_code
    WHERE f.cnt > 0
),

hits AS (
    SELECT
        s.fixmedins_code,
        s.mdtrt_id,
        s.feedetl_sn,
        s.psn_no,
        s.bilg_dr_codg AS dr_code,
        s.fee_ocur_time AS event_time,
        s.med_list_codg,
        s.det_item_fee_sumamt AS amount_at_risk,
        c.name AS item_name,
        s.trace_code,
        s.n_settled,
        s.settle_no,
        s.first_fixmedins,
        s.first_date
    FROM settlements AS s
    LEFT JOIN catalog AS c ON s.med_list_codg = c.med_list_codg
    WHERE s.settle_no > 1
)

SELECT
    ${evidence_select}
FROM hits AS h
