-- Rule kind: diagnosis_gender (诊断与性别不符)
-- Grain: one row per visit whose main diagnosis (mdtrt_d.dscg_maindiag_code, ICD-10) is specific to
--        one sex while the patient is recorded as the other (unknown sexes are not judged).
-- Parameters: female_only, male_only (icd3: 3-character codes or ranges, e.g. O00-O99, N70-N98;
--        N40-N51, C61), written into the query as predicates over diag3.
-- Amount at risk: the visit's fund payment.
WITH flagged AS (
    SELECT
        v.*,
        v.dscg_maindiag_code AS diag,
        CASE v.gend WHEN '1' THEN '男' ELSE '女' END AS gend_name,
        CASE WHEN ${female_only} THEN '女性' ELSE '男性' END AS diag_sex
    FROM rule_visits AS v
    WHERE v.gend IN ('1', '2') AND v.dscg_maindiag_code IS NOT NULL
        AND ((v.gend = '1' AND ${female_only}) OR (v.gend = '2' AND ${male_only}))
)
