-- Rule kind: duplicate_line (重复收费: the same line twice)
-- Grain: one row per copy after the first of a fee line repeated identically in one visit: same item,
--        same time, same quantity, same unit price.
-- Parameters: list_types (codes: catalogue types judged, e.g. 201 services, 301 consumables).
-- Method: a group-by finds the repeated keys first (cheap), only those lines are numbered.
-- Amount at risk: the repeated line's amount.
WITH repeated_keys AS (
    SELECT mdtrt_id, med_list_codg, fee_ocur_time, cnt, pric, COUNT(*) AS n_copies
    FROM fee_list_d
    WHERE cnt > 0 AND list_type IN $list_types
    GROUP BY mdtrt_id, med_list_codg, fee_ocur_time, cnt, pric
    HAVING COUNT(*) >= 2
),

copies AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg, k.n_copies,
        ROW_NUMBER() OVER (
            PARTITION BY f.mdtrt_id, f.med_list_codg, f.fee_ocur_time, f.cnt, f.pric
            ORDER BY f.feedetl_sn
        ) AS copy_no
    FROM fee_list_d AS f
    INNER JOIN repeated_keys AS k
        ON f.mdtrt_id = k.mdtrt_id
        AND f.med_list_codg = k.med_list_codg
        AND f.fee_ocur_time = k.fee_ocur_time
        AND f.cnt = k.cnt
        AND f.pric = k.pric
    WHERE f.list_type IN $list_types
),

hits AS (
    SELECT
        d.fixmedins_code,
        d.mdtrt_id,
        d.feedetl_sn,
        d.psn_no,
        d.bilg_dr_codg AS dr_code,
        d.fee_ocur_time AS event_time,
        d.med_list_codg,
        d.det_item_fee_sumamt AS amount_at_risk,
        c.name AS item_name,
        d.n_copies,
        d.copy_no
    FROM copies AS d
    LEFT JOIN catalog AS c ON d.med_list_codg = c.med_list_codg
    WHERE d.copy_no > 1
)

SELECT
    ${evidence_select}
FROM hits AS h
