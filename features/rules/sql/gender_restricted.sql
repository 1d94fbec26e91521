-- Rule kind: gender_restricted (限性别)
-- Grain: one row per fee line of a sex-restricted catalogue item (catalog.lmt_gend 1/2) billed in a
--        visit whose patient is recorded as the other sex. Unknown sexes (0/9) are not judged.
-- Parameters: none. Amount at risk: the line amount.
WITH restricted_items AS (
    SELECT med_list_codg, lmt_gend
    FROM catalog
    WHERE lmt_gend IN ('1', '2')
),

flagged AS (
    SELECT
        l.*,
        l.det_item_fee_sumamt AS amount_at_risk,
        CASE v.gend WHEN '1' THEN '男' ELSE '女' END AS gend_name,
        CASE r.lmt_gend WHEN '1' THEN '男' ELSE '女' END AS lmt_gend_name
    FROM rule_lines AS l
    INNER JOIN restricted_items AS r ON l.med_list_codg = r.med_list_codg
    INNER JOIN mdtrt_d AS v ON l.mdtrt_id = v.mdtrt_id
    WHERE v.gend IN ('1', '2') AND v.gend <> r.lmt_gend
)
