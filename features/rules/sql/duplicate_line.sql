-- Rule kind: duplicate_line (重复收费: the same line twice)
-- Grain: one row per copy after the first of a fee line repeated identically in one visit: same item,
--        same time, same quantity, same unit price.
-- Parameters: list_types (codes: catalogue types judged, e.g. 201 services, 301 consumables).
-- Method: a group-by finds the repeated keys first (cheap), only those lines are numbered.
-- Amount at risk: the repeated line's amount.
WITH repeated_keys AS (
    SELECT mdtrt_id, med_list_codg, fee_ocur_time, cnt, pric, COUNT(*) AS n_copies
    FROM rule_lines
    WHERE list_type IN $list_types
    GROUP BY mdtrt_id, med_list_codg, fee_ocur_time, cnt, pric
    HAVING COUNT(*) >= 2
),

copies AS (
    SELECT
        l.*, k.n_copies,
        ROW_NUMBER() OVER (
            PARTITION BY l.mdtrt_id, l.med_list_codg, l.fee_ocur_time, l.cnt, l.pric
            ORDER BY l.feedetl_sn
        ) AS copy_no
    FROM rule_lines AS l
    INNER JOIN repeated_keys AS k
        ON l.mdtrt_id = k.mdtrt_id
        AND l.med_list_codg = k.med_list_codg
        AND l.fee_ocur_time = k.fee_ocur_time
        AND l.cnt = k.cnt
        AND l.pric = k.pric
    WHERE l.list_type IN $list_types
),

flagged AS (
    SELECT *, det_item_fee_sumamt AS amount_at_risk FROM copies WHERE copy_no > 1
)
