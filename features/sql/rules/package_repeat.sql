-- Rule kind: package_repeat (重复收费: a package item and one of its components)
-- Grain: one row per fee line of a package component (catalog.package_codg = the package's code)
--        billed in the same visit on the same day as the package itself; the package already pays
--        for the component.
-- Parameters: none. Amount at risk: the component line's amount.
-- Method: lines of packages and components share a key (the package code); a window over
--        visit × day × key tells each component line whether its package was billed too.
WITH components AS (
    SELECT c.med_list_codg, c.name AS item_name, c.package_codg, 0 AS is_package
    FROM catalog AS c
    WHERE c.package_codg IS NOT NULL
),

packages AS (
    SELECT c.med_list_codg, c.name AS item_name, c.med_list_codg AS package_codg, 1 AS is_package
    FROM catalog AS c
    WHERE c.med_list_codg IN (SELECT package_codg FROM components)
),

package_items AS (
    SELECT * FROM components
    UNION ALL
    SELECT * FROM packages
),

package_lines AS (
    SELECT
        f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.fee_ocur_time, f.med_list_codg,
        f.det_item_fee_sumamt, f.bilg_dr_codg, p.item_name, p.package_codg, p.is_package,
        CAST(f.fee_ocur_time AS DATE) AS fee_date
    FROM fee_list_d AS f
    INNER JOIN package_items AS p ON f.med_list_codg = p.med_list_codg
    WHERE f.cnt > 0
),

flagged AS (
    SELECT
        l.*,
        MAX(l.is_package) OVER (PARTITION BY l.mdtrt_id, l.fee_date, l.package_codg) AS package_billed
    FROM package_lines AS l
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
        f.item_name,
        p.item_name AS package_name,
        f.package_codg
    FROM flagged AS f
    INNER JOIN packages AS p ON f.package_codg = p.med_list_codg
    WHERE f.is_package = 0 AND f.package_billed = 1
)

SELECT
    ${evidence_select}
FROM hits AS h
