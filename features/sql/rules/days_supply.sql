-- Rule kind: days_supply (超量开药)
-- Grain: one row per drug fee line when the visit's units of that drug on that day cover more days
--        than the catalogue allows (Σcnt × catalog.days_per_unit > catalog.max_days_supply + tolerance).
-- Parameters: tolerance_days (number).
-- Amount at risk: the line's share of the days above the limit (line amount × excess / supply).
WITH dosed_items AS (
    SELECT med_list_codg, name AS item_name, days_per_unit, max_days_supply
    FROM catalog
    WHERE days_per_unit IS NOT NULL AND days_per_unit > 0 AND max_days_supply IS NOT NULL
),

drug_lines AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.cnt, f.det_item_fee_sumamt, f.bilg_dr_codg, i.item_name, i.days_per_unit, i.max_days_supply,
        SUM(f.cnt) OVER (
            PARTITION BY f.mdtrt_id, f.med_list_codg, CAST(f.fee_ocur_time AS DATE)
        ) AS total_cnt
    FROM fee_list_d AS f
    INNER JOIN dosed_items AS i ON f.med_list_codg = i.med_list_codg
    WHERE f.cnt > 0
),

hits AS (
    SELECT
        fixmedins_code,
        mdtrt_id,
        feedetl_sn,
        psn_no,
        bilg_dr_codg AS dr_code,
        fee_ocur_time AS event_time,
        med_list_codg,
        det_item_fee_sumamt * (total_cnt * days_per_unit - max_days_supply) / (total_cnt * days_per_unit)
            AS amount_at_risk,
        item_name,
        total_cnt * days_per_unit AS supply_days,
        max_days_supply,
        total_cnt
    FROM drug_lines
    WHERE total_cnt * days_per_unit > max_days_supply + $tolerance_days
)

SELECT
    ${evidence_select}
FROM hits AS h
