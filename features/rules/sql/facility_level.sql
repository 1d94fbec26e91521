-- Rule kind: facility_level (限医疗机构级别)
-- Grain: one row per fee line of an item restricted to facilities of a minimum tier
--        (catalog.min_hosp_lv_tier, 1–3) billed by a facility of a lower tier (rule_facilities:
--        fixmedins.hosp_lv folded into tiers by schema.HOSP_TIER; 未定级 is tier 0).
-- Parameters: none. Amount at risk: the line amount.
WITH restricted_items AS (
    SELECT med_list_codg, min_hosp_lv_tier AS min_tier
    FROM catalog
    WHERE min_hosp_lv_tier IS NOT NULL AND min_hosp_lv_tier > 0
),

flagged AS (
    SELECT l.*, l.det_item_fee_sumamt AS amount_at_risk, i.min_tier, t.facility_tier, t.hosp_lv_name
    FROM rule_lines AS l
    INNER JOIN restricted_items AS i ON l.med_list_codg = i.med_list_codg
    INNER JOIN rule_facilities AS t ON l.fixmedins_code = t.fixmedins_code
    WHERE t.facility_tier < i.min_tier
)
