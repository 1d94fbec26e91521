-- Rule kind: days_supply (超量开药)
-- Grain: one row per drug fee line when the visit's units of that drug on that day cover more days
--        than the catalogue allows (Σcnt × catalog.days_per_unit > catalog.max_days_supply + tolerance).
-- Parameters: tolerance_days (number).
-- Amount at risk: the line's share of the days above the limit (line amount × excess / supply).
WITH dosed_items AS (
    SELECT med_list_codg, days_per_unit, max_days_supply
    FROM catalog
    WHERE days_per_unit IS NOT NULL AND days_per_unit > 0 AND max_days_supply IS NOT NULL
),

drug_lines AS (
    SELECT
        l.*, i.days_per_unit, i.max_days_supply,
        SUM(l.cnt) OVER (PARTITION BY l.mdtrt_id, l.med_list_codg, l.fee_day) AS total_cnt
    FROM rule_lines AS l
    INNER JOIN dosed_items AS i ON l.med_list_codg = i.med_list_codg
),

flagged AS (
    SELECT
        *,
        det_item_fee_sumamt * (total_cnt * days_per_unit - max_days_supply) / (total_cnt * days_per_unit)
            AS amount_at_risk,
        total_cnt * days_per_unit AS supply_days
    FROM drug_lines
    WHERE total_cnt * days_per_unit > max_days_supply + $tolerance_days
)
