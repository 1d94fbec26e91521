-- Rule kind: age_restricted (限儿童 / 限年龄)
-- Grain: one row per fee line of an age-restricted catalogue item (catalog.lmt_age_min/max) billed in
--        a visit whose patient's age (mdtrt_d.age) lies outside the range by more than the tolerance.
-- Parameters: check_max (bool: judge the upper bound, e.g. paediatric items), check_min (bool: judge
--        the lower bound), tolerance_years (int). Amount at risk: the line amount.
WITH restricted_items AS (
    SELECT med_list_codg, name AS item_name, lmt_age_min, lmt_age_max
    FROM catalog
    WHERE ($check_max AND lmt_age_max IS NOT NULL) OR ($check_min AND lmt_age_min IS NOT NULL)
),

restricted_lines AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg, r.item_name, r.lmt_age_min, r.lmt_age_max
    FROM fee_list_d AS f
    INNER JOIN restricted_items AS r ON f.med_list_codg = r.med_list_codg
    WHERE f.cnt > 0
),

hits AS (
    SELECT
        l.fixmedins_code,
        l.mdtrt_id,
        l.feedetl_sn,
        l.psn_no,
        l.bilg_dr_codg AS dr_code,
        l.fee_ocur_time AS event_time,
        l.med_list_codg,
        l.det_item_fee_sumamt AS amount_at_risk,
        l.item_name,
        v.age,
        CASE
            WHEN l.lmt_age_min IS NULL THEN CONCAT(CAST(l.lmt_age_max AS VARCHAR), '岁及以下')
            WHEN l.lmt_age_max IS NULL THEN CONCAT(CAST(l.lmt_age_min AS VARCHAR), '岁及以上')
            ELSE CONCAT(CAST(l.lmt_age_min AS VARCHAR), '–', CAST(l.lmt_age_max AS VARCHAR), '岁')
        END AS age_range
    FROM restricted_lines AS l
    INNER JOIN mdtrt_d AS v ON l.mdtrt_id = v.mdtrt_id
    WHERE
        ($check_max AND v.age > l.lmt_age_max + $tolerance_years)
        OR ($check_min AND v.age < l.lmt_age_min - $tolerance_years)
)

SELECT
    ${evidence_select}
FROM hits AS h
