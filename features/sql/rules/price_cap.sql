-- Rule kind: price_cap (超限定单价收费)
-- Grain: one row per fee line whose unit price exceeds the catalogue cap (catalog.price_cap) by more
--        than the tolerance. A price at the cap is compliant.
-- Parameters: tolerance_ratio (number: 0.05 allows 5 % above the cap, for rounding).
-- Amount at risk: (unit price − cap) × quantity.
WITH capped_items AS (
    SELECT med_list_codg, name AS item_name, price_cap
    FROM catalog
    WHERE price_cap IS NOT NULL
),

hits AS (
    SELECT
        f.fixmedins_code,
        f.mdtrt_id,
        f.feedetl_sn,
        f.psn_no,
        f.bilg_dr_codg AS dr_code,
        f.fee_ocur_time AS event_time,
        f.med_list_codg,
        (f.pric - i.price_cap) * f.cnt AS amount_at_risk,
        i.item_name,
        f.pric,
        i.price_cap,
        f.cnt
    FROM fee_list_d AS f
    INNER JOIN capped_items AS i ON f.med_list_codg = i.med_list_codg
    WHERE f.cnt > 0 AND f.pric > i.price_cap * (1 + $tolerance_ratio)
)

SELECT
    ${evidence_select}
FROM hits AS h
