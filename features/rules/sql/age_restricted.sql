-- Rule kind: age_restricted (限儿童 / 限年龄)
-- Grain: one row per fee line of an age-restricted catalogue item (catalog.lmt_age_min/max) billed in
--        a visit whose patient's age (mdtrt_d.age) lies outside the range by more than the tolerance.
-- Parameters: check_max (bool: judge the upper bound, e.g. paediatric items), check_min (bool: judge
--        the lower bound), tolerance_years (int). Amount at risk: the line amount.
WITH restricted_items AS (
    SELECT med_list_codg, lmt_age_min, lmt_age_max
    FROM catalog
    WHERE ($check_max AND lmt_age_max IS NOT NULL) OR ($check_min AND lmt_age_min IS NOT NULL)
),

flagged AS (
    SELECT
        l.*,
        l.det_item_fee_sumamt AS amount_at_risk,
        v.age,
        CASE
            WHEN r.lmt_age_min IS NULL THEN CONCAT(CAST(r.lmt_age_max AS VARCHAR), '岁及以下')
            WHEN r.lmt_age_max IS NULL THEN CONCAT(CAST(r.lmt_age_min AS VARCHAR), '岁及以上')
            ELSE CONCAT(CAST(r.lmt_age_min AS VARCHAR), '–', CAST(r.lmt_age_max AS VARCHAR), '岁')
        END AS age_range
    FROM rule_lines AS l
    INNER JOIN restricted_items AS r ON l.med_list_codg = r.med_list_codg
    INNER JOIN mdtrt_d AS v ON l.mdtrt_id = v.mdtrt_id
    WHERE
        ($check_max AND v.age > r.lmt_age_max + $tolerance_years)
        OR ($check_min AND v.age < r.lmt_age_min - $tolerance_years)
)
