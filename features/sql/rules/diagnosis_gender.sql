-- Rule kind: diagnosis_gender (诊断与性别不符)
-- Grain: one row per visit whose main diagnosis (mdtrt_d.dscg_maindiag_code, ICD-10) is specific to
--        one sex while the patient is recorded as the other (unknown sexes are not judged).
-- Parameters: female_only, male_only (icd3: 3-character codes or ranges, e.g. O00-O99, N70-N98;
--        N40-N51, C61), rendered as predicates over diag3.
-- Amount at risk: the visit's fund payment.
WITH visits AS (
    SELECT
        mdtrt_id, psn_no, fixmedins_code, begntime, atddr_no, gend, dscg_maindiag_code,
        SUBSTRING(UPPER(dscg_maindiag_code), 1, 3) AS diag3
    FROM mdtrt_d
    WHERE gend IN ('1', '2') AND dscg_maindiag_code IS NOT NULL
),

flagged AS (
    SELECT
        v.*,
        CASE WHEN ${female_only} THEN '女性' ELSE '男性' END AS diag_sex
    FROM visits AS v
    WHERE (v.gend = '1' AND ${female_only}) OR (v.gend = '2' AND ${male_only})
),

${visit_fund_cte}

hits AS (
    SELECT
        m.fixmedins_code,
        m.mdtrt_id,
        m.psn_no,
        m.atddr_no AS dr_code,
        m.begntime AS event_time,
        COALESCE(f.fund_amt, 0) AS amount_at_risk,
        m.dscg_maindiag_code AS diag,
        CASE m.gend WHEN '1' THEN '男' ELSE '女' END AS gend_name,
        m.diag_sex
    FROM flagged AS m
    LEFT JOIN visit_fund AS f ON m.mdtrt_id = f.mdtrt_id
)

SELECT
    ${evidence_select}
FROM hits AS h
