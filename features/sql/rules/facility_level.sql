-- Rule kind: facility_level (限医疗机构级别)
-- Grain: one row per fee line of an item restricted to facilities of a minimum tier
--        (catalog.min_hosp_lv_tier, 1–3) billed by a facility of a lower tier (fixmedins.hosp_lv
--        folded into tiers by schema.HOSP_TIER; 未定级 is tier 0).
-- Parameters: none. Amount at risk: the line amount.
WITH restricted_items AS (
    SELECT med_list_codg, name AS item_name, min_hosp_lv_tier AS min_tier
    FROM catalog
    WHERE min_hosp_lv_tier IS NOT NULL AND min_hosp_lv_tier > 0
),

facility_tiers AS (
    SELECT
        fm.fixmedins_code,
        ${hosp_tier_case} AS facility_tier,
        ${hosp_lv_name_case} AS hosp_lv_name
    FROM fixmedins AS fm
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
        f.det_item_fee_sumamt AS amount_at_risk,
        i.item_name,
        i.min_tier,
        t.facility_tier,
        t.hosp_lv_name
    FROM fee_list_d AS f
    INNER JOIN restricted_items AS i ON f.med_list_codg = i.med_list_codg
    INNER JOIN facility_tiers AS t ON f.fixmedins_code = t.fixmedins_code
    WHERE f.cnt > 0 AND t.facility_tier < i.min_tier
)

SELECT
    ${evidence_select}
FROM hits AS h
