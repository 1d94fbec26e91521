-- Rule kind: gender_restricted (限性别)
-- Grain: one row per fee line of a sex-restricted catalogue item (catalog.lmt_gend 1/2) billed in a
--        visit whose patient is recorded as the other sex. Unknown sexes (0/9) are not judged.
-- Parameters: none. Amount at risk: the line amount.
WITH restricted_items AS (
    SELECT med_list_codg, name AS item_name, lmt_gend
    FROM catalog
    WHERE lmt_gend IN ('1', '2')
),

restricted_lines AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg, r.item_name, r.lmt_gend
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
        CASE v.gend WHEN '1' THEN '男' ELSE '女' END AS gend_name,
        CASE l.lmt_gend WHEN '1' THEN '男' ELSE '女' END AS lmt_gend_name
    FROM restricted_lines AS l
    INNER JOIN mdtrt_d AS v ON l.mdtrt_id = v.mdtrt_id
    WHERE v.gend IN ('1', '2') AND v.gend <> l.lmt_gend
)

SELECT
    ${evidence_select}
FROM hits AS h
